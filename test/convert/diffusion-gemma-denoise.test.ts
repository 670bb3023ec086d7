// DiffusionGemma through the Denoise node: workflows/diffusiongemma.maskflow.json on the converted
// tiny checkpoint, from the CLI as a user runs it, equals transformers' loop (the fixture's
// transcription) token for token with the seed and with the draws replayed from a file; the
// progress events carry what the denoising view shows (kept positions, entropies, the stop
// signals), step for step as the reference; the chat template comes from chat_template.jinja; and
// every masked-model setting is refused on its own input.
import { spawnSync } from "node:child_process";
import { cpSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { convertCheckpoint } from "../../engine/dllm/convert/index.js";
import { readModelFolder } from "../../engine/dllm/model-folder.js";
import { Executor, NodeRegistry, loadWorkflowFile, type RunEvent } from "../../engine/index.js";
import { builtinNodes } from "../../nodes/index.js";
import { FIXTURES, ROOT, tempDir } from "./helpers.js";

interface RefStep {
  accepted: number[];
  argmax: number[];
  stable: boolean;
  confident: boolean;
}
interface Case {
  name: string;
  prompt_ids: number[];
  seed: number;
  options: { max_new_tokens: number; max_denoising_steps: number; entropy_bound: number; stability_threshold: number; confidence_threshold: number; stop_token_ids: number[] };
  tokens: number[];
  trace: { canvas: number; steps: RefStep[] }[];
  draws?: string;
}
const fx = JSON.parse(readFileSync(join(FIXTURES, "diffusion-gemma.json"), "utf8")) as { generate: Case[] };
const [released, wide] = fx.generate;
const WORKFLOW = join(ROOT, "workflows", "diffusiongemma.maskflow.json");
// The Gemma 4 turn format (the reference's section 6), as a checkpoint's chat_template.jinja would render it.
const TEMPLATE = "{{ bos_token }}{% for m in messages %}<|turn>{{ m.role }}\n{{ m.content }}<turn|>\n{% endfor %}{% if add_generation_prompt %}<|turn>model\n{% endif %}";

const tmp = tempDir();
let dir: string;
let promptText: (c: Case) => string;

beforeAll(async () => {
  const ckpt = join(tmp.dir, "checkpoint");
  cpSync(join(FIXTURES, "diffusion-gemma-tiny"), ckpt, { recursive: true });
  writeFileSync(join(ckpt, "chat_template.jinja"), TEMPLATE);
  dir = (await convertCheckpoint(ckpt, { out: join(tmp.dir, "dg-fp32"), dtype: "fp32" })).dir;
  const tok = readModelFolder(dir).tokenizer;
  promptText = (c) => {
    const text = tok.decode(c.prompt_ids);
    expect(tok.encode(text), "the fixture's prompt ids round-trip through text").toEqual(c.prompt_ids);
    return text;
  };
});
const executor = new Executor(new NodeRegistry(builtinNodes));
afterAll(async () => {
  await executor.clearCache?.();
  tmp.cleanup();
});

const settings = (c: Case, extra: Record<string, unknown> = {}) => ({
  "model.path": dir,
  "model.threads": 1,
  "prompt.chat": false,
  "prompt.text": promptText(c),
  "denoise.gen_length": c.options.max_new_tokens,
  "denoise.seed": c.seed,
  "denoise.entropy_bound": c.options.entropy_bound,
  "denoise.stability_threshold": c.options.stability_threshold,
  "denoise.confidence_threshold": c.options.confidence_threshold,
  "schedule.steps": c.options.max_denoising_steps,
  ...extra,
});

function cli(overrides: Record<string, unknown>) {
  const sets = Object.entries(overrides).flatMap(([k, v]) => ["--set", `${k}=${typeof v === "string" ? v : JSON.stringify(v)}`]);
  const r = spawnSync(process.execPath, [join(ROOT, "bin", "maskflow.js"), "run", WORKFLOW, ...sets, "--json"], { cwd: tmp.dir, encoding: "utf8", env: { ...process.env, FORCE_COLOR: "0" }, timeout: 120_000 });
  return { code: r.status, out: JSON.parse(r.stdout), stderr: r.stderr };
}

describe("DiffusionGemma through Denoise (workflows/diffusiongemma.maskflow.json)", () => {
  it("from the CLI: transformers' loop token for token, two canvases of 8, with the seed and with the draws replayed from a file", () => {
    const seeded = cli(settings(released));
    expect(seeded.code, seeded.stderr).toBe(0);
    expect(seeded.out.outputs.show.tokens).toEqual(released.tokens);
    expect(seeded.out.outputs.show.trace).toHaveLength(released.trace.reduce((n, k) => n + k.steps.length, 0));
    // another seed, but every draw from the recorded file: the same run
    const replayed = cli(settings(released, { "denoise.seed": 5, "denoise.draws": join(FIXTURES, released.draws!) }));
    expect(replayed.code, replayed.stderr).toBe(0);
    expect(replayed.out.outputs.show.tokens).toEqual(released.tokens);
    const other = cli(settings(released, { "denoise.seed": 5 }));
    expect(other.out.outputs.show.tokens).not.toEqual(released.tokens);
  });

  it("the progress events carry the settling view's data, step for step as the reference: kept positions, the argmax canvas, entropies, the stop signals", async () => {
    const events: RunEvent[] = [];
    const o = wide.options;
    const r = await executor.run(await loadWorkflowFile(WORKFLOW), {
      overrides: { ...settings(wide), "denoise.gen_length": o.max_new_tokens },
      onEvent: (e) => events.push(e),
    });
    expect(r.status, JSON.stringify(r.error)).toBe("finished");
    const steps = events.filter((e): e is Extract<RunEvent, { type: "progress" }> => e.type === "progress" && e.nodeId === "denoise" && e.canvas !== undefined);
    const ref = wide.trace.flatMap((k) => k.steps.map((s) => ({ ...s, canvas: k.canvas })));
    expect(steps).toHaveLength(ref.length);
    const L = 8;
    steps.forEach((e, i) => {
      const s = e.canvas!.settling!;
      expect(s.canvas).toBe(ref[i].canvas);
      expect(s.kept).toEqual(ref[i].accepted.map((p) => ref[i].canvas * L + p));
      expect(e.canvas!.changed).toEqual(s.kept);
      expect(e.canvas!.tokens.slice(s.canvasStart)).toEqual(ref[i].argmax);
      expect({ stable: s.stable, confident: s.confident }).toEqual({ stable: ref[i].stable, confident: ref[i].confident });
      expect(s.entropy).toHaveLength(L);
      expect(s.meanEntropy).toBeCloseTo(s.entropy.reduce((a, b) => a + b, 0) / L, 6);
      expect(e.canvas!.confidence.every((p) => p > 0 && p <= 1)).toBe(true);
      // the inspector's candidates: every position of this canvas, the tempered top 5, the first being the argmax
      const cands = e.canvas!.candidates!;
      expect(cands.map((k) => k.position)).toEqual([...Array(L).keys()].map((p) => s.canvasStart + p));
      cands.forEach((k, p) => {
        expect(k.ids[0]).toBe(ref[i].argmax[p]);
        expect(k.probs[0]).toBeCloseTo(e.canvas!.confidence[s.canvasStart + p], 6);
        expect([...k.probs].sort((a, b) => b - a)).toEqual(k.probs);
        expect(k.entropy).toBe(s.entropy[p]);
      });
    });
    // the canvases committed before the current one stay in view
    const lastCanvas = steps.at(-1)!.canvas!;
    expect(lastCanvas.tokens.slice(0, lastCanvas.settling!.canvasStart)).toEqual(wide.tokens.slice(0, lastCanvas.settling!.canvasStart));
    expect((r.outputs.show as { tokens: number[] }).tokens).toEqual(wide.tokens);
  });

  it("settling chosen positions again (Remask, then Denoise from the canvas): the others are pinned on every step, a wholly pinned canvas takes no step, the trace goes on", async () => {
    const doc = await loadWorkflowFile(WORKFLOW);
    doc.nodes.remask = { type: "Remask", inputs: { model: { from: "model", output: "model" }, canvas: { from: "denoise", output: "canvas" }, strategy: "positions", positions: "9-10, 13" } } as never;
    doc.nodes.again = { type: "Denoise", inputs: { model: { from: "model", output: "model" }, canvas: { from: "remask", output: "canvas" }, schedule: { from: "schedule", output: "schedule" }, seed: 3 } } as never;
    doc.nodes.show_again = { type: "ShowText", inputs: { value: { from: "again", output: "canvas" } } } as never;
    const events: RunEvent[] = [];
    const r = await executor.run(doc, { overrides: settings(released), onEvent: (e) => events.push(e) });
    expect(r.status, JSON.stringify(r.error)).toBe("finished");
    const first = r.outputs.show as { tokens: number[]; trace: unknown[] };
    const again = r.outputs.show_again as { tokens: number[]; trace: { note?: string }[]; fixed: boolean[] };
    expect(first.tokens).toEqual(released.tokens);
    const holes = [9, 10, 13];
    again.tokens.forEach((t, i) => {
      if (!holes.includes(i)) expect(t, `position ${i}`).toBe(first.tokens[i]);
    });
    // the first canvas (0-7) had no hole: committed as it was, without a step; the second settled again
    const steps = events.filter((e): e is Extract<RunEvent, { type: "progress" }> => e.type === "progress" && e.nodeId === "again" && e.canvas !== undefined);
    expect(steps.length).toBeGreaterThan(0);
    expect(again.trace.length).toBe(first.trace.length + 1 + steps.length); // the remask's entry, then the new steps
    for (const e of steps) {
      const snap = e.canvas!;
      expect(snap.settling!.canvas).toBe(1);
      expect(snap.tokens.slice(0, 8)).toEqual(first.tokens.slice(0, 8));
      for (let i = 8; i < 16; i++) if (!holes.includes(i)) expect(snap.tokens[i]).toBe(first.tokens[i]);
      expect(snap.fixed).toEqual([...Array(16).keys()].filter((i) => !holes.includes(i)));
      expect(snap.settling!.kept.every((p) => holes.includes(p))).toBe(true);
      expect(snap.at).toBe(first.trace.length + 1 + snap.step);
    }
  });

  it("the chat template comes from the checkpoint's chat_template.jinja", () => {
    const cfg = JSON.parse(readFileSync(join(dir, "tokenizer_config.json"), "utf8"));
    expect(cfg.chat_template).toBe(TEMPLATE);
    const r = cli({ ...settings(released), "prompt.chat": true, "prompt.text": "hi" });
    expect(r.code, r.stderr).toBe(0);
    expect(r.out.outputs.show.tokens).toHaveLength(16);
  });

  it("refuses each masked-model setting on its own input, a wrong schedule on the schedule, and a draws file from another run on draws", async () => {
    const bad: [Record<string, unknown>, string, RegExp][] = [
      [{ "denoise.remasking": "random" }, "remasking", /uniform-noise model .*: remasking has no meaning for it \(it keeps positions by entropy within entropy_bound/],
      [{ "denoise.temperature": 0.7 }, "temperature", /temperature has no meaning for it \(its temperature falls from t_max to t_min/],
      [{ "denoise.cfg_scale": 1 }, "cfg_scale", /cfg_scale has no meaning for it/],
      [{ "denoise.cache": "prefix" }, "cache", /cache has no meaning for it/],
      [{ "schedule.kind": "cosine" }, "schedule", /only a schedule's steps are used .*set the kind to linear, not "cosine"/],
      [{ "schedule.block_length": 4 }, "schedule", /whole canvases of 8 tokens \(its canvas length\); set block_length to 0/],
      [{ "denoise.t_min": 0.9 }, "t_min", /0 <= t_min < t_max \(got t_min 0.9, t_max 0.8\)/],
      [{ "denoise.gen_length": 4090 }, "gen_length", /512 canvases of 8 = \d+ tokens, more than the model's max_length/],
      [{ "denoise.draws": join(FIXTURES, released.draws!), "schedule.steps": 8 }, "draws", /draws\.json: draw \d+ is \w+ of 8, but the run wants \w+ of 8: the file is from another run/],
      [{ "denoise.draws": join(FIXTURES, "diffusion-gemma.json") }, "draws", /not a Maskflow canvas draws file/],
    ];
    const doc = await loadWorkflowFile(WORKFLOW);
    for (const [extra, input, message] of bad) {
      const r = await executor.run(doc, { overrides: settings(released, extra) });
      expect(r.status, JSON.stringify(extra)).toBe("failed");
      expect(r.error, JSON.stringify(extra)).toMatchObject({ nodeId: "denoise", input });
      expect(r.error!.message).toMatch(message);
    }
    // the CLI says the same, and exits 1
    const r = cli(settings(released, { "denoise.remasking": "random" }));
    expect(r.code).toBe(1);
    expect(r.out.error).toMatchObject({ nodeId: "denoise", input: "remasking" });
  });
});

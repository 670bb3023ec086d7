// The example workflows (workflows/edit, infill, beam) through the real executor and through the
// CLI: they run, and what they print shows what changed at which step.
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { Executor, NodeRegistry, loadWorkflowFile, type NodeDefinition, type RunEvent } from "../../engine/index.js";
import { builtinNodes } from "../../nodes/index.js";
import Beam from "../../nodes/beam.js";
import Infill from "../../nodes/infill.js";
import Pick from "../../nodes/pick.js";
import Remask from "../../nodes/remask.js";
import Score from "../../nodes/score.js";
import { cli } from "../cli/run-cli.js";
import { ROOT } from "./helpers.js";

const MINE: NodeDefinition[] = [Remask, Infill, Beam, Pick, Score];
const registered = MINE.every((d) => builtinNodes.some((b) => b.type === d.type));
const registry = new NodeRegistry([...builtinNodes, ...MINE.filter((d) => !builtinNodes.some((b) => b.type === d.type))]);
const executor = new Executor(registry);
afterAll(() => executor.clearCache());

interface Step {
  step: number;
  positions: number[];
  tokens: number[];
  remasked?: number[];
  note?: string;
}
interface Shown {
  text: string;
  tokens: number[];
  trace: Step[];
  score?: number;
}

const MASK = 1;

async function run(name: string, set: (doc: Awaited<ReturnType<typeof loadWorkflowFile>>) => void = () => {}) {
  const doc = await loadWorkflowFile(join(ROOT, "workflows", `${name}.maskflow.json`));
  set(doc);
  const events: RunEvent[] = [];
  const r = await executor.run(doc, { onEvent: (e) => events.push(e) });
  expect(r.status, JSON.stringify(r.error)).toBe("finished");
  return { outputs: r.outputs, events };
}

describe("example workflows", () => {
  it("edit: draft, remask the weakest 25%, rewrite only those", async () => {
    const { outputs } = await run("edit");
    const draft = outputs.show_draft as Shown;
    const final = outputs.show as Shown;
    expect(draft.tokens).toHaveLength(32);
    const at = final.trace.findIndex((s) => s.remasked);
    expect(at).toBe(draft.trace.length);
    const remask = final.trace[at];
    expect(remask.note).toMatch(/^Remask lowest_confidence 25%/);
    expect(remask.remasked).toHaveLength(8);
    // Steps after the remask commit exactly the remasked positions; every other token is the draft's.
    const rewritten = final.trace.slice(at + 1);
    expect(rewritten.map((s) => s.step)).toEqual(rewritten.map((_, i) => at + 1 + i));
    expect(rewritten.flatMap((s) => s.positions).sort((a, b) => a - b)).toEqual(remask.remasked);
    final.tokens.forEach((t, g) => {
      if (!remask.remasked!.includes(g)) expect(t).toBe(draft.tokens[g]);
    });
    expect(final.tokens).not.toContain(MASK);
  });

  it("infill: the template's text stays, the holes are filled step by step", async () => {
    const { outputs, events } = await run("infill");
    const shown = outputs.show as Shown;
    expect(shown.tokens).toHaveLength(1 + 6 + 2 + 10 + 1); // "The" [6] " said" " that" [10] "."
    const filled = shown.trace.flatMap((s) => s.positions).sort((a, b) => a - b);
    expect(filled).toEqual([...[1, 2, 3, 4, 5, 6], ...[9, 10, 11, 12, 13, 14, 15, 16, 17, 18]]);
    expect(shown.trace).toHaveLength(16);
    expect(events.filter((e) => e.type === "progress" && e.nodeId === "fill" && e.canvas)).toHaveLength(16);
  });

  it("beam: four ranked beams batched together, the best picked and scored", async () => {
    const { outputs, events } = await run("beam");
    const beams = outputs.show_beams as { text: string[]; candidates: Shown[] };
    expect(beams.candidates.length).toBeGreaterThan(1);
    expect(beams.candidates.length).toBeLessThanOrEqual(4);
    const scores = beams.candidates.map((c) => c.score!);
    expect(scores.every((s, i) => i === 0 || s <= scores[i - 1])).toBe(true);
    expect(beams.candidates.every((c) => c.trace.length === 24)).toBe(true);
    const best = outputs.show_best as Shown;
    expect(best.tokens).toEqual(beams.candidates[0].tokens);
    expect(best.score).toBeLessThan(0);
    expect(best.score).not.toBe(scores[0]); // the ELBO, not the path score
    // Progress carries one snapshot per beam per step.
    const snaps = events.filter((e): e is Extract<RunEvent, { type: "progress" }> => e.type === "progress" && e.nodeId === "beam" && e.canvas !== undefined);
    expect(snaps.length).toBeGreaterThanOrEqual(24);
    expect(new Set(snaps.map((s) => s.canvas?.beam))).toEqual(new Set([0, 1, 2, 3].slice(0, Math.max(...snaps.map((s) => s.canvas!.beam!)) + 1)));
  });

  it("Denoise with ReMDM and EOS stop through the node (trace shows remasked positions)", async () => {
    const { outputs } = await run("edit", (doc) => {
      Object.assign(doc.nodes.draft.inputs, { remdm: "rescale", remdm_eta: 0.3, eos_stop: true, temperature: 0.9 });
    });
    const draft = outputs.show_draft as Shown;
    expect(draft.trace.some((s) => (s.remasked ?? []).length > 0)).toBe(true);
    expect(draft.tokens).not.toContain(MASK);
  });

  it("Denoise with auto length through the node", async () => {
    const { outputs } = await run("edit", (doc) => {
      Object.assign(doc.nodes.draft.inputs, { length: "auto", initial_length: 8, gen_length: 40 });
      Object.assign(doc.nodes.schedule.inputs, { steps: 40 });
    });
    const draft = outputs.show_draft as Shown;
    expect(draft.tokens.length).toBeGreaterThanOrEqual(8);
    expect(draft.tokens.length).toBeLessThanOrEqual(40);
    expect(draft.trace[0].note).toMatch(/^auto length/);
  });

  it.skipIf(!registered)("the three workflows run from the CLI with --json", () => {
    for (const name of ["edit", "infill", "beam"]) {
      const r = cli(["run", `workflows/${name}.maskflow.json`, "--json"], { cwd: ROOT });
      expect(r.code, `${name}: ${r.stderr}`).toBe(0);
      const out = JSON.parse(r.stdout) as { status: string; outputs: Record<string, { trace?: Step[]; candidates?: Shown[] }> };
      expect(out.status).toBe("finished");
      const traces = Object.values(out.outputs).flatMap((o) => (o.trace ? [o.trace] : (o.candidates ?? []).map((c) => c.trace)));
      expect(traces.length).toBeGreaterThan(0);
      expect(traces.every((t) => t.length > 0 && t.every((s) => Number.isInteger(s.step) && Array.isArray(s.positions)))).toBe(true);
    }
  });
});

describe("editing nodes name the input at fault", () => {
  const model = { type: "LoadModel", inputs: { path: "models/default", device: "cpu" } };
  const link = (from: string, output: string) => ({ from, output });
  const draft = (extra: Record<string, unknown> = {}) => ({
    type: "Denoise",
    inputs: { model: link("model", "model"), prompt: "The man opened the door and", gen_length: 8, seed: 1, ...extra },
  });
  async function failure(nodes: Record<string, unknown>) {
    const r = await executor.run({ version: 1, nodes } as never);
    expect(r.status).toBe("failed");
    return r.error!;
  }

  it("Remask: bad positions, spans past the text", async () => {
    const base = { model, draft: draft(), show: { type: "ShowText", inputs: { value: link("remask", "canvas") } } };
    const remask = (inputs: Record<string, unknown>) => ({ type: "Remask", inputs: { canvas: link("draft", "canvas"), model: link("model", "model"), ...inputs } });
    expect(await failure({ ...base, remask: remask({ strategy: "positions", positions: "3, 99" }) })).toMatchObject({ nodeId: "remask", input: "positions" });
    expect(await failure({ ...base, remask: remask({ strategy: "spans", spans: "0:9999" }) })).toMatchObject({ nodeId: "remask", input: "spans" });
    expect(await failure({ ...base, remask: remask({ strategy: "lowest_confidence", amount: 2.5, unit: "fraction" }) })).toMatchObject({ nodeId: "remask", input: "amount" });
  });

  it("Infill without a hole, Pick out of range, Score of an unfinished canvas", async () => {
    const infill = (template: string) => ({ type: "Infill", inputs: { model: link("model", "model"), template } });
    expect(await failure({ model, infill: infill("no holes"), show: { type: "ShowText", inputs: { value: link("infill", "canvas") } } })).toMatchObject({
      nodeId: "infill",
      input: "template",
    });
    const beam = { type: "Beam", inputs: { model: link("model", "model"), prompt: "The man", gen_length: 4, width: 2 } };
    const pick = { type: "Pick", inputs: { canvases: link("beam", "canvases"), index: 9 } };
    expect(await failure({ model, beam, pick, show: { type: "ShowText", inputs: { value: link("pick", "canvas") } } })).toMatchObject({ nodeId: "pick", input: "index" });
    const score = { type: "Score", inputs: { model: link("model", "model"), canvas: link("infill", "canvas"), samples: 4 } };
    const r = await failure({ model, infill: infill("A [MASK:3] B"), score, show: { type: "ShowText", inputs: { value: link("score", "canvas") } } });
    expect(r).toMatchObject({ nodeId: "score", input: "canvas" });
    expect(r.message).toMatch(/still has masks/);
  });

  it("Denoise: auto length with a canvas, ReMDM with a dynamic schedule or the KV cache", async () => {
    const show = (id: string) => ({ type: "ShowText", inputs: { value: link(id, "canvas") } });
    const redo = (extra: Record<string, unknown>) => ({ type: "Denoise", inputs: { model: link("model", "model"), canvas: link("draft", "canvas"), ...extra } });
    expect(await failure({ model, draft: draft(), redo: redo({ length: "auto" }), show: show("redo") })).toMatchObject({ nodeId: "redo", input: "length" });
    const threshold = { type: "MaskSchedule", inputs: { kind: "threshold" } };
    expect(await failure({ model, threshold, draft: draft({ remdm: "cap", schedule: link("threshold", "schedule") }), show: show("draft") })).toMatchObject({
      nodeId: "draft",
      input: "remdm",
    });
    expect(await failure({ model, draft: draft({ eos_stop: true, cache: "prefix" }), show: show("draft") })).toMatchObject({ nodeId: "draft", input: "cache" });
  });
});

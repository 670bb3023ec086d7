// DiffusionGemma's entropy-bound sampler (engine/dllm/samplers/entropy-bound.ts) on the converted
// tiny checkpoint against a transcription of transformers' generation loop
// (models/reference/diffusion_gemma_generate.py) run on the reference forward: token for token and
// step for step (accepted positions, argmax canvases, re-drawn canvases, the stop signals,
// committed canvases, several canvases and a stop id), with the random draws from Maskflow's
// seeded generator (which the Python mirrors) and replayed from a recorded file.
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { convertCheckpoint } from "../../engine/dllm/convert/index.js";
import type { WorkerCanvas } from "../../engine/dllm/runtime/canvas-denoiser.js";
import { DllmModel } from "../../engine/dllm/runtime/model.js";
import {
  RecordedCanvasDraws,
  RecordingCanvasDraws,
  SeededCanvasDraws,
  entropyBoundDefaults,
  generateEntropyBound,
  type CanvasDraws,
  type EntropyBoundOptions,
} from "../../engine/dllm/samplers/entropy-bound.js";
import { FIXTURES, tempDir } from "./helpers.js";

interface RefStep {
  step: number;
  accepted: number[];
  argmax: number[];
  canvas: number[];
  stable: boolean;
  confident: boolean;
}
interface Case {
  name: string;
  prompt_ids: number[];
  seed: number;
  options: {
    max_new_tokens: number;
    max_denoising_steps: number;
    entropy_bound: number;
    t_max: number;
    t_min: number;
    stability_threshold: number;
    confidence_threshold: number;
    stop_token_ids: number[];
    pad_token_id: number;
  };
  tokens: number[];
  trace: { canvas: number; steps: RefStep[]; committed: number[]; finished: boolean }[];
  draws?: string;
}

const fx = JSON.parse(readFileSync(join(FIXTURES, "diffusion-gemma.json"), "utf8")) as { generate: Case[] };
const tmp = tempDir();
afterAll(() => tmp.cleanup());

const options = (o: Case["options"]): EntropyBoundOptions => ({
  maxNewTokens: o.max_new_tokens,
  maxDenoisingSteps: o.max_denoising_steps,
  entropyBound: o.entropy_bound,
  tMax: o.t_max,
  tMin: o.t_min,
  stabilityThreshold: o.stability_threshold,
  confidenceThreshold: o.confidence_threshold,
  stopIds: o.stop_token_ids,
  pad: o.pad_token_id,
});

describe("DiffusionGemma: the entropy-bound sampler against transformers' loop", () => {
  let loaded: DllmModel;
  let model: WorkerCanvas;
  beforeAll(async () => {
    const r = await convertCheckpoint(join(FIXTURES, "diffusion-gemma-tiny"), { out: join(tmp.dir, "fp32"), dtype: "fp32" });
    loaded = await DllmModel.load(r.dir, { threads: 1 });
    model = loaded.openCanvas();
  });
  afterAll(() => loaded?.dispose());

  const run = async (c: Case, draws: CanvasDraws) => {
    await model.reset();
    return generateEntropyBound(model, c.prompt_ids, options(c.options), draws);
  };
  const expectSame = (c: Case, out: Awaited<ReturnType<typeof run>>) => {
    expect(out.canvases.map((k) => ({ canvas: k.canvas, committed: k.committed, finished: k.finished, steps: k.steps.length }))).toEqual(
      c.trace.map((k) => ({ canvas: k.canvas, committed: k.committed, finished: k.finished, steps: k.steps.length })),
    );
    out.canvases.forEach((k, i) =>
      expect(k.steps.map(({ step, accepted, argmax, canvas, stable, confident }) => ({ step, accepted, argmax, canvas, stable, confident }))).toEqual(
        c.trace[i].steps.map(({ step, accepted, argmax, canvas, stable, confident }) => ({ step, accepted, argmax, canvas, stable, confident })),
      ),
    );
    expect(out.tokens).toEqual(c.tokens);
  };

  for (const c of fx.generate) {
    it(`${c.name}: token for token, step for step, with Maskflow's seeded draws`, async () => {
      const out = await run(c, new SeededCanvasDraws(c.seed));
      expectSame(c, out);
    });
  }

  it("pins that pin nothing give the released loop exactly; a pinned position holds its token on every step", async () => {
    const c = fx.generate[0];
    await model.reset();
    expectSame(c, await generateEntropyBound(model, c.prompt_ids, options(c.options), new SeededCanvasDraws(c.seed), {}, Array(16).fill(null)));
    await model.reset();
    const pins = Array<number | null>(16).fill(null);
    pins[3] = 777;
    pins[12] = 1234;
    const out = await generateEntropyBound(model, c.prompt_ids, options(c.options), new SeededCanvasDraws(c.seed), {}, pins);
    expect([out.tokens[3], out.tokens[12]]).toEqual([777, 1234]);
    for (const k of out.canvases) for (const s of k.steps) {
      const at = (p: number) => p - k.canvas * 8;
      for (const p of [3, 12]) if (at(p) >= 0 && at(p) < 8) {
        expect(s.canvas[at(p)]).toBe(pins[p]);
        expect(s.argmax[at(p)]).toBe(pins[p]);
        expect(s.accepted).not.toContain(at(p));
      }
    }
    await model.reset();
    await expect(generateEntropyBound(model, c.prompt_ids, options(c.options), new SeededCanvasDraws(1), {}, Array(12).fill(null))).rejects.toThrow(/pinned tokens cover 12 positions, not whole canvases of 8/);
  });

  it("what the fixture cases exercise: two and three canvases, early stops on confidence, several positions kept per step, a stop id and pad", () => {
    const [a, b, s] = fx.generate;
    expect(a.trace.map((k) => k.steps.length)).toEqual([16, 16]);
    expect(b.trace.length).toBe(3);
    expect(b.trace.some((k) => k.steps.length < b.options.max_denoising_steps && k.steps.at(-1)!.confident)).toBe(true);
    expect(Math.max(...b.trace.flatMap((k) => k.steps.map((t) => t.accepted.length)))).toBeGreaterThan(1);
    expect(s.trace.at(-1)!.finished).toBe(true);
    expect(s.tokens.slice(3)).toEqual(Array(s.tokens.length - 3).fill(s.options.pad_token_id));
  });

  it("replays a recorded draws file exactly, and Maskflow's generator records the same draws the Python mirror made", async () => {
    const c = fx.generate[0];
    const file = join(FIXTURES, c.draws!);
    const replay = RecordedCanvasDraws.fromFile(file);
    expectSame(c, await run(c, replay));
    expect(replay.unused).toBe(0);
    const recording = new RecordingCanvasDraws(new SeededCanvasDraws(c.seed));
    await run(c, recording);
    expect(recording.toJson(4160)).toEqual(JSON.parse(readFileSync(file, "utf8")));
  });

  it("the folder's recorded defaults are the released sampler's; bad settings and cancellation are refused clearly", async () => {
    const released = fx.generate[0].options;
    expect(entropyBoundDefaults(model.manifest)).toEqual({ ...options({ ...released, max_new_tokens: 256, max_denoising_steps: 48 }) });
    const c = fx.generate[2];
    await expect(run(c, new SeededCanvasDraws(1)).then(() => null)).resolves.toBeNull();
    await model.reset();
    await expect(generateEntropyBound(model, c.prompt_ids, { ...options(c.options), tMin: 0.9 }, new SeededCanvasDraws(1))).rejects.toThrow(/0 <= t_min < t_max \(got t_min 0.9, t_max 0.8\)/);
    const stop = new AbortController();
    stop.abort();
    await model.reset();
    await expect(generateEntropyBound(model, c.prompt_ids, options(c.options), new SeededCanvasDraws(1), { signal: stop.signal })).rejects.toThrow(/cancelled/);
  });

  it("a draws file from another run is refused, naming the draw", async () => {
    const c = fx.generate[0];
    const doc = JSON.parse(readFileSync(join(FIXTURES, c.draws!), "utf8"));
    doc.draws[1].u = doc.draws[1].u.slice(0, 3);
    const bad = join(tmp.dir, "bad.draws.json");
    writeFileSync(bad, JSON.stringify(doc));
    await expect(run(c, RecordedCanvasDraws.fromFile(bad))).rejects.toThrow(/bad\.draws\.json: draw 1 is sample of 3, but the run wants sample of 8: the file is from another run/);
  });
});

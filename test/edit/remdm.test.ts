// ReMDM remasking during sampling: eta = 0 is plain sampling token for token, eta > 0 matches the
// Python transcription (models/reference/edit_reference.py) step for step, fixed and given tokens
// survive, and the sigma rules are ReMDM's.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createCanvas, generate, type DllmModel, type SamplerOptions } from "../../engine/dllm/index.js";
import { generateExtended } from "../../engine/dllm/samplers/extended.js";
import { decodeTargets, loopAlpha, remdmSigmas, sigmaMax, type RemdmOptions } from "../../engine/dllm/samplers/remdm.js";
import { PROMPTS, REGENERATE_EDIT, editFixture, isStale, loadModel } from "./helpers.js";

const MASK = 1;

describe("ReMDM rules", () => {
  it("sigma_max and the cap / rescale / conf / loop sigmas", () => {
    expect(sigmaMax(0, 0.1)).toBe(1);
    expect(sigmaMax(0.5, 0.6)).toBeCloseTo(0.8, 15);
    expect(sigmaMax(0.1, 0.2)).toBe(1);
    // step 2 of 4: alpha_t = 0.5, alpha_s = 0.75, sigma_max = 0.5
    expect(remdmSigmas({ strategy: "cap", eta: 0.3 }, 2, 4, [0.1, 0.2])).toEqual([0.3, 0.3]);
    expect(remdmSigmas({ strategy: "cap", eta: 0.9 }, 2, 4, [0.1])).toEqual([0.5]);
    expect(remdmSigmas({ strategy: "rescale", eta: 0.5 }, 2, 4, [0.1])).toEqual([0.25]);
    const conf = remdmSigmas({ strategy: "conf", eta: 0 }, 2, 4, [0.9, 0.1, 0.5]);
    expect(conf.reduce((a, b) => a + b, 0)).toBeCloseTo(0.5, 12); // softmax sums to 1, times sigma_max
    expect(conf[1]).toBeGreaterThan(conf[2]);
    expect(conf[2]).toBeGreaterThan(conf[0]); // the least confident is remasked most often
    // The last step of a block never remasks: alpha_s = 1.
    for (const strategy of ["cap", "rescale", "conf"] as const) expect(remdmSigmas({ strategy, eta: 0.5 }, 3, 4, [0.3])).toEqual([0]);
    // loop: remask only while t_off < t <= t_on, t = (n - i)/n
    const loop: RemdmOptions = { strategy: "loop", eta: 0.02 };
    const active = Array.from({ length: 20 }, (_, i) => remdmSigmas(loop, i, 20, [0.5])[0] > 0);
    expect(active.map((a, i) => (a ? i : -1)).filter((i) => i >= 0)).toEqual([9, 10, 11, 12, 13, 14, 15, 16, 17, 18]);
    expect(loopAlpha(0.55, loop)).toBeCloseTo(0.9, 12);
    expect(loopAlpha(0.3, loop)).toBe(0.9);
    expect(loopAlpha(0, loop)).toBe(1);
  });

  it("decode targets: the schedule's cumulative counts; loop holds alpha_on in the middle", () => {
    expect(decodeTargets({ strategy: "cap", eta: 0.1 }, [4, 4, 3, 3], 14)).toEqual([4, 8, 11, 14]);
    const t = decodeTargets({ strategy: "loop", eta: 0.1 }, Array(20).fill(1), 20);
    expect(t.at(-1)).toBe(20);
    expect(t.slice(9, 19).every((v) => v === 18)).toBe(true); // 0.9 * 20
    expect(t.every((v, i) => i === 0 || v >= t[i - 1])).toBe(true);
  });
});

describe("ReMDM with the default model", () => {
  let model: DllmModel;
  beforeAll(async () => {
    model = await loadModel();
  });
  afterAll(() => model?.dispose());

  const settings: [string, Partial<SamplerOptions>, number][] = [
    ["greedy, one block", { temperature: 0 }, 16],
    ["greedy, full logits rows (no head)", { temperature: 0, head: false }, 16],
    ["greedy, cfg through the head, blocks of 8", { temperature: 0, cfgScale: 1.5, schedule: { kind: "linear", steps: 8, blockLength: 8 } }, 16],
    ["sampled, blocks of 8", { temperature: 0.8, schedule: { kind: "linear", steps: 12, blockLength: 8 } }, 24],
    ["sampled, two tokens per step, cfg", { temperature: 0.6, cfgScale: 1, schedule: { kind: "linear", steps: 8, blockLength: 0 } }, 16],
    ["random remasking", { temperature: 0.5, remasking: "random" }, 16],
  ];
  for (const [name, over, G] of settings) {
    for (const strategy of ["cap", "rescale"] as const) {
      it(`eta = 0 equals plain sampling token for token (${strategy}, ${name})`, async () => {
        const tok = model.tokenizer;
        const opts: SamplerOptions = {
          schedule: { kind: "linear", steps: G, blockLength: 0 },
          temperature: 0,
          remasking: "low_confidence",
          cfgScale: 0,
          seed: 11,
          ...over,
        };
        const start = createCanvas(tok.encode(PROMPTS[1]), G, MASK);
        const plain = await generate(model, start, opts);
        const remdm = await generateExtended(model, start, opts, { remdm: { strategy, eta: 0 } });
        expect(remdm.tokens).toEqual(plain.tokens);
        expect(remdm.trace.map((s) => [s.step, s.positions, s.tokens])).toEqual(plain.trace.map((s) => [s.step, s.positions, s.tokens]));
        expect(remdm.trace.some((s) => s.remasked)).toBe(false);
      });
    }
  }

  it("eta > 0 remasks while sampling, ends fully decoded, never touches fixed or given tokens", async () => {
    const tok = model.tokenizer;
    const G = 24;
    const start = createCanvas(tok.encode(PROMPTS[0]), G, MASK);
    const fixedAt = [3, 4, 5];
    const fixedIds = tok.encode(" the old house");
    fixedAt.forEach((g, i) => {
      start.tokens[g] = fixedIds[i];
      start.fixed[g] = true;
    });
    start.tokens[20] = tok.encode(".")[0]; // given (not fixed) before the run: kept too
    for (const [strategy, steps] of [["cap", 40], ["rescale", 40], ["conf", 24], ["loop", 20], ["loop", 40]] as const) {
      const out = await generateExtended(
        model,
        start,
        { schedule: { kind: "linear", steps, blockLength: 0 }, temperature: 0.8, remasking: "low_confidence", cfgScale: 0, seed: 2 },
        { remdm: { strategy, eta: 0.2 } },
        { decoder: tok },
      );
      expect(out.finished, strategy).toBe(true);
      fixedAt.forEach((g, i) => expect(out.tokens[g]).toBe(fixedIds[i]));
      expect(out.tokens[20]).toBe(start.tokens[20]);
      const remasked = out.trace.flatMap((s) => s.remasked ?? []);
      expect(remasked.length, `${strategy} remasks something`).toBeGreaterThan(0);
      expect(remasked.some((g) => fixedAt.includes(g) || g === 20)).toBe(false);
      // Every remasked position was decided again later, and the trace replays to the final canvas.
      const replay = Array(G).fill(MASK);
      replay.splice(3, 3, ...fixedIds);
      replay[20] = start.tokens[20];
      for (const s of out.trace) {
        s.positions.forEach((g, j) => (replay[g] = s.tokens[j]));
        for (const g of s.remasked ?? []) replay[g] = MASK;
      }
      expect(replay).toEqual(out.tokens);
    }
  });

  interface RemdmCase {
    name: string;
    prompt_ids: number[];
    gen_length: number;
    options: SamplerOptions;
    remdm: RemdmOptions;
    tokens: number[];
    trace: { step: number; positions: number[]; tokens: number[]; confidence: number[]; remasked: number[] }[];
    robust: boolean;
  }
  const doc = editFixture<{ model: { onnx_sha256: string }; cases: RemdmCase[] }>("remdm.json");
  const stale = isStale(doc);

  it("fixtures were made from the current model.onnx", () => {
    expect(stale, `test/fixtures/edit/remdm.json is stale: rerun ${REGENERATE_EDIT}`).toBe(false);
  });

  for (const c of doc.cases) {
    it.skipIf(stale)(`matches the Python ReMDM reference: ${c.name}`, async () => {
      const out = await generateExtended(model, createCanvas(c.prompt_ids, c.gen_length, MASK), c.options, { remdm: c.remdm });
      const note = c.robust ? "" : " (kept with near-ties)";
      expect(out.trace).toHaveLength(c.trace.length);
      c.trace.forEach((want, i) => {
        const got = out.trace[i];
        expect({ positions: got.positions, tokens: got.tokens, remasked: got.remasked ?? [] }, `step ${i}${note}`).toEqual({
          positions: want.positions,
          tokens: want.tokens,
          remasked: want.remasked,
        });
        got.confidence.forEach((p, j) => expect(p).toBeCloseTo(want.confidence[j], 4));
      });
      expect(out.tokens).toEqual(c.tokens);
    });
  }
});

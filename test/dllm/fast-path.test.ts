// The in-graph sampling head, the block KV cache and Fast-dLLM's dynamic schedules: the head must
// not change what the sampler decides, the cache must be exact when nothing changed, and the
// dynamic schedules must commit what their rules say.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createCanvas, DllmModel, dynamicCommitCount, generate, type Canvas, type SamplerOptions } from "../../engine/dllm/index.js";
import { MODEL_DIR } from "./fixtures.js";

let model: DllmModel;
beforeAll(async () => {
  model = await DllmModel.load(MODEL_DIR, { threads: 1 });
});
afterAll(async () => model?.dispose());

const PROMPT = "The jury said that the city";
const base = (o: Partial<SamplerOptions> = {}): SamplerOptions => ({
  schedule: { kind: "linear", steps: 24, blockLength: 8 },
  temperature: 0,
  remasking: "low_confidence",
  cfgScale: 0,
  seed: 5,
  ...o,
});
async function run(o: Partial<SamplerOptions>, gen = 24): Promise<{ canvas: Canvas; forwards: number }> {
  const before = model.stats.forwards;
  const canvas = await generate(model, createCanvas(model.tokenizer.encode(PROMPT), gen, model.manifest.mask_token_id), base(o));
  return { canvas, forwards: model.stats.forwards - before };
}

describe("in-graph sampling head", () => {
  it("the default model carries the head, the CFG head and the KV cache", () => {
    expect(model.features).toEqual({ topK: 8, cfgHead: true, kvCache: true });
  });

  for (const o of [
    { remasking: "low_confidence" as const },
    { remasking: "topk_margin" as const },
    { remasking: "random" as const },
    { remasking: "maskgit_plus" as const, cfgScale: 1.5 },
    { remasking: "low_confidence" as const, cfgScale: 0.5, confidenceEosEotInf: true },
  ]) {
    it(`decides exactly as full logits rows do: ${JSON.stringify(o)}`, async () => {
      const viaHead = await run({ ...o, head: true });
      const viaRows = await run({ ...o, head: false });
      expect(viaHead.canvas.tokens).toEqual(viaRows.canvas.tokens);
      expect(viaHead.canvas.trace.map((t) => t.positions)).toEqual(viaRows.canvas.trace.map((t) => t.positions));
      viaHead.canvas.confidence.forEach((p, i) => expect(p).toBeCloseTo(viaRows.canvas.confidence[i], 5));
    });
  }
});

describe("block KV cache", () => {
  it("a cached forward equals the full forward when nothing changed", async () => {
    const ids = Int32Array.from(model.tokenizer.encode("He looked at the door and opened it slowly, then"));
    const S = ids.length;
    const V = model.manifest.vocab_size;
    const full = (await model.run({ ids, batch: 1, seq: S, rows: [S - 3, S - 1], want: "logits", cache: { store: { id: "t", keep: [[0, 5]] } } })).logits!;
    const tail = ids.slice(5);
    const cached = (await model.run({ ids: tail, batch: 1, seq: S - 5, rows: [S - 8, S - 6], want: "logits", offset: 5, cache: { use: "t" } })).logits!;
    let max = 0;
    for (let i = 0; i < 2 * V; i++) max = Math.max(max, Math.abs(full[i] - cached[i]));
    expect(max).toBeLessThan(1e-3);
    await model.dropCache("t");
    await expect(model.run({ ids: tail, batch: 1, seq: S - 5, rows: [0], want: "logits", offset: 5, cache: { use: "t" } })).rejects.toThrow(/no KV cache "t"/);
  });

  for (const cache of ["prefix", "dual"] as const) {
    it(`${cache}: decodes every position with one forward per step, keeps the first step of each block exact`, async () => {
      const exact = await run({});
      const cached = await run({ cache });
      expect(cached.canvas.tokens).not.toContain(model.manifest.mask_token_id);
      expect(cached.forwards).toBe(exact.forwards);
      // Each block's first step runs uncached, so it decides as the exact run does.
      for (const step of [0, 8, 16]) {
        if (cached.canvas.trace.slice(0, step).every((t, i) => JSON.stringify(t) === JSON.stringify(exact.canvas.trace[i]))) {
          expect(cached.canvas.trace[step].tokens).toEqual(exact.canvas.trace[step].tokens);
        }
      }
    });
  }

  for (const cache of ["prefix", "dual"] as const) {
    it(`${cache} with shifted logits (Dream): the fed window starts a position early, so every block's first step stays exact`, async () => {
      const exact = await run({ shiftLogits: true });
      const cached = await run({ cache, shiftLogits: true });
      expect(cached.canvas.tokens).not.toContain(model.manifest.mask_token_id);
      expect(cached.forwards).toBe(exact.forwards);
      for (const step of [0, 8, 16]) {
        if (cached.canvas.trace.slice(0, step).every((t, i) => JSON.stringify(t) === JSON.stringify(exact.canvas.trace[i]))) {
          expect(cached.canvas.trace[step].tokens).toEqual(exact.canvas.trace[step].tokens);
        }
      }
    });
  }
});

describe("Fast-dLLM dynamic schedules", () => {
  it("threshold and factor commit counts follow the rules", () => {
    const t = { kind: "threshold" as const, steps: 1, blockLength: 0, threshold: 0.9 };
    expect(dynamicCommitCount(t, [0.5, 0.4])).toBe(1); // the best always commits
    expect(dynamicCommitCount(t, [0.99, 0.95, 0.91, 0.5])).toBe(3);
    expect(dynamicCommitCount(t, [])).toBe(0);
    const f = { kind: "factor" as const, steps: 1, blockLength: 0, factor: 1 };
    // n=2 needs >= 1 - 1/3, n=3 >= 1 - 1/4, n=4 >= 0.8
    expect(dynamicCommitCount(f, [0.1, 0.7, 0.76, 0.1, 0.1])).toBe(3);
    expect(dynamicCommitCount(f, [0.1, 0.5, 0.9])).toBe(1);
    expect(dynamicCommitCount(f, [0.9, 0.9, 0.9])).toBe(3); // reached the last: all
  });

  it("a threshold low enough commits each block in one forward; a high one needs one forward per token at worst", async () => {
    const loose = await run({ schedule: { kind: "threshold", steps: 1, blockLength: 8, threshold: 1e-9 } });
    expect(loose.forwards).toBe(3);
    expect(loose.canvas.tokens).not.toContain(model.manifest.mask_token_id);
    const strict = await run({ schedule: { kind: "threshold", steps: 1, blockLength: 8, threshold: 1 } });
    expect(strict.forwards).toBeLessThanOrEqual(24);
    expect(strict.canvas.trace.every((t) => t.positions.length >= 1)).toBe(true);
    // with threshold 1 nothing but the best commits: the same decisions as one-per-step low_confidence
    const exact = await run({});
    expect(strict.canvas.tokens).toEqual(exact.canvas.tokens);
  });
});

describe("batched forwards", () => {
  it("concurrent runs on one model share batched forwards and decide exactly as they would alone", async () => {
    const encoded = ["The jury said that the", "He looked at the door and", "In the morning the city was", "She was not sure that"].map((p) => model.tokenizer.encode(p));
    const n = Math.min(...encoded.map((e) => e.length));
    const prompts = encoded.map((e) => e.slice(0, n)); // one shape, so they can share forwards
    const mask = model.manifest.mask_token_id;
    for (const temperature of [0, 0.8]) {
      const o = base({ schedule: { kind: "linear", steps: 16, blockLength: 8 }, temperature });
      const solo: number[][] = [];
      for (const p of prompts) solo.push((await generate(model, createCanvas(p, 16, mask), o)).tokens);
      const before = model.stats.forwards;
      const together = await Promise.all(prompts.map((p) => generate(model, createCanvas(p, 16, mask), o)));
      expect(together.map((c) => c.tokens)).toEqual(solo);
      expect(model.stats.forwards - before).toBe(16); // one batched forward per step instead of four
    }
  });
});

describe("rows that cannot reach the top k are not decided", () => {
  // generate() bounds each row's score before drawing its token (low_confidence, random) and
  // decides rows only while they can still be committed; this must commit exactly what deciding
  // every row commits.
  for (const o of [
    { temperature: 0.8, schedule: { kind: "linear" as const, steps: 24, blockLength: 8 } },
    { temperature: 1.0, schedule: { kind: "linear" as const, steps: 8, blockLength: 8 } },
    { temperature: 0.5, remasking: "random" as const, schedule: { kind: "linear" as const, steps: 12, blockLength: 12 } },
    { temperature: 0.8, cfgScale: 1, logitsEosInf: true },
    { temperature: 0.7, algTemp: 0.5, schedule: { kind: "cosine" as const, steps: 10, blockLength: 24 } },
    { temperature: 0.9, confidenceEosEotInf: true, seed: 11 },
    { temperature: 0, logitsEosInf: true, seed: 2 },
    // The head's top-k bound, with EOS forbidden and not.
    { temperature: 0.8, logitsEosInf: true, seed: 5 },
    { temperature: 1.5, logitsEosInf: true, seed: 3, schedule: { kind: "linear" as const, steps: 16, blockLength: 16 } },
    { temperature: 0.6, seed: 9, schedule: { kind: "linear" as const, steps: 32, blockLength: 32 } },
  ]) {
    it(JSON.stringify(o), async () => {
      const { samplerTuning } = await import("../../engine/dllm/samplers/generate.js");
      const fast = await run(o);
      samplerTuning.boundRows = false;
      try {
        const plain = await run(o);
        expect(fast.canvas.tokens).toEqual(plain.canvas.tokens);
        expect(fast.canvas.trace).toEqual(plain.canvas.trace);
      } finally {
        samplerTuning.boundRows = true;
      }
    });
  }
});

describe("topBound", () => {
  // An upper bound on a row's largest probability (EOS removed and the rest renormalised when it is
  // forbidden) from float32 top-k log-probabilities, as the graph's head returns them.
  it("is never below the exact largest probability, over 600 rows with EOS first, among the top k, and beyond them", async () => {
    const { topBound } = await import("../../engine/dllm/samplers/generate.js");
    const V = 64;
    const K = 8;
    const EOS = 2;
    let seed = 12345;
    const rand = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
    let tight = 0;
    for (let n = 0; n < 600; n++) {
      const row = Float32Array.from({ length: V }, () => (rand() - 0.5) * (n % 3 === 0 ? 30 : 6));
      if (n % 4 === 0) row[EOS] = Math.max(...row) + rand() * 4; // EOS the likeliest
      if (n % 4 === 1) row[EOS] = -50; // EOS far outside the top k
      const max = Math.max(...row);
      const lse = max + Math.log(row.reduce((a, l) => a + Math.exp(l - max), 0));
      const order = [...row.keys()].sort((a, b) => row[b] - row[a]);
      const ids = Int32Array.from(order.slice(0, K));
      const logp = Float32Array.from(order.slice(0, K), (v) => row[v] - lse);
      for (const eos of [-1, EOS]) {
        let m2 = -Infinity;
        for (let v = 0; v < V; v++) if (v !== eos && row[v] > m2) m2 = row[v];
        let sum = 0;
        for (let v = 0; v < V; v++) if (v !== eos) sum += Math.exp(row[v] - m2);
        const exact = 1 / sum;
        const bound = topBound(ids, logp, 0, K, eos);
        expect(bound, `row ${n}, eos ${eos}`).toBeGreaterThanOrEqual(exact);
        if (bound < exact * 1.01) tight++;
      }
    }
    expect(tight).toBeGreaterThan(600); // and close to it where the top k says enough
  });
});

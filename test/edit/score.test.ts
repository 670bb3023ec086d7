// Score: LLaDA's Monte Carlo ELBO against the Python transcription (models/reference/
// edit_reference.py get_log_likelihood) on fixed texts, plus its own invariants.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createCanvas, type Canvas, type DllmModel } from "../../engine/dllm/index.js";
import { elboScore, maskLevels, maskedSubset, roundHalfEven } from "../../engine/dllm/samplers/score.js";
import { CounterRng } from "../../engine/dllm/rng.js";
import { REGENERATE_EDIT, editFixture, isStale, loadModel } from "./helpers.js";

const MASK = 1;

interface ScoreCase {
  name: string;
  prompt_ids: number[];
  tokens: number[];
  fixed: boolean[];
  options: { samples: number; batchSize: number; seed: number; cfgScale: number };
  log_likelihood: number;
  per_sample: number[];
}

function canvasOf(promptIds: number[], tokens: number[], fixed?: boolean[]): Canvas {
  const c = createCanvas(promptIds, tokens.length, MASK);
  c.tokens = [...tokens];
  if (fixed) c.fixed = [...fixed];
  c.finished = true;
  return c;
}

describe("ELBO pieces", () => {
  it("rounds half to even and stratifies levels like LLaDA's forward_process", () => {
    expect([0.5, 1.5, 2.5, 2.4999, 2.5001, 3].map(roundHalfEven)).toEqual([0, 2, 2, 2, 3, 3]);
    // L = 10, b = 4, k = 3: 3, 5.5 -> 6, 8, 10.5 -> 10
    expect(maskLevels(3, 10, 4)).toEqual([3, 6, 8, 10]);
    // wraps around: L = 5, b = 2, k = 5: 5, 7.5 -> 8 -> 3
    expect(maskLevels(5, 5, 2)).toEqual([5, 3]);
    const levels = maskLevels(7, 13, 16);
    expect(levels.every((m) => m >= 1 && m <= 13)).toBe(true);
  });

  it("masks a seeded uniform subset of the requested size", () => {
    const rng = new CounterRng(4);
    const a = maskedSubset(rng, 0, 1, 20, 7);
    expect(a).toHaveLength(7);
    expect(new Set(a).size).toBe(7);
    expect(maskedSubset(new CounterRng(4), 0, 1, 20, 7)).toEqual(a);
    expect(maskedSubset(rng, 0, 2, 20, 7)).not.toEqual(a);
  });
});

describe("Score with the default model", () => {
  let model: DllmModel;
  beforeAll(async () => {
    model = await loadModel();
  });
  afterAll(() => model?.dispose());

  const doc = editFixture<{ model: { onnx_sha256: string }; cases: ScoreCase[] }>("score.json");
  const stale = isStale(doc);

  it("fixtures were made from the current model.onnx", () => {
    expect(stale, `test/fixtures/edit/score.json is stale: rerun ${REGENERATE_EDIT}`).toBe(false);
  });

  for (const c of doc.cases) {
    it.skipIf(stale)(`matches the Python ELBO: ${c.name}`, async () => {
      const r = await elboScore(model, canvasOf(c.prompt_ids, c.tokens, c.fixed), c.options);
      expect(r.samples).toBe(c.options.samples);
      expect(r.perSample).toHaveLength(c.per_sample.length);
      r.perSample.forEach((v, i) => expect(Math.abs(v - c.per_sample[i]), `sample ${i}: ${v} vs ${c.per_sample[i]}`).toBeLessThan(1e-3 * Math.max(1, Math.abs(v))));
      expect(Math.abs(r.logLikelihood - c.log_likelihood)).toBeLessThan(1e-4 * Math.max(1, Math.abs(c.log_likelihood)));
    });
  }

  it("is seeded, scores only unfixed tokens, refuses unfinished canvases", async () => {
    const tok = model.tokenizer;
    const c = canvasOf(tok.encode("The man opened the door and"), tok.encode(" walked into the room."));
    const a = await elboScore(model, c, { samples: 16, seed: 1 });
    const b = await elboScore(model, c, { samples: 16, seed: 1 });
    const other = await elboScore(model, c, { samples: 16, seed: 2 });
    expect(a.logLikelihood).toBe(b.logLikelihood);
    expect(other.logLikelihood).not.toBe(a.logLikelihood);
    expect(a.logLikelihood).toBeLessThan(0);
    expect(a.scored).toBe(c.tokens.length);
    const fixed = { ...c, fixed: c.fixed.map((_, g) => g < 2) };
    expect((await elboScore(model, fixed, { samples: 8, seed: 1 })).scored).toBe(c.tokens.length - 2);
    const unfinished = { ...c, tokens: c.tokens.map((t, g) => (g === 3 ? MASK : t)) };
    await expect(elboScore(model, unfinished, { samples: 8, seed: 1 })).rejects.toThrow(/still has masks/);
  });

  it("prefers the text the model finds likelier (a sentence over its shuffled tokens)", async () => {
    const tok = model.tokenizer;
    const prompt = tok.encode("He looked at her and said,");
    const ids = tok.encode(" I will go to the church in the morning.");
    const shuffled = [ids[8], ids[2], ids[9], ids[0], ids[6], ids[4], ids[1], ids[7], ids[3], ids[5]].filter((t) => t !== undefined);
    expect(shuffled).toHaveLength(ids.length);
    const good = await elboScore(model, canvasOf(prompt, ids), { samples: 64, seed: 0 });
    const bad = await elboScore(model, canvasOf(prompt, shuffled), { samples: 64, seed: 0 });
    expect(good.logLikelihood).toBeGreaterThan(bad.logLikelihood);
  });
});

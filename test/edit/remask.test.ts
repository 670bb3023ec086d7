// Remask: exact counts and positions for every strategy, fixed tokens never touched, and a
// following Denoise rewriting exactly the remasked positions with the real model.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createCanvas, generate, refreshCanvas, type Canvas, type DllmModel, type SamplerOptions } from "../../engine/dllm/index.js";
import {
  applyRemask,
  eligiblePositions,
  parsePositions,
  parseSpans,
  patternSpans,
  remaskCount,
  selectRemask,
  tokenCharRanges,
} from "../../engine/dllm/samplers/remask.js";
import { loadModel } from "./helpers.js";

const MASK = 1;
const EOS = 2;

/** A hand-made finished canvas: 10 tokens with known confidences; position 4 fixed. */
function handMade(): Canvas {
  const c = createCanvas([5, 6], 10, MASK);
  c.tokens = [10, 11, 12, 13, 14, 15, 16, 17, 18, 19];
  c.confidence = [0.9, 0.2, 0.5, 0.2, 0.01, 0.7, 0.05, 0.3, 0.99, 0.6];
  c.committedAt = c.tokens.map((_, i) => i);
  c.fixed[4] = true;
  c.finished = true;
  return c;
}

describe("remask selection (pure)", () => {
  it("fraction counts round half up over the committed, unfixed tokens", () => {
    expect(remaskCount(0.25, "fraction", 10)).toBe(3);
    expect(remaskCount(0.25, "fraction", 6)).toBe(2); // 1.5 -> 2
    expect(remaskCount(0.25, "fraction", 9)).toBe(2); // 2.25 -> 2
    expect(remaskCount(0, "fraction", 9)).toBe(0);
    expect(remaskCount(1, "fraction", 9)).toBe(9);
    expect(remaskCount(4, "tokens", 9)).toBe(4);
    expect(remaskCount(40, "tokens", 9)).toBe(9);
    expect(() => remaskCount(1.5, "fraction", 9)).toThrow(/fraction/);
    expect(() => remaskCount(2.5, "tokens", 9)).toThrow(/integer/);
  });

  it("lowest_confidence picks the weakest unfixed tokens, ties leftmost", () => {
    const c = handMade();
    // Eligible: all but 4 (fixed). Confidences sorted: 6 (0.05), 1 (0.2), 3 (0.2), 7 (0.3), 2 (0.5) ...
    expect(selectRemask(c, { strategy: "lowest_confidence", amount: 3, unit: "tokens" }).positions).toEqual([1, 3, 6]);
    expect(selectRemask(c, { strategy: "lowest_confidence", amount: 2, unit: "tokens" }).positions).toEqual([1, 6]);
    // 25% of 9 eligible = 2.25 -> 2
    expect(selectRemask(c, { strategy: "lowest_confidence", amount: 0.25, unit: "fraction" }).positions).toEqual([1, 6]);
    expect(selectRemask(c, { strategy: "lowest_confidence", amount: 0.5, unit: "fraction" }).positions).toEqual([1, 2, 3, 6, 7]);
  });

  it("masked tokens are not eligible again", () => {
    const c = handMade();
    c.tokens[6] = MASK;
    expect(eligiblePositions(c)).toEqual([0, 1, 2, 3, 5, 7, 8, 9]);
    expect(selectRemask(c, { strategy: "lowest_confidence", amount: 2, unit: "tokens" }).positions).toEqual([1, 3]);
  });

  it("random is seeded: same seed same positions, exact count, never fixed", () => {
    const c = handMade();
    const a = selectRemask(c, { strategy: "random", amount: 4, unit: "tokens", seed: 7 }).positions;
    const b = selectRemask(c, { strategy: "random", amount: 4, unit: "tokens", seed: 7 }).positions;
    expect(a).toEqual(b);
    expect(a).toHaveLength(4);
    expect(a).not.toContain(4);
    const seen = new Set<string>();
    for (let seed = 0; seed < 20; seed++) {
      const p = selectRemask(c, { strategy: "random", amount: 0.5, unit: "fraction", seed }).positions;
      expect(p).toHaveLength(5); // 4.5 -> 5
      expect(p).not.toContain(4);
      seen.add(p.join(","));
    }
    expect(seen.size).toBeGreaterThan(5);
  });

  it("explicit positions: ranges, duplicates, fixed ones skipped and reported", () => {
    expect(parsePositions("0, 3, 7-9, 3", 10)).toEqual([0, 3, 7, 8, 9]);
    expect(() => parsePositions("12", 10)).toThrow(/outside/);
    expect(() => parsePositions("a", 10)).toThrow(/not a position/);
    expect(() => parsePositions("5-2", 10)).toThrow(/backwards/);
    const r = selectRemask(handMade(), { strategy: "positions", positions: "2-5" });
    expect(r.positions).toEqual([2, 3, 5]);
    expect(r.skippedFixed).toEqual([4]);
  });

  it("spans and patterns parse", () => {
    expect(parseSpans("0:5, 12:20")).toEqual([
      [0, 5],
      [12, 20],
    ]);
    expect(() => parseSpans("5:5")).toThrow(/empty/);
    expect(patternSpans("ab", "abcab")).toEqual([
      [0, 2],
      [3, 5],
    ]);
    expect(patternSpans("/a.?/", "xaxa")).toEqual([
      [1, 3],
      [3, 4],
    ]);
    expect(patternSpans("a.b", "axb a.b")).toEqual([[4, 7]]); // literal unless /.../
  });

  it("applyRemask masks exactly those positions, leaves the input alone and records the step", () => {
    const c = handMade();
    const out = applyRemask(c, [1, 6], "test");
    expect(out.tokens).toEqual([10, MASK, 12, 13, 14, 15, MASK, 17, 18, 19]);
    expect(out.confidence[1]).toBe(0);
    expect(out.committedAt[6]).toBe(-1);
    expect(out.finished).toBe(false);
    expect(out.trace.at(-1)).toEqual({ step: 0, positions: [], tokens: [], confidence: [], remasked: [1, 6], note: "test" });
    expect(c.tokens[1]).toBe(11);
    expect(() => applyRemask(c, [4], "fixed")).toThrow(/fixed/);
  });
});

describe("remask with the default model", () => {
  let model: DllmModel;
  beforeAll(async () => {
    model = await loadModel();
  });
  afterAll(() => model?.dispose());

  const opts = (steps: number, seed = 0, temperature = 0.8): SamplerOptions => ({
    schedule: { kind: "linear", steps, blockLength: 0 },
    temperature,
    remasking: "low_confidence",
    cfgScale: 0,
    seed,
  });

  it("Denoise after Remask rewrites only the remasked positions and keeps every other token", async () => {
    const tok = model.tokenizer;
    const first = await generate(model, createCanvas(tok.encode("The man opened the door and"), 24, MASK), opts(24, 4), { decoder: tok });
    expect(first.finished).toBe(true);
    const { positions } = selectRemask(first, { strategy: "lowest_confidence", amount: 0.25, unit: "fraction" });
    expect(positions).toHaveLength(6);
    const weakest = [...first.confidence].sort((a, b) => a - b)[5];
    positions.forEach((p) => expect(first.confidence[p]).toBeLessThanOrEqual(weakest));
    const holes = refreshCanvas(applyRemask(first, positions, "remask"), tok, model.manifest.eos_token_id);
    const second = await generate(model, holes, opts(positions.length, 9), { decoder: tok });
    expect(second.finished).toBe(true);
    second.tokens.forEach((t, g) => {
      if (!positions.includes(g)) expect(t, `position ${g}`).toBe(first.tokens[g]);
    });
    // The continuation's steps commit exactly the remasked positions, counting on after the remask entry.
    const after = second.trace.slice(first.trace.length + 1);
    expect(after[0].step).toBe(first.trace.length + 1);
    expect(after.flatMap((s) => s.positions).sort((a, b) => a - b)).toEqual(positions);
  });

  it("spans and patterns map text characters to the tokens that carry them", async () => {
    const tok = model.tokenizer;
    const ids = tok.encode(" the cat sat on the mat, the end");
    const c = createCanvas(tok.encode("A story:"), ids.length + 2, MASK);
    c.tokens = [...ids, EOS, EOS];
    refreshCanvas(c, tok, EOS);
    const ranges = tokenCharRanges(c, tok, EOS);
    expect(ranges.map((r) => c.text.slice(r.start, r.end)).join("")).toBe(c.text);
    const the = selectRemask(c, { strategy: "pattern", pattern: "the" }, tok, EOS).positions;
    expect(the.map((p) => tok.piece(c.tokens[p]))).toEqual([" the", " the", " the"]);
    const at = c.text.indexOf("cat");
    const span = selectRemask(c, { strategy: "spans", spans: `${at}:${at + 3}` }, tok, EOS).positions;
    expect(span.map((p) => tok.piece(c.tokens[p]).trim()).join("")).toContain("cat");
    expect(selectRemask(c, { strategy: "pattern", pattern: "/[a-z]+at/" }, tok, EOS).positions.length).toBeGreaterThanOrEqual(3);
    expect(() => selectRemask(c, { strategy: "spans", spans: "0:999" }, tok, EOS)).toThrow(/past the end/);
  });
});

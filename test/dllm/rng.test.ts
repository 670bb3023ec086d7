// The counter-based generator gives the same numbers as its Python mirror (models/reference/rng.py).
import { describe, expect, it } from "vitest";
import { CounterRng, Stream, gumbel, noisyLogit, philox4x32 } from "../../engine/dllm/rng.js";
import { rankKey } from "../../engine/dllm/samplers/rank.js";
import { fixture } from "./fixtures.js";

interface RngDoc {
  philox: { counter: number[]; key: number[]; out: number[] }[];
  cases: { seed: number; stream: number; step: number; position: number; index: number[]; uniform: number[]; gumbel: number[] }[];
  rank_keys: { x: number[]; key: number[] };
}
const doc = fixture<RngDoc>("rng.json");

describe("Philox4x32-10", () => {
  it("matches Random123's known-answer vectors", () => {
    const out = new Uint32Array(4);
    philox4x32(0, 0, 0, 0, 0, 0, out);
    expect([...out]).toEqual([0x6627e8d5, 0xe169c58d, 0xbc57ac4c, 0x9b00dbd8]);
    philox4x32(0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff, out);
    expect([...out]).toEqual([0x408f276d, 0x41c83b0e, 0xa20bc7c6, 0x6d5451fd]);
    philox4x32(0x243f6a88, 0x85a308d3, 0x13198a2e, 0x03707344, 0xa4093822, 0x299f31d0, out);
    expect([...out]).toEqual([0xd16cfe09, 0x94fdcceb, 0x5001e420, 0x24126ea1]);
  });

  it("matches the Python mirror word for word", () => {
    const out = new Uint32Array(4);
    for (const { counter, key, out: want } of doc.philox) {
      philox4x32(counter[0], counter[1], counter[2], counter[3], key[0], key[1], out);
      expect([...out]).toEqual(want);
    }
  });
});

describe("CounterRng", () => {
  it("gives bit-identical uniforms to the Python mirror", () => {
    for (const c of doc.cases) {
      const rng = new CounterRng(c.seed);
      c.index.forEach((i, j) => {
        expect(rng.uniform(c.stream, c.step, c.position, i)).toBe(c.uniform[j]);
        expect(gumbel(rng.uniform(c.stream, c.step, c.position, i))).toBeCloseTo(c.gumbel[j], 12);
      });
    }
  });

  it("fill() equals uniform() index by index (any subset of positions sees the same noise)", () => {
    const rng = new CounterRng(42);
    const row = rng.fill(Stream.GUMBEL, 3, 17, new Float64Array(11));
    row.forEach((u, i) => expect(u).toBe(rng.uniform(Stream.GUMBEL, 3, 17, i)));
  });

  it("row() (WebAssembly) equals fill() (JavaScript) bit for bit, at edge counters and keys, any length", () => {
    for (const seed of [0, 1, 42, 2 ** 32 - 1, 2 ** 32, 123456789012, 2 ** 53 - 1]) {
      const rng = new CounterRng(seed);
      for (const [stream, step, position, length] of [
        [0, 0, 0, 1],
        [0, 3, 17, 4096],
        [1, 0xffffffff, 0xffffffff, 7],
        [2, 1023, 0x80000000, 4095],
        [0, 9, 5, 126464], // a LLaDA-sized vocabulary: the module's memory grows
      ]) {
        const want = rng.fill(stream, step, position, new Float64Array(length));
        const got = rng.row(stream, step, position, length);
        expect(got.length).toBe(length);
        let differ = 0;
        for (let i = 0; i < length; i++) if (got[i] !== want[i]) differ++;
        expect(differ, `seed ${seed} stream ${stream} step ${step} position ${position}`).toBe(0);
      }
    }
  });

  it("is in [0, 1) with a plausible mean and streams that differ", () => {
    const rng = new CounterRng(7);
    const u = rng.fill(0, 0, 0, new Float64Array(20000));
    const mean = u.reduce((a, b) => a + b, 0) / u.length;
    expect(Math.min(...u)).toBeGreaterThanOrEqual(0);
    expect(Math.max(...u)).toBeLessThan(1);
    expect(Math.abs(mean - 0.5)).toBeLessThan(0.01);
    expect(rng.uniform(0, 1, 2, 3)).not.toBe(rng.uniform(1, 1, 2, 3));
  });

  it("rejects seeds that are not integers in [0, 2^53)", () => {
    expect(() => new CounterRng(-1)).toThrow(/seed/);
    expect(() => new CounterRng(1.5)).toThrow(/seed/);
  });

  it("Gumbel noise: u = 0 can never win; LLaDA's form is argmax-equivalent to exp(l)/(-log u)^T", () => {
    expect(gumbel(0)).toBe(-Infinity);
    expect(noisyLogit(3, 0.7, 0)).toBe(-Infinity);
    const l = [0.3, 1.2, -0.5];
    const u = [0.9, 0.2, 0.999];
    const T = 0.8;
    const a = l.map((x, i) => noisyLogit(x, T, u[i]));
    const b = l.map((x, i) => Math.exp(x) / (-Math.log(u[i])) ** T);
    expect(a.indexOf(Math.max(...a))).toBe(b.indexOf(Math.max(...b)));
  });
});

describe("rankKey", () => {
  it("rounds like the Python reference's rank_key (bf16 precision, half up)", () => {
    doc.rank_keys.x.forEach((x, i) => expect(rankKey(x)).toBe(doc.rank_keys.key[i]));
    expect(rankKey(1 + 2 ** -8)).toBe(1 + 2 ** -7);
    expect(rankKey(1 + 2 ** -9)).toBe(1);
    expect(rankKey(-Infinity)).toBe(-Infinity);
  });
});

// decide() with temperature > 0 skips the logarithms of tokens that provably lose the Gumbel-max
// race, and the sampler decides only the rows that can still reach the top k. Both must give
// exactly what the plain definitions give: checked here against brute-force scans.
import { describe, expect, it } from "vitest";
import { CounterRng, Stream, mulhi, noisyLogit } from "../../engine/dllm/rng.js";
import { decide, Scratch, type DecideSettings } from "../../engine/dllm/samplers/decide.js";

/** The definition: scan every kept token in order, first maximum wins. */
function bruteToken(row: Float32Array, T: number, step: number, pos: number, rng: CounterRng, kept?: (v: number) => boolean): number {
  const u = rng.fill(Stream.GUMBEL, step, pos, new Float64Array(row.length));
  let token = -1;
  let best = -Infinity;
  for (let v = 0; v < row.length; v++) {
    if (kept && !kept(v)) continue;
    const n = noisyLogit(row[v], T, u[v]);
    if (n > best || token < 0) {
      best = n;
      token = v;
    }
  }
  return token;
}

/** A small deterministic generator for the test rows (not the sampler's). */
function lcg(seed: number) {
  let x = seed >>> 0;
  return () => {
    x = (Math.imul(x, 1664525) + 1013904223) >>> 0;
    return x / 4294967296;
  };
}

const V = 512;

function rows(): { name: string; row: Float32Array }[] {
  const r = lcg(7);
  const out: { name: string; row: Float32Array }[] = [];
  for (let i = 0; i < 12; i++) {
    const spread = [0.01, 1, 5, 20, 60, 200][i % 6];
    out.push({ name: `random spread ${spread} #${i}`, row: Float32Array.from({ length: V }, () => (r() - 0.5) * spread) });
  }
  const peaked = Float32Array.from({ length: V }, () => -10 + r());
  peaked[17] = 12;
  out.push({ name: "one dominant token", row: peaked });
  out.push({ name: "flat (all equal)", row: new Float32Array(V).fill(1.5) });
  const withInf = Float32Array.from({ length: V }, () => r() * 3);
  for (let v = 0; v < V; v += 3) withInf[v] = -Infinity;
  out.push({ name: "a third -Infinity", row: withInf });
  const twoTop = Float32Array.from({ length: V }, () => r() * 2);
  twoTop[40] = 9;
  twoTop[300] = 9;
  out.push({ name: "two equal top logits", row: twoTop });
  return out;
}

describe("decide: Gumbel-max with skipped logarithms", () => {
  const settings = (T: number, rng: CounterRng, topK: number | null = null): DecideSettings => ({
    remasking: "low_confidence",
    temperature: T,
    topP: null,
    topK,
    rng,
  });

  it("picks the same token as scanning every token, on varied rows, temperatures, steps and seeds", () => {
    const scratch = new Scratch(V);
    let checked = 0;
    for (const { name, row } of rows()) {
      for (const T of [0.05, 0.5, 0.8, 1, 2, 10]) {
        for (const seed of [0, 1, 12345]) {
          const rng = new CounterRng(seed);
          for (let step = 0; step < 6; step++) {
            const pos = (step * 37) % 100;
            const got = decide(row, step, pos, settings(T, rng), scratch).token;
            expect(got, `${name}, T ${T}, seed ${seed}, step ${step}`).toBe(bruteToken(row, T, step, pos, rng));
            checked++;
          }
        }
      }
    }
    expect(checked).toBe(16 * 6 * 3 * 6);
  });

  it("respects the top-k filter the same way", () => {
    const scratch = new Scratch(V);
    for (const { name, row } of rows().slice(0, 6)) {
      const rng = new CounterRng(3);
      for (let step = 0; step < 10; step++) {
        const z = Array.from(row, (x) => x / 0.7);
        const kth = [...z].sort((a, b) => b - a)[7];
        const got = decide(row, step, 5, settings(0.7, rng, 8), scratch).token;
        expect(got, name).toBe(bruteToken(row, 0.7, step, 5, rng, (v) => z[v] >= kth));
      }
    }
  });

  it("the float64 mulhi equals 16-bit long multiplication", () => {
    const long = (a: number, b: number) => {
      const [aL, aH, bL, bH] = [a & 0xffff, a >>> 16, b & 0xffff, b >>> 16];
      const [ll, lh, hl] = [aL * bL, aL * bH, aH * bL];
      const mid = (ll >>> 16) + (lh & 0xffff) + (hl & 0xffff);
      return (aH * bH + (lh >>> 16) + (hl >>> 16) + (mid >>> 16)) >>> 0;
    };
    const edges = [0, 1, 2, 0xffff, 0x10000, 0x7fffffff, 0x80000000, 0xfffffffe, 0xffffffff, 0xd2511f53, 0xcd9e8d57];
    const r = lcg(99);
    const pairs: [number, number][] = edges.flatMap((a) => edges.map((b) => [a, b] as [number, number]));
    for (let i = 0; i < 200000; i++) pairs.push([(r() * 4294967296) >>> 0, (r() * 4294967296) >>> 0]);
    for (const [a, b] of pairs) expect(mulhi(a, b, Math.imul(a, b) >>> 0)).toBe(long(a, b));
  });
});

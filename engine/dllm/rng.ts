// Maskflow's one random number generator: Philox4x32-10, counter-based (DESIGN.md, contract 7).
//
// Every random number is a pure function of (seed, stream, step, position, index): nothing is
// drawn "in order". That is what lets a sampler touch only the positions it decides while the
// Python reference (models/reference/rng.py) computes the same noise for the whole [S, V]
// tensor at once with numpy, and still get bit-identical uniforms.
//
// Definition (also in models/README.md):
//   key     = (seed mod 2^32, floor(seed / 2^32))            seed: integer in [0, 2^53)
//   counter = (floor(index / 2), position, step, stream)     each a uint32
//   (w0, w1, w2, w3) = Philox4x32-10(counter, key)           (Salmon et al., SC'11; Random123)
//   even index -> (hi, lo) = (w0, w1); odd index -> (w2, w3)
//   u = ((hi >>> 5) * 2^26 + (lo >>> 6)) / 2^53               53 bits, u in [0, 1)
// Gumbel noise (LLaDA's add_gumbel_noise in log space, float64): l - T * log(-log u); u = 0
// gives -Infinity (that token can never win), which is what the formula means at the limit.
import { philoxRow } from "./philox-wasm.js";

/** Named streams, so different uses of the same (step, position) never share numbers. */
export const Stream = {
  /** Gumbel noise per (step, position, vocabulary id) for token sampling. */
  GUMBEL: 0,
  /** LLaDA's `random` remasking: one uniform per (step, position). */
  REMASK_RANDOM: 1,
  /** Dream's alg_temp: Gumbel noise per (step, position) for choosing positions to commit. */
  POSITION_SAMPLE: 2,
  /** Uniform-noise models (samplers/entropy-bound.ts): a canvas's starting ids, per (canvas, position). */
  CANVAS_INITIAL: 3,
  /** Uniform-noise models: the categorical sample's uniform, per (step, position). */
  CANVAS_SAMPLE: 4,
  /** Uniform-noise models: the re-drawn ids of the positions not kept, per (step, position). */
  CANVAS_RENOISE: 5,
} as const;

const M0 = 0xd2511f53;
const M1 = 0xcd9e8d57;
const W0 = 0x9e3779b9;
const W1 = 0xbb67ae85;
const TWO_26 = 67108864;
const TWO_53 = 9007199254740992;
const TWO_32 = 4294967296;

/**
 * High 32 bits of the 64-bit product of two uint32s. Exact: the float64 product is within 2^11 of
 * the true one, subtracting the exact low word leaves hi * 2^32 within 2^12, and rounding the
 * quotient recovers hi (test/dllm/rng.test.ts checks it against 16-bit long multiplication).
 */
export function mulhi(a: number, b: number, lo: number): number {
  return Math.round((a * b - lo) / TWO_32);
}

/** Philox4x32-10 of one counter block; writes the 4 output words to `out`. */
export function philox4x32(c0: number, c1: number, c2: number, c3: number, k0: number, k1: number, out: Uint32Array): void {
  c0 >>>= 0;
  c1 >>>= 0;
  c2 >>>= 0;
  c3 >>>= 0;
  k0 >>>= 0;
  k1 >>>= 0;
  for (let round = 0; round < 10; round++) {
    if (round > 0) {
      k0 = (k0 + W0) >>> 0;
      k1 = (k1 + W1) >>> 0;
    }
    const lo0 = Math.imul(M0, c0) >>> 0;
    const hi0 = mulhi(M0, c0, lo0);
    const lo1 = Math.imul(M1, c2) >>> 0;
    const hi1 = mulhi(M1, c2, lo1);
    c0 = (hi1 ^ c1 ^ k0) >>> 0;
    c1 = lo1;
    c2 = (hi0 ^ c3 ^ k1) >>> 0;
    c3 = lo0;
  }
  out[0] = c0;
  out[1] = c1;
  out[2] = c2;
  out[3] = c3;
}

function checkSeed(seed: number): void {
  if (!Number.isSafeInteger(seed) || seed < 0) throw new Error(`seed must be an integer in [0, 2^53), got ${seed}`);
}

/** A seeded view of the generator. Cheap to create; holds no state besides the key. */
export class CounterRng {
  private readonly k0: number;
  private readonly k1: number;
  private readonly words = new Uint32Array(4);

  constructor(readonly seed: number) {
    checkSeed(seed);
    this.k0 = seed % TWO_32 >>> 0;
    this.k1 = Math.floor(seed / TWO_32) >>> 0;
  }

  /** The uniform in [0, 1) for (stream, step, position, index). */
  uniform(stream: number, step: number, position: number, index = 0): number {
    const w = this.words;
    philox4x32(Math.floor(index / 2), position, step, stream, this.k0, this.k1, w);
    return index % 2 === 0 ? toUnit(w[0], w[1]) : toUnit(w[2], w[3]);
  }

  /** `out[0], out[1] = uniform(stream, step, position, 2 * block + 0 / 1)`: one Philox block, for callers that draw lazily. */
  pair(stream: number, step: number, position: number, block: number, out: Float64Array): void {
    const w = this.words;
    philox4x32(block, position, step, stream, this.k0, this.k1, w);
    out[0] = toUnit(w[0], w[1]);
    out[1] = toUnit(w[2], w[3]);
  }

  /**
   * `uniform(stream, step, position, i)` for i in [0, length), computed in WebAssembly
   * (philox-wasm.ts); a view that the next call overwrites.
   */
  row(stream: number, step: number, position: number, length: number): Float64Array {
    return philoxRow(this.k0, this.k1, stream, step, position, length);
  }

  /** `out[i] = uniform(stream, step, position, i)` for i in [0, out.length). */
  fill(stream: number, step: number, position: number, out: Float64Array): Float64Array {
    const w = this.words;
    const n = out.length;
    for (let i = 0, block = 0; i < n; i += 2, block++) {
      philox4x32(block, position, step, stream, this.k0, this.k1, w);
      out[i] = toUnit(w[0], w[1]);
      if (i + 1 < n) out[i + 1] = toUnit(w[2], w[3]);
    }
    return out;
  }
}

function toUnit(hi: number, lo: number): number {
  return ((hi >>> 5) * TWO_26 + (lo >>> 6)) / TWO_53;
}

/** -log(-log u): a standard Gumbel variate; -Infinity for u = 0. */
export function gumbel(u: number): number {
  return u === 0 ? -Infinity : -Math.log(-Math.log(u));
}

/** LLaDA's noisy logit in log space: l - T*log(-log u) (argmax-equivalent to exp(l)/(-log u)^T). */
export function noisyLogit(logit: number, temperature: number, u: number): number {
  return u === 0 ? -Infinity : logit - temperature * Math.log(-Math.log(u));
}

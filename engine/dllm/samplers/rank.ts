// How positions are ranked for commitment: score descending, then position ascending, with
// scores compared at bf16 precision (8 significant bits, relative resolution 2^-8 ~ 0.4%).
//
// Why not full float64: positions deep in an all-mask tail see almost the same context, and
// their confidences differ by ~1e-8, far below the float32 rounding noise of the logits (~1e-6,
// and different in onnxruntime, torch, and on other CPUs). Ordering them by that noise would make
// a run depend on the runtime. Upstream LLaDA computes its confidences in bf16 and leaves the
// order of its many ties to torch.topk; we compare at the same precision and define the order
// (leftmost first). The fixture generator (models/reference/make_fixtures.py) checks that no
// committed decision sits within the measured rounding noise of a boundary.
// Mirrored by models/reference/llada_generate.py (`rank_key`).

/** Significant bits kept when comparing scores. */
export const RANK_BITS = 8;

/** x rounded to RANK_BITS significant bits (half up on the scaled mantissa); 0, ±Infinity and NaN unchanged. */
export function rankKey(x: number): number {
  if (x === 0 || !Number.isFinite(x)) return x;
  const a = Math.abs(x);
  let e = Math.floor(Math.log2(a));
  if (2 ** e > a) e--;
  else if (2 ** (e + 1) <= a) e++;
  if (e < -1000) return x; // subnormal range: leave as is
  const scale = 2 ** (RANK_BITS - 1 - e); // a * scale in [2^(bits-1), 2^bits)
  return Math.floor(x * scale + 0.5) / scale;
}

export interface Ranked {
  pos: number;
  key: number;
}

/** The k best by (key desc, position asc). NaN keys rank lowest. */
export function topK<T extends Ranked>(items: T[], k: number): T[] {
  const norm = (v: number) => (Number.isNaN(v) ? -Infinity : v);
  return [...items].sort((a, b) => norm(b.key) - norm(a.key) || a.pos - b.pos || 0).slice(0, k);
}

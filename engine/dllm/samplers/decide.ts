// One masked position's decision from its logits row: which token it would become, with what
// probability, and the score that ranks it against the other positions. All arithmetic in
// float64 from the float32 logits. Mirrors models/reference/llada_generate.py (`decide_rows`).
import { CounterRng, Stream, noisyLogit } from "../rng.js";
import type { Remasking } from "./options.js";

export interface DecideSettings {
  remasking: Remasking;
  temperature: number;
  topP: number | null;
  topK: number | null;
  rng: CounterRng;
}

export interface Decision {
  token: number;
  /** Ranking score (higher commits first). */
  score: number;
  /** Untempered softmax probability of `token` (what the canvas shows as confidence). */
  prob: number;
}

const DREAM_RULES: ReadonlySet<Remasking> = new Set(["maskgit_plus", "topk_margin", "entropy"]);

/** Scratch buffers reused across rows (one per vocabulary size). */
export class Scratch {
  readonly z: Float64Array;
  readonly kept: Uint8Array;
  readonly order: Uint32Array;
  constructor(readonly vocab: number) {
    this.z = new Float64Array(vocab);
    this.kept = new Uint8Array(vocab);
    this.order = new Uint32Array(vocab);
  }
}

/** max and sum(exp(row - max)) of a row: its softmax is exp(row[v] - max) / sum. */
export function rowStats(row: ArrayLike<number>): { max: number; sum: number } {
  let max = -Infinity;
  for (let v = 0; v < row.length; v++) if (row[v] > max) max = row[v];
  let sum = 0;
  for (let v = 0; v < row.length; v++) sum += Math.exp(row[v] - max);
  return { max, sum };
}

/**
 * Gumbel-max without a logarithm per token. A token v beats the incumbent value `best` only if
 * g(u_v) = -log(-log u_v) > c = (best - l_v) / T, i.e. u_v > exp(-exp(-c)). GUMBEL_U[k] holds
 * exp(-exp(-c_k)) on a grid c_k = C_MIN + k / C_STEPS; looking up one cell below c leaves a
 * margin of 1/C_STEPS in g (far above float rounding), so u_v < GUMBEL_U[k] proves v loses and
 * its logarithms are skipped. Above C_MAX the cell is clamped: there one ulp of u moves g by more
 * than the margin, so the bound stays where it is still safe.
 */
const C_MIN = -4;
const C_MAX = 30;
const C_STEPS = 16;
const GUMBEL_U = Float64Array.from({ length: (C_MAX - C_MIN) * C_STEPS + 1 }, (_, k) => Math.exp(-Math.exp(-(C_MIN + k / C_STEPS))));

function provablyLoses(u: number, c: number): boolean {
  if (!(c >= C_MIN + 1 / C_STEPS)) return false; // also NaN: decide exactly
  const k = Math.min(Math.floor((c - C_MIN) * C_STEPS) - 1, GUMBEL_U.length - 1);
  return u < GUMBEL_U[k];
}

/**
 * argmax over the kept v of noisyLogit(row[v], T, u_v) (the first index among equal values), with
 * u_v = the GUMBEL uniform of (step, position, v). Equal to scanning every v; faster because the
 * row's uniforms come from WebAssembly in one call, the most likely winner is scored first and the
 * logarithms of tokens that provably lose are skipped.
 */
function gumbelArgmax(row: Float32Array, T: number, step: number, position: number, s: DecideSettings, kept: Uint8Array | null): number {
  const V = row.length;
  let token = -1;
  for (let v = 0; v < V; v++) if ((!kept || kept[v]) && (token < 0 || row[v] > row[token])) token = v;
  if (token < 0) return -1;
  const u = s.rng.row(Stream.GUMBEL, step, position, V);
  let best = noisyLogit(row[token], T, u[token]);
  for (let v = 0; v < V; v++) {
    if ((kept && !kept[v]) || v === token) continue;
    if (provablyLoses(u[v], (best - row[v]) / T)) continue;
    const n = noisyLogit(row[v], T, u[v]);
    if (n > best || (n === best && v < token)) {
      best = n;
      token = v;
    }
  }
  return token;
}

/** Which of Dream's filters change anything at vocabulary size V. */
function filters(s: DecideSettings, V: number): { useP: boolean; useK: boolean } {
  return { useP: s.topP !== null && s.topP < 1, useK: s.topK !== null && s.topK > 0 && s.topK < V };
}

/**
 * Dream's top_p then top_k filters over z (= logits / T); marks kept tokens in `kept`.
 * Returns false when nothing is filtered (all kept).
 */
function filter(z: Float64Array, s: DecideSettings, scratch: Scratch): boolean {
  const V = z.length;
  const kept = scratch.kept;
  const { useP, useK } = filters(s, V);
  if (!useP && !useK) return false;
  kept.fill(1);
  if (useP) {
    // Sort descending (ties by id ascending), keep the smallest prefix whose mass exceeds top_p:
    // a token is dropped when the cumulative probability *before* it already exceeds top_p.
    const order = scratch.order;
    for (let v = 0; v < V; v++) order[v] = v;
    order.sort((a, b) => z[b] - z[a] || a - b);
    const max = z[order[0]];
    let sum = 0;
    for (let v = 0; v < V; v++) sum += Math.exp(z[v] - max);
    let cum = 0;
    for (let r = 0; r < V; r++) {
      const v = order[r];
      if (r > 0 && cum > s.topP!) kept[v] = 0;
      cum += Math.exp(z[v] - max) / sum;
    }
  }
  if (useK) {
    // Keep z >= the k-th largest z (of what top_p kept; ties kept), like Dream's top_k_logits.
    const vals: number[] = [];
    for (let v = 0; v < V; v++) vals.push(kept[v] ? z[v] : -Infinity);
    vals.sort((a, b) => b - a);
    const kth = vals[s.topK! - 1];
    for (let v = 0; v < V; v++) if (kept[v] && z[v] < kth) kept[v] = 0;
  }
  return true;
}

/** Decides one position. `row` is its V logits after CFG and the EOS rule. */
export function decide(
  row: Float32Array,
  step: number,
  position: number,
  s: DecideSettings,
  scratch: Scratch,
  stats: { max: number; sum: number } = rowStats(row),
): Decision {
  const V = row.length;
  const T = s.temperature;
  // z = logits / T, what Dream's filters and rules look at (LLaDA's rules never need it).
  const z = scratch.z;
  const { useP, useK } = filters(s, V);
  const needZ = DREAM_RULES.has(s.remasking) || useP || useK;
  if (needZ) for (let v = 0; v < V; v++) z[v] = T > 0 ? row[v] / T : row[v];
  const filtered = needZ && filter(z, s, scratch);
  const kept = scratch.kept;

  // The token: argmax of the logits, with Gumbel noise when T > 0, among the kept tokens.
  let token = -1;
  if (T > 0) {
    token = gumbelArgmax(row, T, step, position, s, filtered ? kept : null);
  } else {
    let best = -Infinity;
    for (let v = 0; v < V; v++) {
      if (filtered && !kept[v]) continue;
      if (row[v] > best || token < 0) {
        best = row[v];
        token = v;
      }
    }
  }

  const prob = Math.exp(row[token] - stats.max) / stats.sum;
  if (!DREAM_RULES.has(s.remasking)) {
    const score = s.remasking === "random" ? s.rng.uniform(Stream.REMASK_RANDOM, step, position, 0) : prob;
    return { token, score, prob };
  }

  // Dream: the distribution that was sampled from (tempered, filtered).
  let max = -Infinity;
  for (let v = 0; v < V; v++) if ((!filtered || kept[v]) && z[v] > max) max = z[v];
  let sum = 0;
  for (let v = 0; v < V; v++) if (!filtered || kept[v]) sum += Math.exp(z[v] - max);
  const p = (v: number) => (!filtered || kept[v] ? Math.exp(z[v] - max) / sum : 0);
  let score: number;
  if (s.remasking === "maskgit_plus") {
    score = p(token);
  } else if (s.remasking === "topk_margin") {
    let p1 = -Infinity;
    let p2 = -Infinity;
    for (let v = 0; v < V; v++) {
      const pv = p(v);
      if (pv > p1) {
        p2 = p1;
        p1 = pv;
      } else if (pv > p2) p2 = pv;
    }
    score = p1 - p2;
  } else {
    score = 0;
    for (let v = 0; v < V; v++) {
      const pv = p(v);
      score += pv * Math.log(pv + 1e-10);
    }
  }
  return { token, score, prob };
}

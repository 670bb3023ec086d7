// A canvas's log-likelihood under a model: LLaDA's Monte Carlo ELBO (ML-GSAI/LLaDA
// get_log_likelihood.py; reference/dllm-algorithms.md section 1), usable to rank outputs.
//
//   for each group of b samples (LLaDA's batch_size):
//     k ~ U{1..L}                                          L = number of scored tokens
//     for sample i < b: m_i = round(k + i * L / b); m_i = ((m_i - 1) mod L) + 1   (stratified levels)
//                       mask m_i of the L scored tokens, chosen uniformly at random
//                       loss_i = sum over masked j of CE(logits_j, token_j) / (m_i / L)
//   log-likelihood >= -mean_i loss_i                     (nats; higher is more likely)
//
// What differs from upstream, on purpose (mirrored by models/reference/edit_reference.py):
// - [rng]  k and the masked positions come from the counter-based generator: k = 1 + floor(u L)
//          with u at (SCORE_LEVEL, group, 0); sample i masks the m_i scored positions with the
//          smallest u at (SCORE_ORDER, group, i, j) (a uniform random subset, like randperm).
// - [f64]  the levels are computed in float64 and rounded half to even (torch.linspace is float32);
//          cross-entropy is float64 from the float32 logits.
// - [ctx]  scored tokens are the generated region minus fixed tokens; the prompt and fixed
//          (infilling) tokens are the condition, never masked. With CFG the unconditional
//          branch masks both (as LLaDA's app.py does with its constraints).
// - samples need not be a multiple of the batch: the last group is smaller; the estimate is the
//   mean over all samples (upstream's mean of group means when groups are equal).
import type { Canvas } from "../canvas.js";
import { CounterRng } from "../rng.js";
import type { LogitsModel } from "../runtime/model.js";
import { guidedRow } from "./cfg.js";
import { abortError } from "./generate.js";
import { EditStream } from "./streams.js";

export interface ScoreOptions {
  /** Monte Carlo samples (LLaDA: mc_num, 128). */
  samples: number;
  seed: number;
  /** Samples per stratified group (LLaDA: batch_size, 16). */
  batchSize?: number;
  /** Classifier-free guidance scale (0 = off). */
  cfgScale?: number;
  shiftLogits?: boolean;
}

export interface ScoreResult {
  /** The ELBO estimate of log p(scored tokens | context), in nats. */
  logLikelihood: number;
  /** Per generated token scored (logLikelihood / scored). */
  perToken: number;
  /** Number of scored tokens (L). */
  scored: number;
  samples: number;
  /** Each sample's -loss_i (their mean is logLikelihood). */
  perSample: number[];
}

/** Round half to even (torch.round / numpy.round). */
export function roundHalfEven(v: number): number {
  const f = Math.floor(v);
  const d = v - f;
  if (d > 0.5) return f + 1;
  if (d < 0.5) return f;
  return f % 2 === 0 ? f : f + 1;
}

/** The stratified mask counts m_i of one group (LLaDA's forward_process). */
export function maskLevels(k: number, L: number, b: number): number[] {
  return Array.from({ length: b }, (_, i) => ((roundHalfEven(k + (i * L) / b) - 1) % L) + 1);
}

/** Indices (into the scored positions) that sample i of group g masks: the m with the smallest keys. */
export function maskedSubset(rng: CounterRng, group: number, sample: number, L: number, m: number): number[] {
  const keys = Array.from({ length: L }, (_, j) => rng.uniform(EditStream.SCORE_ORDER, group, sample, j));
  const order = Array.from({ length: L }, (_, j) => j).sort((a, b) => keys[a] - keys[b] || a - b);
  return order.slice(0, m).sort((a, b) => a - b);
}

/** Max floats of logits fetched per forward (sub-batches keep big vocabularies in bounds). */
const MAX_LOGITS = 32 * 1024 * 1024;

export async function elboScore(model: LogitsModel, canvas: Canvas, opts: ScoreOptions, signal?: AbortSignal): Promise<ScoreResult> {
  const m = model.manifest;
  const MASK = m.mask_token_id;
  const V = m.vocab_size;
  if (!(Number.isInteger(opts.samples) && opts.samples >= 1)) throw new Error(`samples must be an integer >= 1, got ${opts.samples}`);
  const batch = opts.batchSize ?? 16;
  if (!(Number.isInteger(batch) && batch >= 1)) throw new Error(`batch size must be an integer >= 1, got ${batch}`);
  if (canvas.maskId !== MASK) throw new Error(`the canvas uses mask id ${canvas.maskId} but the model's mask id is ${MASK}`);
  const masked = canvas.tokens.findIndex((t, g) => t === MASK && !canvas.fixed[g]);
  if (masked >= 0) throw new Error(`the canvas still has masks (position ${masked}): score a finished canvas`);
  const cfg = opts.cfgScale ?? 0;
  const shift = opts.shiftLogits ?? m.shift_logits;
  const P = canvas.promptIds.length;
  const seq = [...canvas.promptIds, ...canvas.tokens];
  const S = seq.length;
  const scoredPos: number[] = [];
  canvas.tokens.forEach((_, g) => {
    if (!canvas.fixed[g]) scoredPos.push(P + g);
  });
  const L = scoredPos.length;
  if (L === 0) return { logLikelihood: 0, perToken: 0, scored: 0, samples: opts.samples, perSample: [] };
  const rows = scoredPos.map((p) => (shift ? Math.max(p - 1, 0) : p));
  const rng = new CounterRng(opts.seed);
  const row = new Float32Array(V);
  const perSample: number[] = [];
  const groups = Math.ceil(opts.samples / batch);
  const perForward = Math.max(1, Math.floor(MAX_LOGITS / (L * V * (cfg > 0 ? 2 : 1))));

  for (let group = 0; group < groups; group++) {
    if (signal?.aborted) throw abortError(group, groups);
    const b = Math.min(batch, opts.samples - group * batch);
    const k = 1 + Math.floor(rng.uniform(EditStream.SCORE_LEVEL, group, 0, 0) * L);
    const levels = maskLevels(k, L, b);
    const subsets = levels.map((lvl, i) => maskedSubset(rng, group, i, L, lvl));
    for (let from = 0; from < b; from += perForward) {
      const n = Math.min(perForward, b - from);
      const B = cfg > 0 ? 2 * n : n;
      const ids = new Int32Array(B * S);
      for (let i = 0; i < n; i++) {
        const x = ids.subarray(i * S, (i + 1) * S);
        x.set(seq);
        for (const j of subsets[from + i]) x[scoredPos[j]] = MASK;
        if (cfg > 0) {
          // Unconditional branch: the same sample with the context (prompt and fixed tokens) masked.
          const un = ids.subarray((n + i) * S, (n + i + 1) * S);
          un.set(x);
          for (let p = 0; p < S; p++) if (p < P || canvas.fixed[p - P]) un[p] = MASK;
        }
      }
      const logits = await model.forward(ids, B, S, rows);
      if (signal?.aborted) throw abortError(group, groups);
      for (let i = 0; i < n; i++) {
        const lvl = levels[from + i];
        let loss = 0;
        for (const j of subsets[from + i]) {
          const un = cfg > 0 ? logits.subarray(((n + i) * L + j) * V, ((n + i) * L + j + 1) * V) : null;
          guidedRow(row, logits.subarray((i * L + j) * V, (i * L + j + 1) * V), un, cfg);
          loss += crossEntropy(row, seq[scoredPos[j]]) / (lvl / L);
        }
        perSample.push(-loss);
      }
    }
  }
  const logLikelihood = perSample.reduce((a, v) => a + v, 0) / perSample.length;
  return { logLikelihood, perToken: logLikelihood / L, scored: L, samples: opts.samples, perSample };
}

/** -log softmax(row)[target], float64. */
export function crossEntropy(row: ArrayLike<number>, target: number): number {
  let max = -Infinity;
  for (let v = 0; v < row.length; v++) if (row[v] > max) max = row[v];
  let sum = 0;
  for (let v = 0; v < row.length; v++) sum += Math.exp(row[v] - max);
  return max + Math.log(sum) - row[target];
}

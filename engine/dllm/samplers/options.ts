// Sampler settings shared by the Denoise node, the sampler core and the parity fixtures.
import { validateSchedule, type Schedule } from "../schedules.js";

/**
 * How the positions to commit at a step are ranked ("remasking" in LLaDA's words: the rest stay masked).
 * - low_confidence: LLaDA. Untempered softmax probability of the chosen token.
 * - random: LLaDA. A uniform random number per position.
 * - maskgit_plus: Dream. Probability of the chosen token under the tempered, top-p/top-k filtered distribution.
 * - topk_margin: Dream. Top-1 minus top-2 probability of that distribution.
 * - entropy: Dream. Negative entropy of that distribution (sum p log(p + 1e-10)).
 */
export const REMASKING = ["low_confidence", "random", "maskgit_plus", "topk_margin", "entropy"] as const;
export type Remasking = (typeof REMASKING)[number];

export interface SamplerOptions {
  schedule: Schedule;
  /** 0 = greedy; > 0 samples with float64 Gumbel noise (LLaDA's add_gumbel_noise). */
  temperature: number;
  remasking: Remasking;
  /** Classifier-free guidance (LLaDA): 0 = off; logits = u + (scale + 1)(c - u), u with the prompt masked. */
  cfgScale: number;
  /** Seed of the counter-based generator (engine/dllm/rng.ts). */
  seed: number;
  /** Nucleus filtering of the token distribution (Dream's top_p); null or 1 = off. */
  topP?: number | null;
  /** Keep the k most likely tokens (Dream's top_k); null or 0 = off. */
  topK?: number | null;
  /** Dream's alg_temp: > 0 picks positions at random with weights softmax(score / alg_temp); 0/null = top scores. */
  algTemp?: number | null;
  /** LLaDA's logits_eos_inf: EOS can never be chosen. */
  logitsEosInf?: boolean;
  /** LLaDA's confidence_eos_eot_inf, as intended (ML-GSAI/LLaDA#137): positions predicting EOS/EoT are committed last. */
  confidenceEosEotInf?: boolean;
  /** Read the prediction for position j from output row j-1 (Dream). Absent: the model's maskflow.json. */
  shiftLogits?: boolean;
  /**
   * Fast-dLLM's block-wise approximate KV cache (needs a graph exported with one): "prefix" caches
   * the positions left of the current block at its first step and then feeds only the block and
   * what follows; "dual" also caches what follows and feeds only the block. Refreshed at every
   * block start. Changes outputs slightly (the cached K/V do not see later commits). Default "none".
   */
  cache?: CacheMode;
  /**
   * Use the graph's in-graph sampling head (top-k ids and log-probabilities, CFG combined in the
   * graph) when the step needs no more than that: temperature 0, no top_p/top_k, no
   * logits_eos_inf, low_confidence / random / maskgit_plus / topk_margin. Default true; false
   * moves full logits rows to JS every step (the reference path).
   */
  head?: boolean;
}

export const CACHE_MODES = ["none", "prefix", "dual"] as const;
export type CacheMode = (typeof CACHE_MODES)[number];

export function validateOptions(o: SamplerOptions): string | null {
  const bad = validateSchedule(o.schedule);
  if (bad) return bad;
  if (!(o.temperature >= 0 && Number.isFinite(o.temperature))) return `temperature must be >= 0, got ${o.temperature}`;
  if (!REMASKING.includes(o.remasking)) return `unknown remasking "${o.remasking}" (expected ${REMASKING.join(", ")})`;
  if (!(o.cfgScale >= 0 && Number.isFinite(o.cfgScale))) return `cfg_scale must be >= 0, got ${o.cfgScale}`;
  if (!Number.isSafeInteger(o.seed) || o.seed < 0) return `seed must be an integer in [0, 2^53), got ${o.seed}`;
  if (o.topP != null && !(o.topP > 0 && o.topP <= 1)) return `top_p must be in (0, 1], got ${o.topP}`;
  if (o.topK != null && !(Number.isInteger(o.topK) && o.topK >= 0)) return `top_k must be an integer >= 0, got ${o.topK}`;
  if (o.algTemp != null && !(o.algTemp >= 0 && Number.isFinite(o.algTemp))) return `alg_temp must be >= 0, got ${o.algTemp}`;
  if (o.cache != null && !CACHE_MODES.includes(o.cache)) return `unknown cache "${o.cache}" (expected ${CACHE_MODES.join(", ")})`;
  return null;
}

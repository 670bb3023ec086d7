// Maskflow-side variants of a workload, found by feature detection so the bench runs on the
// sampler as it is and as it grows (issue 7: in-graph head, KV cache, threshold decoding,
// batching). A variant that this checkout cannot run is reported with the reason, never faked.
//
// Detection rules (the one place to adjust when an API takes a different shape):
// - head-off:    SamplerOptions.head = false, where the engine has FastModel (isFastModel) and the
//                graph a top-k head: only the decided positions' logits rows cross to JS (the graph
//                gathers them) and JS does the softmax/argmax, instead of the head's top-k.
// - full-logits: a LogitsModel wrapper with no head at all: the whole [batch, seq, V] logits
//                cross to JS and the rows are picked there (what a plain LLaDA export costs).
// - cache-*:     SamplerOptions.cache = "prefix" | "dual" where validateOptions checks that field
//                and the model folder declares kv_cache.
// - threshold, factor: SCHEDULE_KINDS lists the kind; schedule.threshold τ = 0.9 (Fast-dLLM's
//                default) / schedule.factor f = 1.
// - candidates-<k>: GenerateHooks.candidates = k: the editor's inspector data (each step's top k
//                and entropy at every position it looks at) recorded; outputs are unchanged.
// - batched:     all rows at once: the engine's generateBatch(model, canvases, opts) -> canvases
//                if it exports one, else concurrent generate() calls on a model whose runtime
//                joins same-shape forwards into one session.run (DllmModel.batching).
import * as dllm from "../engine/dllm/index.js";
import type { Canvas, DllmModel, LogitsModel, SamplerOptions, Schedule } from "../engine/dllm/index.js";
import type { VariantName, Workload } from "./workloads.js";

export const THRESHOLD_TAU = 0.9;
export const FACTOR_F = 1;

/** How a variant changes a run. */
export interface VariantPlan {
  /** Options as the variant runs them. */
  options(base: SamplerOptions): SamplerOptions;
  /** The model the sampler sees. */
  model(base: DllmModel): LogitsModel;
  /** How the rows of the workload run: one after another, all at once through generateBatch, or as concurrent generate() calls. */
  rows: "sequential" | "generateBatch" | "concurrent";
  /** How the variant is switched on, for the report. */
  via: string;
  /** Hooks given to generate() (what is recorded besides the canvas). */
  hooks?: dllm.GenerateHooks;
}

export type Detected = { ok: true; plan: VariantPlan } | { ok: false; reason: string };

type Generate = (model: LogitsModel, start: Canvas, opts: SamplerOptions, hooks?: dllm.GenerateHooks) => Promise<Canvas>;
export type GenerateBatch = (model: LogitsModel, starts: Canvas[], opts: SamplerOptions) => Promise<Canvas[]>;

/** Does validateOptions look at `field` (it rejects a value of the wrong type there)? */
function optionChecked(field: string, bad: unknown, base: SamplerOptions): boolean {
  if (dllm.validateOptions(base) !== null) return false;
  return dllm.validateOptions({ ...base, [field]: bad } as SamplerOptions) !== null;
}

export function generateBatchFn(): GenerateBatch | null {
  const fn = (dllm as Record<string, unknown>).generateBatch;
  return typeof fn === "function" ? (fn as GenerateBatch) : null;
}

export const generateFn: Generate = dllm.generate;

/** The model without its sampling head: full logits cross to JS and the rows are picked there. */
export function fullLogits(inner: DllmModel): LogitsModel {
  return {
    get manifest() {
      return inner.manifest;
    },
    async forward(ids, batch, seq, rows) {
      const all = await inner.forward(ids, batch, seq);
      if (!rows) return all;
      const V = inner.manifest.vocab_size;
      const out = new Float32Array(batch * rows.length * V);
      for (let b = 0; b < batch; b++) {
        for (let r = 0; r < rows.length; r++) {
          const from = (b * seq + rows[r]) * V;
          out.set(all.subarray(from, from + V), (b * rows.length + r) * V);
        }
      }
      return out;
    },
  };
}

function plan(p: Partial<VariantPlan> & { via: string }): Detected {
  return {
    ok: true,
    plan: { options: p.options ?? ((o) => o), model: p.model ?? ((m) => m), rows: p.rows ?? "sequential", via: p.via, ...(p.hooks ? { hooks: p.hooks } : {}) },
  };
}

function withSchedule(o: SamplerOptions, extra: Record<string, unknown>): SamplerOptions {
  return { ...o, schedule: { ...o.schedule, ...extra } as Schedule };
}

function scheduleKind(kind: string): string | null {
  return (dllm.SCHEDULE_KINDS as readonly string[]).includes(kind)
    ? null
    : `the schedule kinds are ${dllm.SCHEDULE_KINDS.join(", ")} (no "${kind}" yet)`;
}

function cacheReason(model: DllmModel, base: SamplerOptions): string | null {
  if (!optionChecked("cache", "__probe__", base)) return "SamplerOptions has no checked `cache` option yet";
  if (!model.manifest.kv_cache) return "the model folder declares no kv_cache (export it with models/train/export.py --graph full)";
  return null;
}

/** "threshold" (τ 0.9), "threshold-<τ>", "factor" (f 1), "factor-<f>": Fast-dLLM's dynamic schedules. */
export function dynamicRule(name: VariantName): { kind: "threshold" | "factor"; value: number } | null {
  const m = /^(threshold|factor)(?:-(\d+(?:\.\d+)?))?$/.exec(name);
  if (!m) return null;
  const kind = m[1] as "threshold" | "factor";
  return { kind, value: m[2] !== undefined ? Number(m[2]) : kind === "threshold" ? THRESHOLD_TAU : FACTOR_F };
}

export function detect(name: VariantName, model: DllmModel, base: SamplerOptions, w: Workload): Detected {
  const rule = dynamicRule(name);
  if (rule) {
    const reason = scheduleKind(rule.kind);
    if (reason) return { ok: false, reason };
    const extra = rule.kind === "threshold" ? { kind: rule.kind, threshold: rule.value } : { kind: rule.kind, factor: rule.value };
    const label = rule.kind === "threshold" ? `τ = ${rule.value}` : `f = ${rule.value}`;
    return plan({ via: `schedule kind "${rule.kind}", ${label}`, options: (o) => withSchedule(o, extra) });
  }
  const recorded = /^candidates-(\d+)$/.exec(name);
  if (recorded) {
    const k = Number(recorded[1]);
    // the recorded lists are kept as the editor's snapshots keep them
    const kept: unknown[] = [];
    return plan({ via: `GenerateHooks.candidates = ${k}: each step's top ${k} and entropy recorded`, hooks: { candidates: k, onStep: (s) => void kept.push(s.candidates) } });
  }
  switch (name) {
    case "head-off": {
      const isFast = (dllm as Record<string, unknown>).isFastModel as ((m: LogitsModel) => boolean) | undefined;
      if (!isFast) return { ok: false, reason: "the engine has no FastModel / SamplerOptions.head yet" };
      const topK = isFast(model) ? ((model as unknown as { features?: { topK?: number } }).features?.topK ?? 0) : 0;
      if (!(topK > 0)) return { ok: false, reason: "the model graph has no top-k head (head_top_ids)" };
      return plan({ via: "SamplerOptions.head = false: decided rows' logits to JS", options: (o) => ({ ...o, head: false }) as SamplerOptions });
    }
    case "full-logits":
      return plan({ via: "no graph head: full [batch, seq, V] logits to JS", model: fullLogits });
    case "cache-prefix":
    case "cache-dual": {
      const reason = cacheReason(model, base);
      if (reason) return { ok: false, reason };
      const cache = name === "cache-prefix" ? "prefix" : "dual";
      return plan({ via: `SamplerOptions.cache = "${cache}"`, options: (o) => ({ ...o, cache }) as SamplerOptions });
    }
    case "half-steps": {
      const steps = Math.max(1, Math.round(w.steps / 2));
      return plan({ via: `schedule "${base.schedule.kind}", steps ${steps} (two tokens per step)`, options: (o) => withSchedule(o, { steps }) });
    }
    case "threshold+prefix": {
      const reason = scheduleKind("threshold") ?? cacheReason(model, base);
      if (reason) return { ok: false, reason };
      return plan({
        via: `schedule kind "threshold", τ = ${THRESHOLD_TAU}, cache "prefix" (Fast-dLLM's setting)`,
        options: (o) => ({ ...withSchedule(o, { kind: "threshold", threshold: THRESHOLD_TAU }), cache: "prefix" }) as SamplerOptions,
      });
    }
    case "batched": {
      if (w.promptIds.length < 2) return { ok: false, reason: "the workload has one row" };
      if (generateBatchFn()) return plan({ via: "generateBatch: all rows in each forward", rows: "generateBatch" });
      const batching = (model as unknown as { batching?: unknown }).batching;
      if (batching === true) return plan({ via: "concurrent generate() calls, joined into batched forwards by the runtime (DllmModel.batching)", rows: "concurrent" });
      return { ok: false, reason: "the engine has no generateBatch and its model does not join concurrent forwards (DllmModel.batching)" };
    }
    default:
      return { ok: false, reason: `unknown variant "${name}"` };
  }
}

// Measuring one workload: Maskflow and the reference taking turns, then Maskflow's variants and
// the Score of the outputs they change.
import { DllmModel, canvasText, createCanvas, type SamplerOptions } from "../engine/dllm/index.js";
import { countDiffering, duration, figures, firstDifference, round2, type Repeat } from "./figures.js";
import { peakRssMb } from "./machine.js";
import type { ReferenceClient } from "./reference-client.js";
import type { VariantResult, WorkloadResult } from "./report.js";
import { SCORE_SAMPLES, meanScore, type Scorer } from "./score.js";
import { detect, dynamicRule, generateBatchFn, generateFn, type VariantPlan } from "./variants.js";
import type { VariantName, Workload } from "./workloads.js";

export const log = (line: string) => process.stderr.write(line + "\n");

const round4 = (x: number) => Math.round(x * 1e4) / 1e4;

/** Pause before each timed run of the exact turn-taking, so neither side runs beside the other's spinning threads. */
const SETTLE_MS = 300;

/** EOS tokens per output row, mean over the rows. */
function eosPerRow(tokens: number[][], eos: number): number {
  return round2(tokens.reduce((n, row) => n + row.filter((t) => t === eos).length, 0) / Math.max(1, tokens.length));
}

/** Estimated cost of one run of a workload on one side, in (forward x positions) units. */
export function units(w: Workload): number {
  const rows = w.promptIds.length * (w.cfgScale > 0 ? 2 : 1);
  return rows * w.steps * (w.promptIds[0].length + w.genLength);
}

/** Estimated cost of scoring one output of a workload. */
export function scoreUnits(w: Workload): number {
  return w.promptIds.length * SCORE_SAMPLES * (w.promptIds[0].length + w.genLength);
}

/** Elapsed time and an ETA from the measured cost per unit on each side. */
export class Progress {
  private readonly t0 = performance.now();
  private readonly done = { maskflow: { units: 0, ms: 0 }, reference: { units: 0, ms: 0 } };
  /** Rough priors (ms per unit on an idle 2-core machine) until something is measured. */
  private readonly prior = { maskflow: 0.12, reference: 0.3 };
  remaining = { maskflow: 0, reference: 0 };

  record(side: "maskflow" | "reference", u: number, ms: number): void {
    this.done[side].units += u;
    this.done[side].ms += ms;
    this.remaining[side] = Math.max(0, this.remaining[side] - u);
  }

  private rate(side: "maskflow" | "reference"): number {
    const d = this.done[side];
    return d.units > 0 ? d.ms / d.units : this.prior[side];
  }

  eta(): number {
    return this.remaining.maskflow * this.rate("maskflow") + this.remaining.reference * this.rate("reference");
  }

  line(prefix: string): string {
    return `${prefix} · elapsed ${duration(performance.now() - this.t0)} · ETA ~${duration(this.eta())}`;
  }

  elapsedS(): number {
    return (performance.now() - this.t0) / 1000;
  }
}

export function baseOptions(w: Workload): SamplerOptions {
  return {
    schedule: { kind: "linear", steps: w.steps, blockLength: w.blockLength },
    temperature: w.temperature,
    remasking: w.remasking,
    cfgScale: w.cfgScale,
    seed: w.seed,
  };
}

/** Variants that change outputs by design: their Score is compared with the exact run's. */
export const CHANGES_OUTPUT = (name: VariantName): boolean =>
  dynamicRule(name) !== null || name === "half-steps" || name === "cache-prefix" || name === "cache-dual" || name === "threshold+prefix";

const EXACT: VariantPlan = { options: (o) => o, model: (m) => m, rows: "sequential", via: "exact" };

/** One timed Maskflow generation of every row of the workload. */
async function maskflowOnce(model: DllmModel, w: Workload, plan: VariantPlan): Promise<Repeat> {
  const opts = plan.options(baseOptions(w));
  const m = plan.model(model);
  const MASK = model.manifest.mask_token_id;
  const before = { ...model.stats };
  const t0 = performance.now();
  let tokens: number[][];
  if (plan.rows === "generateBatch") {
    const canvases = await generateBatchFn()!(m, w.promptIds.map((p) => createCanvas(p, w.genLength, MASK)), opts);
    tokens = canvases.map((c) => c.tokens);
  } else if (plan.rows === "concurrent") {
    const canvases = await Promise.all(w.promptIds.map((p) => generateFn(m, createCanvas(p, w.genLength, MASK), opts, plan.hooks)));
    tokens = canvases.map((c) => c.tokens);
  } else {
    tokens = [];
    for (const p of w.promptIds) tokens.push((await generateFn(m, createCanvas(p, w.genLength, MASK), opts, plan.hooks)).tokens);
  }
  const wallMs = performance.now() - t0;
  return { wallMs, modelMs: model.stats.ms - before.ms, forwards: model.stats.forwards - before.forwards, tokens };
}

function fromReference(r: { ms: number[]; model_ms: number[]; forwards: number; tokens: number[][] }): Repeat[] {
  return r.ms.map((ms, i) => ({ wallMs: ms, modelMs: r.model_ms[i], forwards: r.forwards, tokens: r.tokens }));
}

export interface Context {
  model: DllmModel;
  reference: ReferenceClient | null;
  /** Run the workloads' variants. */
  variants: boolean;
  /** Scores outputs that variants change (null when variants are off). */
  scorer: Scorer | null;
  progress: Progress;
}

/** Plans the ETA for these workloads. */
export function plan(ctx: Context, workloads: Workload[]): void {
  for (const w of workloads) {
    const u = units(w);
    const variants = ctx.variants ? w.variants : [];
    ctx.progress.remaining.maskflow += u * w.repeats * (1 + variants.length);
    if (ctx.reference) ctx.progress.remaining.reference += u * w.repeats;
    const scored = variants.filter((v) => CHANGES_OUTPUT(v)).length;
    if (ctx.scorer?.ok && scored) ctx.progress.remaining.maskflow += scoreUnits(w) * (1 + scored);
  }
}

/**
 * The exact run of a workload on both sides, taking turns repeat by repeat. Returns the result
 * and the exact run's tokens (null if Maskflow failed), which measureVariants compares against.
 */
export async function measureWorkload(ctx: Context, w: Workload, tag: string): Promise<{ res: WorkloadResult; exact: number[][] | null }> {
  const { model, reference, progress } = ctx;
  const u = units(w);
  const G = w.genLength * w.promptIds.length;
  const res: WorkloadResult = {
    name: w.name,
    prompt: w.prompt,
    batch: w.promptIds.length,
    prompt_tokens: w.promptIds[0].length,
    gen_length: w.genLength,
    steps: w.steps,
    block_length: w.blockLength,
    cfg_scale: w.cfgScale,
    temperature: w.temperature,
    remasking: w.remasking,
    seed: w.seed,
    repeats: w.repeats,
    ...(w.promptIds[0].length + w.genLength > model.manifest.max_length ? { over_max_length: true } : {}),
    maskflow: null,
    reference: null,
    ratio: null,
    mismatch: null,
    variants: [],
  };
  // The two sides take turns repeat by repeat, so both see the same machine load, each after a
  // pause: the idle reference keeps a core busy for ~130 ms after it answers (its OpenMP/OpenBLAS
  // threads spin before they sleep), which would otherwise be charged to the next Maskflow run.
  const settle = () => new Promise((r) => setTimeout(r, SETTLE_MS));
  const mRuns: Repeat[] = [];
  const rRuns: Repeat[] = [];
  let refPeak = 0;
  for (let r = 0; r < w.repeats; r++) {
    if (!res.maskflow_error) {
      log(progress.line(`${tag}: maskflow repeat ${r + 1}/${w.repeats}`));
      try {
        await settle();
        const run = await maskflowOnce(model, w, EXACT);
        mRuns.push(run);
        progress.record("maskflow", u, run.wallMs);
      } catch (err) {
        res.maskflow_error = (err as Error).message;
        log(`${tag}: Maskflow failed: ${res.maskflow_error}`);
      }
    }
    if (reference && !res.reference_error) {
      try {
        await settle();
        const out = await reference.run(w, 1);
        rRuns.push(...fromReference(out));
        refPeak = out.peak_rss_mb;
        progress.record("reference", u, out.ms[0]);
      } catch (err) {
        res.reference_error = (err as Error).message;
        log(`${tag}: reference failed: ${res.reference_error}`);
      }
    }
  }
  const exact = mRuns[mRuns.length - 1];
  if (exact) {
    res.maskflow = figures(mRuns, G, peakRssMb());
    res.maskflow_deterministic = mRuns.every((run) => countDiffering(run.tokens, exact.tokens).tokens === 0);
    res.sample_text = canvasText({ tokens: exact.tokens[0], maskId: model.manifest.mask_token_id }, model.tokenizer, model.manifest.eos_token_id);
  }
  if (rRuns.length && !res.reference_error) {
    res.reference = figures(rRuns, G, refPeak);
    if (res.maskflow) {
      res.ratio = round2(res.maskflow.tokens_per_s / res.reference.tokens_per_s);
      const refTokens = rRuns[rRuns.length - 1].tokens;
      const d = countDiffering(exact.tokens, refTokens);
      const first = firstDifference(exact.tokens, refTokens);
      res.mismatch = { ...d, of: G, ...(first ? { first } : {}) };
    }
  }
  const summary = [
    res.maskflow ? `Maskflow ${res.maskflow.tokens_per_s.toFixed(1)} tok/s (${res.maskflow.forwards} forwards)` : "Maskflow failed",
    res.reference ? `reference ${res.reference.tokens_per_s.toFixed(1)} tok/s, ratio ${res.ratio?.toFixed(2)}x` : null,
    res.mismatch ? `${res.mismatch.tokens} tokens differ` : null,
  ];
  log(`${tag}: ${summary.filter(Boolean).join(", ")}`);
  return { res, exact: exact?.tokens ?? null };
}

/**
 * Maskflow's variants of the workload, compared with its exact run (`exact`: that run's tokens),
 * and the Score of the outputs they change. Run after every exact run, so the exact runs' peak
 * RSS is not the variants' or the Score's (its batch-16 forwards hold much larger logits).
 */
export async function measureVariants(ctx: Context, w: Workload, res: WorkloadResult, exact: number[][], tag: string): Promise<void> {
  const { model, progress, scorer } = ctx;
  const u = units(w);
  const G = w.genLength * w.promptIds.length;
  const base = baseOptions(w);
  const variantTokens = new Map<VariantName, number[][]>();
  res.eos_tokens = eosPerRow(exact, model.manifest.eos_token_id);
  for (const name of w.variants) {
    const found = detect(name, model, base, w);
    if (!found.ok) {
      res.variants.push({ name, available: false, reason: found.reason });
      progress.record("maskflow", u * w.repeats, 0);
      continue;
    }
    const runs: Repeat[] = [];
    const v: VariantResult = { name, available: true, via: found.plan.via };
    try {
      for (let r = 0; r < w.repeats; r++) {
        log(progress.line(`${tag}: variant ${name} repeat ${r + 1}/${w.repeats}`));
        const run = await maskflowOnce(model, w, found.plan);
        runs.push(run);
        progress.record("maskflow", u, run.wallMs);
      }
      v.maskflow = figures(runs, G, peakRssMb());
      v.differ_from_exact = { ...countDiffering(runs[runs.length - 1].tokens, exact), of: G };
      v.speedup_vs_exact = round2(v.maskflow.tokens_per_s / res.maskflow!.tokens_per_s);
      variantTokens.set(name, runs[runs.length - 1].tokens);
      v.eos_tokens = eosPerRow(runs[runs.length - 1].tokens, model.manifest.eos_token_id);
      log(`${tag}: ${name}: ${v.maskflow.tokens_per_s.toFixed(1)} tok/s, ${v.maskflow.forwards} forwards, ${v.differ_from_exact.tokens} tokens differ from exact`);
    } catch (err) {
      v.available = false;
      v.reason = `failed: ${(err as Error).message}`;
      delete v.maskflow;
      log(`${tag}: ${name} failed: ${(err as Error).message}`);
    }
    res.variants.push(v);
  }
  // What the changed outputs are worth: Score per token, exact vs variant.
  const changed = res.variants.filter((v) => v.maskflow && CHANGES_OUTPUT(v.name));
  if (scorer?.ok && changed.length) {
    log(progress.line(`${tag}: Score of ${1 + changed.length} outputs`));
    const t = performance.now();
    try {
      res.score_per_token = round4(await meanScore(scorer.fn, model, w, exact));
      for (const v of changed) {
        const same = (v.differ_from_exact?.tokens ?? 1) === 0;
        v.score_per_token = same ? res.score_per_token : round4(await meanScore(scorer.fn, model, w, variantTokens.get(v.name)!));
        v.score_delta = round4(v.score_per_token - res.score_per_token);
      }
    } catch (err) {
      log(`${tag}: Score failed: ${(err as Error).message}`);
    }
    progress.record("maskflow", scoreUnits(w) * (1 + changed.length), performance.now() - t);
  }
}

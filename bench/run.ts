// `npm run bench`: Maskflow against the PyTorch reference on fixed workloads (issue 7).
// See bench/README.md for what is measured and how to read it.
import { mkdirSync, statSync, writeFileSync } from "node:fs";
import os from "node:os";
import { isAbsolute, join, relative, resolve } from "node:path";
import { parseArgs } from "node:util";
import { DllmModel, canvasText, createCanvas, type SamplerOptions } from "../engine/dllm/index.js";
import { countDiffering, duration, figures, firstDifference, round2, type Repeat } from "./figures.js";
import { ROOT, loadAvg, machine, peakRssMb, sha256, startup, type Timed } from "./machine.js";
import { ReferenceClient } from "./reference-client.js";
import { markdown, type Goal, type Results, type VariantResult, type WorkloadResult } from "./report.js";
import { SCORE_SAMPLES, SCORE_SEED, findScorer, meanScore } from "./score.js";
import { detect, generateBatchFn, generateFn, type VariantPlan } from "./variants.js";
import { FULL, QUICK, SMOKE, instantiate, type VariantName, type Workload } from "./workloads.js";

const HELP = `npm run bench -- [options]      (or: npx tsx bench/run.ts [options])

Runs fixed workloads on the default model with Maskflow and, in the same run, with the PyTorch
reference (bench/reference.py), checks the output tokens agree, and writes bench/results.json and
bench/results.md. Progress goes to stderr.

  --quick            a one-minute subset (one repeat each)
  --smoke            a few seconds on tiny shapes: checks the bench runs, measures nothing useful
  --no-reference     Maskflow only (no Python/torch needed)
  --no-startup       skip the CLI start-up figure
  --no-variants      skip the Maskflow variants (head off, cache, threshold, batched)
  --json             also print the results object on stdout
  --out DIR          where to write results.json and results.md (default: bench/)
  --filter TEXT      only workloads whose name contains TEXT (comma-separated: any of them)
  --threads N        threads for both sides (default: the machine's cores)
  --repeats N        timed repeats per workload and side (default: 3, 1 for the slowest)
  --python PATH      the Python with torch (default: /usr/bin/python3)
  --model DIR        model folder (default: models/default)
  -h, --help`;

interface Args {
  mode: Results["mode"];
  reference: boolean;
  startup: boolean;
  variants: boolean;
  json: boolean;
  out: string;
  filter: string[];
  threads: number;
  repeats: number | null;
  python: string;
  model: string;
}

function parse(argv: string[]): Args | null {
  const { values } = parseArgs({
    args: argv,
    options: {
      quick: { type: "boolean", default: false },
      smoke: { type: "boolean", default: false },
      "no-reference": { type: "boolean", default: false },
      "no-startup": { type: "boolean", default: false },
      "no-variants": { type: "boolean", default: false },
      json: { type: "boolean", default: false },
      out: { type: "string", default: join(ROOT, "bench") },
      filter: { type: "string" },
      threads: { type: "string" },
      repeats: { type: "string" },
      python: { type: "string", default: "/usr/bin/python3" },
      model: { type: "string", default: join(ROOT, "models", "default") },
      help: { type: "boolean", short: "h", default: false },
    },
    strict: true,
  });
  if (values.help) return null;
  const int = (v: string | undefined, what: string) => {
    if (v === undefined) return null;
    const n = Number(v);
    if (!Number.isInteger(n) || n < 1) throw new Error(`--${what} must be an integer >= 1, got ${v}`);
    return n;
  };
  return {
    mode: values.smoke ? "smoke" : values.quick ? "quick" : "full",
    reference: !values["no-reference"],
    startup: !values["no-startup"],
    variants: !values["no-variants"],
    json: values.json,
    out: resolve(values.out),
    filter: values.filter ? values.filter.split(",").map((s) => s.trim()).filter(Boolean) : [],
    threads: int(values.threads, "threads") ?? os.availableParallelism(),
    repeats: int(values.repeats, "repeats"),
    python: values.python,
    model: resolve(values.model),
  };
}

const round4 = (x: number) => Math.round(x * 1e4) / 1e4;

const log = (line: string) => process.stderr.write(line + "\n");

/** Estimated cost of one run of a workload on one side, in (forward x positions) units. */
function units(w: Workload): number {
  const rows = w.promptIds.length * (w.cfgScale > 0 ? 2 : 1);
  return rows * w.steps * (w.promptIds[0].length + w.genLength);
}

/** Elapsed time and an ETA from the measured cost per unit on each side. */
class Progress {
  private readonly t0 = performance.now();
  private readonly done = { maskflow: { units: 0, ms: 0 }, reference: { units: 0, ms: 0 } };
  /** Rough priors (ms per unit on an idle 2-core machine) until something is measured. */
  private readonly prior = { maskflow: 0.12, reference: 0.3 };
  remaining = { maskflow: 0, reference: 0 };
  startupMs = 0;

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
    return this.remaining.maskflow * this.rate("maskflow") + this.remaining.reference * this.rate("reference") + this.startupMs;
  }

  line(prefix: string): string {
    return `${prefix} · elapsed ${duration(performance.now() - this.t0)} · ETA ~${duration(this.eta())}`;
  }

  elapsedS(): number {
    return (performance.now() - this.t0) / 1000;
  }
}

function baseOptions(w: Workload): SamplerOptions {
  return {
    schedule: { kind: "linear", steps: w.steps, blockLength: w.blockLength },
    temperature: w.temperature,
    remasking: w.remasking,
    cfgScale: w.cfgScale,
    seed: w.seed,
  };
}

/** Variants that change outputs by design: their Score is compared with the exact run's. */
const CHANGES_OUTPUT: ReadonlySet<VariantName> = new Set(["threshold", "factor", "cache-prefix", "cache-dual", "threshold+prefix"]);

const EXACT: VariantPlan = { options: (o) => o, model: (m) => m, batched: false, via: "exact" };

/** One timed Maskflow generation of every row of the workload. */
async function maskflowOnce(model: DllmModel, w: Workload, plan: VariantPlan): Promise<Repeat> {
  const opts = plan.options(baseOptions(w));
  const m = plan.model(model);
  const MASK = model.manifest.mask_token_id;
  const before = { ...model.stats };
  const t0 = performance.now();
  let tokens: number[][];
  if (plan.batched) {
    const canvases = await generateBatchFn()!(m, w.promptIds.map((p) => createCanvas(p, w.genLength, MASK)), opts);
    tokens = canvases.map((c) => c.tokens);
  } else {
    tokens = [];
    for (const p of w.promptIds) tokens.push((await generateFn(m, createCanvas(p, w.genLength, MASK), opts)).tokens);
  }
  const wallMs = performance.now() - t0;
  return { wallMs, modelMs: model.stats.ms - before.ms, forwards: model.stats.forwards - before.forwards, tokens };
}

function fromReference(r: { ms: number[]; model_ms: number[]; forwards: number; tokens: number[][] }): Repeat[] {
  return r.ms.map((ms, i) => ({ wallMs: ms, modelMs: r.model_ms[i], forwards: r.forwards, tokens: r.tokens }));
}

function goals(results: WorkloadResult[], start: Results["startup"], withReference: boolean): Goal[] {
  const out: Goal[] = [];
  const g128 = results.filter((w) => w.gen_length === 128 && w.maskflow);
  const headline = g128.find((w) => w.name === "p8-g128-s128-b32") ?? g128[0];
  const pct = (x: number) => `${(x * 100).toFixed(1)}%`;
  if (withReference) {
    const rated = g128.filter((w) => w.ratio != null);
    if (rated.length) {
      const worst = rated.reduce((a, b) => (b.ratio! < a.ratio! ? b : a));
      const mismatched = rated.filter((w) => (w.mismatch?.tokens ?? 0) > 0);
      out.push({
        goal: "CPU tokens/s ≥ 2× the PyTorch reference at identical tokens, gen_length 128",
        measured:
          `${headline?.ratio != null ? `${headline.ratio.toFixed(2)}× on ${headline.name}; ` : ""}lowest ${worst.ratio!.toFixed(2)}× (${worst.name}) over ${rated.length} workloads; ` +
          `${mismatched.length ? `tokens differ in ${mismatched.map((w) => w.name).join(", ")}` : "all tokens identical"}`,
        met: worst.ratio! >= 2 && mismatched.length === 0,
      });
    }
  }
  if (g128.length) {
    const worst = g128.reduce((a, b) => (b.maskflow!.other_share > a.maskflow!.other_share ? b : a));
    out.push({
      goal: "time outside session.run < 10% of a step, gen_length 128",
      measured: `${headline ? `${pct(headline.maskflow!.other_share)} on ${headline.name}; ` : ""}highest ${pct(worst.maskflow!.other_share)} (${worst.name})`,
      met: worst.maskflow!.other_share < 0.1,
    });
  }
  // Against one-token-per-step decoding: workloads with steps = gen_length.
  const thr = results
    .filter((w) => w.steps === w.gen_length && w.maskflow)
    .flatMap((w) => w.variants.filter((v) => v.name === "threshold" && v.maskflow).map((v) => ({ w, v })));
  if (thr.length) {
    const parts = thr.map(
      ({ w, v }) =>
        `${w.name}: ${v.maskflow!.forwards} vs ${w.maskflow!.forwards} forwards, ${v.differ_from_exact?.tokens ?? "?"} tokens differ` +
        (v.score_delta != null ? `, Score ${v.score_delta >= 0 ? "+" : ""}${v.score_delta.toFixed(3)} nats/token (${v.score_per_token} vs ${w.score_per_token})` : ""),
    );
    out.push({
      goal: "threshold decoding (τ 0.9) needs at most half the forward passes of one-token-per-step decoding",
      measured: parts.join("; "),
      met: thr.every(({ w, v }) => v.maskflow!.forwards * 2 <= w.maskflow!.forwards),
    });
  }
  if (start) {
    const t = (x: Timed) =>
      x.ok ? `${(x.median_ms / 1000).toFixed(2)} s` : `failed (${x.error})`;
    out.push({
      goal: "`npx maskflow run workflows/hello.maskflow.json` under 2 s wall, start-up included",
      measured: `npx: median ${t(start.npx)}; node bin/maskflow.js: ${t(start.node)} (${start.build}${start.dist_stale ? ", stale" : ""})`,
      met: start.npx.ok ? start.npx.median_ms < 2000 : false,
    });
  }
  return out;
}

export async function main(argv: string[]): Promise<number> {
  let args: Args | null;
  try {
    args = parse(argv);
  } catch (err) {
    log(`${(err as Error).message}\n\n${HELP}`);
    return 2;
  }
  if (!args) {
    log(HELP);
    return 0;
  }
  const progress = new Progress();
  const mach = machine();
  log(`bench (${args.mode}): ${mach.cpu}, ${mach.cores} cores, load average ${mach.load_avg_start.join("/")}; threads ${args.threads}`);
  if (mach.load_avg_start[0] > mach.cores * 0.5) log(`note: the machine is busy (load average ${mach.load_avg_start[0]}): figures will be slow and noisy`);

  const model = await DllmModel.load(args.model, { threads: args.threads });
  const notes: string[] = [];
  try {
    // Warm-up outside any measurement (first-run allocations in onnxruntime and V8).
    const warm = { schedule: { kind: "linear", steps: 8, blockLength: 8 }, temperature: 0, remasking: "low_confidence", cfgScale: 0, seed: 0 } as const;
    await generateFn(model, createCanvas([5, 6, 7, 8], 8, model.manifest.mask_token_id), warm);

    const filter = args.filter;
    const defs = { full: FULL, quick: QUICK, smoke: SMOKE }[args.mode].filter((d) => filter.length === 0 || filter.some((f) => d.name.includes(f)));
    if (defs.length === 0) throw new Error(`no workload matches --filter ${filter.join(",")}`);
    const workloads = instantiate(defs, (t) => model.tokenizer.encode(t)).map((w) => (args.repeats ? { ...w, repeats: args.repeats } : w));

    let reference: ReferenceClient | null = null;
    let referenceError: string | undefined;
    if (args.reference) {
      log(`starting the reference (${args.python} bench/reference.py)...`);
      try {
        reference = await ReferenceClient.start(args.python, args.model, args.threads, (line) => log(progress.line(`  ${line}`)));
        log(`reference: torch ${reference.info.torch}, ${reference.info.blas}, ${reference.info.threads} threads`);
      } catch (err) {
        referenceError = (err as Error).message;
        log(`the reference did not start, going on without it: ${referenceError}`);
      }
    }

    const scorer = args.variants ? await findScorer() : null;
    const scoreUnits = (w: Workload) => w.promptIds.length * SCORE_SAMPLES * (w.promptIds[0].length + w.genLength);
    for (const w of workloads) {
      const u = units(w);
      progress.remaining.maskflow += u * w.repeats * (1 + (args.variants ? w.variants.length : 0));
      if (reference) progress.remaining.reference += u * w.repeats;
      const scored = args.variants ? w.variants.filter((v) => CHANGES_OUTPUT.has(v)).length : 0;
      if (scorer?.ok && scored) progress.remaining.maskflow += scoreUnits(w) * (1 + scored);
    }
    if (args.startup) progress.startupMs = 6 * 3000;

    const results: WorkloadResult[] = [];
    for (const [i, w] of workloads.entries()) {
      const tag = `[${i + 1}/${workloads.length}] ${w.name}`;
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
      // The two sides take turns repeat by repeat, so both see the same machine load.
      const mRuns: Repeat[] = [];
      const rRuns: Repeat[] = [];
      let refPeak = 0;
      for (let r = 0; r < w.repeats; r++) {
        if (!res.maskflow_error) {
          log(progress.line(`${tag}: maskflow repeat ${r + 1}/${w.repeats}`));
          try {
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

      if (args.variants && exact) {
        const base = baseOptions(w);
        const variantTokens = new Map<VariantName, number[][]>();
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
            v.differ_from_exact = { ...countDiffering(runs[runs.length - 1].tokens, exact.tokens), of: G };
            v.speedup_vs_exact = round2(v.maskflow.tokens_per_s / res.maskflow!.tokens_per_s);
            variantTokens.set(name, runs[runs.length - 1].tokens);
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
        const changed = res.variants.filter((v) => v.maskflow && CHANGES_OUTPUT.has(v.name));
        if (scorer?.ok && changed.length) {
          log(progress.line(`${tag}: Score of ${1 + changed.length} outputs`));
          const t = performance.now();
          try {
            res.score_per_token = round4(await meanScore(scorer.fn, model, w, exact.tokens));
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
      results.push(res);
    }
    await reference?.close();

    let start: Results["startup"] = null;
    if (args.startup) {
      log(progress.line("start-up: maskflow run workflows/hello.maskflow.json, 3 times with node and 3 with npx"));
      start = await startup(3);
      progress.startupMs = 0;
    }

    const maxLen = model.manifest.max_length;
    notes.push(
      "Both sides run the same weights (the reference loads them from model.onnx) with the same settings; the reference is " +
        "models/reference/llada_generate.py, LLaDA's generate with Maskflow's counter-based RNG (numpy Philox), run one prompt at a time. " +
        "Per-step figures divide by forward passes. Peak RSS is each process's peak so far (Maskflow: the bench's Node process with its ONNX worker).",
    );
    if (workloads.some((w) => w.promptIds[0].length + w.genLength > maxLen)) notes.push(`Workloads marked † exceed the model's max_length (${maxLen}).`);
    const onnx = model.onnxPath;
    const out: Results = {
      schema: 1,
      created: new Date().toISOString(),
      mode: args.mode,
      duration_s: Math.round(progress.elapsedS()),
      machine: { ...mach, load_avg_end: loadAvg() },
      settings: {
        model: {
          dir: isAbsolute(args.model) && args.model.startsWith(ROOT) ? relative(ROOT, args.model) : args.model,
          name: model.manifest.name ?? model.manifest.family,
          onnx_sha256: sha256(onnx),
          onnx_mb: round2(statSync(onnx).size / 2 ** 20),
          max_length: maxLen,
          graph_inputs: model.graph.inputNames,
          graph_outputs: model.graph.outputNames,
        },
        threads: { maskflow: args.threads, torch: reference ? reference.info.threads : null },
        reference: reference
          ? { python: args.python, torch: reference.info.torch, blas: reference.info.blas, threads: reference.info.threads, thread_env: reference.info.thread_env }
          : null,
        ...(referenceError ? { reference_error: referenceError } : args.reference ? {} : { reference_error: "skipped (--no-reference)" }),
        score: !args.variants
          ? null
          : scorer?.ok
            ? { via: scorer.via, samples: SCORE_SAMPLES, seed: SCORE_SEED, cfg_scale: 0, unit: "nats per generated token (Monte Carlo ELBO; higher = more likely)" }
            : { unavailable: scorer?.reason ?? "?" },
        repeats: args.repeats ? `${args.repeats} repeat(s) per workload and side, median reported` : "Median of each workload's repeats (3, or 1 for the slowest), the sides taking turns",
        ...(filter.length ? { filter: filter.join(",") } : {}),
        notes,
      },
      workloads: results,
      startup: start,
      goals: [],
    };
    out.goals = goals(results, start, reference !== null);
    mkdirSync(args.out, { recursive: true });
    writeFileSync(join(args.out, "results.json"), JSON.stringify(out, null, 2) + "\n");
    writeFileSync(join(args.out, "results.md"), markdown(out) + "\n");
    log(`wrote ${join(args.out, "results.json")} and results.md in ${duration(progress.elapsedS() * 1000)}`);
    if (args.json) await new Promise<void>((done) => process.stdout.write(JSON.stringify(out, null, 2) + "\n", () => done()));
    return 0;
  } finally {
    await model.dispose();
  }
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err: Error) => {
    log(`bench failed: ${err.stack ?? err.message}`);
    process.exit(1);
  },
);

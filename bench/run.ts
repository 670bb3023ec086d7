// `npm run bench`: Maskflow against the PyTorch reference on fixed workloads (issue 7).
// See bench/README.md for what is measured and how to read it.
import { mkdirSync, statSync, writeFileSync } from "node:fs";
import os from "node:os";
import { isAbsolute, join, relative, resolve } from "node:path";
import { parseArgs } from "node:util";
import { DllmModel, createCanvas } from "../engine/dllm/index.js";
import { duration, round2 } from "./figures.js";
import { goals } from "./goals.js";
import { ROOT, loadAvg, machine, sha256, startup } from "./machine.js";
import { Progress, log, measureVariants, measureWorkload, plan, type Context } from "./measure.js";
import { ReferenceClient } from "./reference-client.js";
import { markdown, type Results, type WorkloadResult } from "./report.js";
import { SCORE_SAMPLES, SCORE_SEED, findScorer } from "./score.js";
import { realSizeSection } from "./real-size/run.js";
import { generateFn } from "./variants.js";
import { FULL, QUICK, SMOKE, instantiate } from "./workloads.js";

const HELP = `npm run bench -- [options]      (or: npx tsx bench/run.ts [options])

Runs fixed workloads on the default model with Maskflow and, in the same run, with the PyTorch
reference (bench/reference.py), checks the output tokens agree, and writes bench/results.json and
bench/results.md. Progress goes to stderr.

  --quick            a one-minute subset (one repeat each)
  --smoke            a few seconds on tiny shapes: checks the bench runs, measures nothing useful
  --no-reference     Maskflow only (no Python/torch needed)
  --no-startup       skip the CLI start-up figure
  --no-variants      skip the Maskflow variants (head off, cache, threshold, batched)
  --no-real-size     skip the real-size section (LLaDA-8B- and Dream-7B-shaped models converted
                     at int4/int8, ~20 min and ~15 GB of disk; bench/real-size.md). --quick
                     skips it too; --smoke runs it on a tiny shape
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
  realSize: boolean;
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
      "no-real-size": { type: "boolean", default: false },
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
    realSize: !values["no-real-size"],
    json: values.json,
    out: resolve(values.out),
    filter: values.filter ? values.filter.split(",").map((s) => s.trim()).filter(Boolean) : [],
    threads: int(values.threads, "threads") ?? os.availableParallelism(),
    repeats: int(values.repeats, "repeats"),
    python: values.python,
    model: resolve(values.model),
  };
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

  // Start-up first, while nothing else of the bench is loaded or running: what a user's first
  // `maskflow run` meets on a quiet machine.
  let start: Results["startup"] = null;
  if (args.startup) {
    log(progress.line("start-up: maskflow run workflows/hello.maskflow.json, 3 times with node and 3 with npx"));
    start = await startup(3);
  }

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
    const ctx: Context = { model, reference, variants: args.variants, scorer, progress };
    plan(ctx, workloads);

    const results: WorkloadResult[] = [];
    const tag = (i: number) => `[${i + 1}/${workloads.length}] ${workloads[i].name}`;
    const exact: (number[][] | null)[] = [];
    for (const [i, w] of workloads.entries()) {
      const { res, exact: tokens } = await measureWorkload(ctx, w, tag(i));
      results.push(res);
      exact.push(tokens);
    }
    await reference?.close();
    if (args.variants) {
      for (const [i, w] of workloads.entries()) {
        const tokens = exact[i];
        if (w.variants.length && tokens) await measureVariants(ctx, w, results[i], tokens, tag(i));
      }
    }

    const maxLen = model.manifest.max_length;
    notes.push(
      "Both sides run the same weights (the reference loads them from model.onnx) with the same settings; the reference is " +
        "models/reference/llada_generate.py, LLaDA's generate with Maskflow's counter-based RNG (numpy Philox), run one prompt at a time. " +
        "Per-step figures divide by forward passes. Peak RSS is each process's peak so far (Maskflow: the bench's Node process with its ONNX worker); " +
        "Maskflow's variants and the Score run after all exact runs, so they do not raise the exact runs' peak.",
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
    if (args.realSize && args.mode !== "quick" && !filter.length) {
      await model.dispose();
      const smoke = args.mode === "smoke";
      log(smoke ? "real-size section on a tiny shape (smoke)" : "real-size section: LLaDA-8B- and Dream-7B-shaped models (about 20 minutes)");
      await realSizeSection({
        shapes: smoke ? ["tiny"] : ["llada8b", "dream7b"],
        dtypes: smoke ? ["int4"] : ["int4", "int8"],
        layers: smoke ? [1, 2] : [2, 8],
        full: [],
        repeats: smoke ? 1 : 3,
        threads: args.threads,
        work: smoke ? join(args.out, "real-size-work") : join(ROOT, "bench", "results", "real-size"),
        out: args.out,
        log,
      });
    }
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

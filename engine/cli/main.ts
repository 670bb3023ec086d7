// `maskflow`: run, validate and batch-run workflow files; list the node catalog; serve the editor.
// Exit codes: 0 ok; 1 a run failed; 2 invalid input (missing file, bad JSON, invalid workflow, bad flag).
import { Command, CommanderError, Option } from "commander";
import { writeFile } from "node:fs/promises";
import { shutdownWorkers } from "../dllm/runtime/worker-client.js";
import { checkWorkflow, Executor, formatIssue, loadWorkflowFile, parseSetFlag, readWorkflowJson, WorkflowError } from "../index.js";
import { resolveLimits, type Limits } from "../limits.js";
import { capIssues } from "../workflow/issues.js";
import { workflowJsonSchema } from "../workflow/schema.js";
import { runBatch } from "./batch.js";
import { formatTable, runSweep } from "./sweep.js";
import { addConvertCommands } from "./convert.js";
import { addQueueCommands, runBatchOnQueue } from "./queue.js";
import { RunProgress } from "./progress.js";
import { EXIT, UsageError } from "./exit.js";
import { printOutputs } from "./print.js";
import { cliNodes } from "./registry.js";
import { printCatalog } from "./catalog.js";

function collect(value: string, previous: string[]): string[] {
  return [...previous, value];
}

function overridesFrom(sets: string[]): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const s of sets) {
    try {
      const [key, value] = parseSetFlag(s);
      out[key] = value;
    } catch (err) {
      throw new UsageError((err as Error).message);
    }
  }
  return out;
}

/** The limits in force for a command: defaults, MASKFLOW_LIMITS, then its --limit flags. */
function limitsFrom(settings: string[]): Limits {
  try {
    return resolveLimits(settings);
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
}

const LIMIT_FLAG = ["--limit <name=value>", "set a limit (e.g. maxValueBytes=16MiB; see engine/server/README.md#security); repeatable"] as const;

export function buildProgram(): Command {
  const program = new Command("maskflow")
    .description("Node-graph workflows for masked diffusion language models")
    .version("0.1.0")
    .exitOverride()
    .configureOutput({ writeErr: (s) => process.stderr.write(s) });

  program
    .command("run")
    .description("run a workflow and print each output node's result")
    .argument("<file>", "a .maskflow.json workflow")
    .option("--set <nodeId.input=value>", "override an input (JSON when it parses, else a string); repeatable", collect, [])
    .option("--json", "print one JSON object {status, outputs, error, warnings, stats} on stdout and nothing else (docs/cli-json.md)")
    .option(...LIMIT_FLAG, collect, [])
    .action(async (file: string, opts: { set: string[]; json?: boolean; limit: string[] }) => {
      const limits = limitsFrom(opts.limit);
      const { registry } = await cliNodes();
      const overrides = overridesFrom(opts.set);
      // Shape, overrides and graph in one pass, so a file with several faults lists them all.
      const checked = checkWorkflow(await readWorkflowJson(file, limits), registry, overrides, limits);
      if (!checked.ok) throw new WorkflowError(checked.issues);
      const doc = checked.doc;
      const executor = new Executor(registry, { limits });
      const controller = new AbortController();
      const onSigint = (): void => controller.abort();
      process.once("SIGINT", onSigint);
      const progress = new RunProgress(process.stderr, !opts.json);
      try {
        const result = await executor.run(doc, {
          overrides,
          signal: controller.signal,
          onEvent: (e) => progress.onEvent(e),
        });
        progress.stop();
        if (opts.json) {
          process.stdout.write(
            JSON.stringify({ status: result.status, outputs: result.outputs, error: result.error, warnings: result.warnings, stats: result.stats }) + "\n",
          );
        } else {
          printOutputs(result.outputs, doc);
          for (const w of result.warnings) process.stderr.write(`warning in ${w.nodeId}: ${w.message}\n`);
        }
        if (result.status === "cancelled") {
          process.stderr.write("cancelled\n");
          process.exitCode = EXIT.FAILED;
        } else if (result.status === "failed" && result.error) {
          const where = result.error.input ? `${result.error.nodeId}.${result.error.input}` : result.error.nodeId;
          process.stderr.write(`error in ${where}: ${result.error.message}\n`);
          process.exitCode = EXIT.FAILED;
        }
      } finally {
        progress.stop();
        process.off("SIGINT", onSigint);
        executor.clearCache();
      }
    });

  program
    .command("validate")
    .description("check workflows without running them; lists every problem (exit 2) or says each is valid")
    .argument("<files...>", ".maskflow.json workflows")
    .option("--json", "print {valid, issues} as JSON (one line per file, with its name, when there are several)")
    .option(...LIMIT_FLAG, collect, [])
    .action(async (files: string[], opts: { json?: boolean; limit: string[] }) => {
      const limits = limitsFrom(opts.limit);
      const { registry } = await cliNodes();
      for (const file of files) {
        let issues;
        try {
          issues = checkWorkflow(await readWorkflowJson(file, limits), registry, {}, limits).issues;
        } catch (err) {
          if (!(err instanceof WorkflowError)) throw err;
          issues = err.issues;
        }
        const shown = capIssues(issues, limits.maxIssues);
        if (opts.json) process.stdout.write(JSON.stringify({ ...(files.length > 1 ? { file } : {}), valid: issues.length === 0, issues: shown }) + "\n");
        else if (issues.length === 0) process.stdout.write(`${file}: valid\n`);
        else process.stderr.write(`${file}: ${issues.length} problem${issues.length > 1 ? "s" : ""}\n${shown.map((i) => "  " + formatIssue(i)).join("\n")}\n`);
        if (issues.length) process.exitCode = EXIT.INVALID;
      }
    });

  program
    .command("nodes")
    .description("list the node types this Maskflow knows (built in, and from node packages) and where each comes from")
    .option("--json", "print the catalog as JSON")
    .action(async (opts: { json?: boolean }) => {
      const { registry, skipped } = await cliNodes();
      if (opts.json) process.stdout.write(JSON.stringify(registry.catalog(), null, 2) + "\n");
      else printCatalog(registry.catalog(), skipped, process.stdout);
    });

  program
    .command("batch")
    .description("run a workflow once per line of a JSONL file of overrides; results are appended as jobs finish and a rerun resumes")
    .argument("<file>", "a .maskflow.json workflow")
    .requiredOption("--inputs <jobs.jsonl>", 'one JSON object of overrides per line, e.g. {"prompt.text": "Once"}')
    .requiredOption("--out <results.jsonl>", "where results are appended (and read back to resume)")
    .addOption(new Option("--concurrency <n>", "jobs in flight at once").default(1).argParser(positiveInt))
    .option("--retry-failed", "rerun jobs whose earlier result was an error")
    .option("--json", "print a JSON summary on stdout")
    .option(...LIMIT_FLAG, collect, [])
    .action(async (file: string, opts: { inputs: string; out: string; concurrency: number; retryFailed?: boolean; json?: boolean; limit: string[]; redis?: string; attempts: number; backoff: number }) => {
      const limits = limitsFrom(opts.limit);
      const doc = await loadWorkflowFile(file, limits);
      // With --redis the workers run the jobs (under their own limits).
      const summary = opts.redis
        ? await runBatchOnQueue(doc, { ...opts, redis: opts.redis, stderr: process.stderr })
        : await runBatch(doc, { ...opts, limits, registry: (await cliNodes()).registry, stderr: process.stderr });
      if (opts.json) process.stdout.write(JSON.stringify(summary) + "\n");
      else process.stderr.write(`${summary.ok} ok, ${summary.failed} failed, ${summary.skipped} already done, results in ${opts.out}\n`);
      if (summary.interrupted) process.exitCode = EXIT.FAILED;
      else if (summary.failed > 0) process.exitCode = EXIT.FAILED;
    });

  program
    .command("sweep")
    .description("run a workflow over a grid of input values (and seeds), read one metric from each run, and write the table and a chart")
    .argument("<file>", "a .maskflow.json workflow")
    .option("--vary <nodeId.input=values>", "an input to vary: comma-separated values (JSON when they parse) or a range 1..8; repeatable (the first is the chart's x axis)", collect, [])
    .option("--repeat <seeds=1..8>", "run every setting once per seed: seeds=... sets every input named seed, <nodeId>.<input>=... one input")
    .requiredOption("--metric <nodeId.output[.field]>", "the number each run is judged by, e.g. score.score (booleans count as 1 and 0)")
    .option("--set <nodeId.input=value>", "a fixed override for every run; repeatable", collect, [])
    .option("--out <sweep.csv|sweep.json>", "every cell (CSV) or cells and table (JSON); finished cells also go to <out>.cells.jsonl, and a rerun resumes from it")
    .option("--plot <sweep.svg|sweep.vl.json>", "the chart as SVG, or its Vega-Lite spec")
    .addOption(new Option("--x <axis>", "the chart's x axis: the first varied input, or the forward passes or wall time of each run").choices(["setting", "forwards", "ms"]).default("setting"))
    .option("--json", "print a JSON summary (cells, ok, failed, skipped, table) on stdout")
    .option(...LIMIT_FLAG, collect, [])
    .action(async (file: string, opts: { vary: string[]; repeat?: string; metric: string; set: string[]; out?: string; plot?: string; x: "setting" | "forwards" | "ms"; json?: boolean; limit: string[] }) => {
      const limits = limitsFrom(opts.limit);
      const doc = await loadWorkflowFile(file, limits);
      const summary = await runSweep(doc, { ...opts, overrides: overridesFrom(opts.set), limits, registry: (await cliNodes()).registry, stderr: process.stderr });
      if (opts.json) process.stdout.write(JSON.stringify(summary) + "\n");
      else {
        process.stdout.write(formatTable(opts.vary.map((v) => v.slice(0, v.indexOf("="))), opts.metric, summary.table));
        const wrote = [summary.out, summary.plot].filter(Boolean).join(" and ");
        process.stderr.write(`${summary.ok} cells ok, ${summary.failed} failed, ${summary.skipped} already done${wrote ? `; wrote ${wrote}` : ""}\n`);
      }
      if (summary.interrupted || summary.failed > 0) process.exitCode = EXIT.FAILED;
    });

  program
    .command("serve")
    .description("serve the editor and the API (http://127.0.0.1:8188/ by default)")
    .option("--port <port>", "port (0 picks a free one)", "8188")
    .option("--host <host>", "interface to bind; anything but loopback requires a token", "127.0.0.1")
    .option("--token <token>", "require this token on every request (generated and printed when binding beyond loopback)")
    .option("--models <dir>", "also load models and adapters from this folder (besides models/ and the user models folder); repeatable", collect, [])
    .option(...LIMIT_FLAG, collect, [])
    .action(async (opts: { port: string; host: string; token?: string; models: string[]; limit: string[] }) => {
      const { serve } = await import("../server/serve.js");
      if (!/^\d+$/.test(opts.port)) throw new UsageError(`--port must be a port number, got "${opts.port}"`);
      const limits = limitsFrom(opts.limit);
      await serve({ ...opts, limits, registry: (await cliNodes()).registry });
      await new Promise(() => undefined); // serve until SIGINT/SIGTERM (serve() exits the process)
    });

  addConvertCommands(program);
  addQueueCommands(program);

  program
    .command("desktop")
    .description("open the editor in the desktop app (Electron; its binary is fetched on first use)")
    .argument("[files...]", ".maskflow.json workflows to open")
    .action(async (files: string[]) => {
      const { runDesktop, DesktopError } = await import("./desktop.js");
      try {
        process.exitCode = await runDesktop(files);
      } catch (err) {
        if (!(err instanceof DesktopError)) throw err;
        process.stderr.write(`maskflow desktop: ${err.message}\n`);
        process.exitCode = EXIT.FAILED;
      }
    });

  program
    .command("schema")
    .description("print (or write) the workflow JSON Schema")
    .option("--out <file>", "write it to a file")
    .action(async (opts: { out?: string }) => {
      const text = JSON.stringify(workflowJsonSchema(), null, 2) + "\n";
      if (opts.out) await writeFile(opts.out, text);
      else process.stdout.write(text);
    });

  return program;
}

function positiveInt(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new UsageError(`expected a whole number >= 1, got "${value}"`);
  return n;
}

/** The limits from the environment alone, or the defaults when MASKFLOW_LIMITS is malformed (reported elsewhere). */
function resolveLimitsQuietly(): Limits {
  try {
    return resolveLimits();
  } catch {
    return resolveLimits({}, "");
  }
}

export async function main(argv: string[]): Promise<number> {
  try {
    return await runCommand(argv);
  } finally {
    // Before the caller exits: a worker torn down mid-load would abort the process (exit 134).
    await shutdownWorkers();
  }
}

async function runCommand(argv: string[]): Promise<number> {
  const program = buildProgram();
  try {
    await program.parseAsync(argv, { from: "user" });
    return typeof process.exitCode === "number" ? process.exitCode : EXIT.OK;
  } catch (err) {
    if (err instanceof CommanderError) {
      // help and version are exits with code 0; everything else is a bad flag
      return err.exitCode === 0 ? EXIT.OK : EXIT.INVALID;
    }
    if (err instanceof WorkflowError) {
      const shown = capIssues(err.issues, resolveLimitsQuietly().maxIssues);
      process.stderr.write(`invalid workflow: ${err.issues.length} problem${err.issues.length > 1 ? "s" : ""}\n${shown.map((i) => "  " + formatIssue(i)).join("\n")}\n`);
      return EXIT.INVALID;
    }
    if (err instanceof UsageError) {
      process.stderr.write(`error: ${err.message}\n`);
      return EXIT.INVALID;
    }
    process.stderr.write(`error: ${err instanceof Error ? err.message : String(err)}\n`);
    if (process.env.MASKFLOW_DEBUG) process.stderr.write(`${(err as Error).stack}\n`);
    return EXIT.FAILED;
  }
}

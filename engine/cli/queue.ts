// The multi-machine mode's commands: `maskflow worker`, and `--redis` on `batch` and `serve`
// (the queue itself is engine/queue). BullMQ is imported only when one of them runs, so other
// commands start as fast as before.
import { appendFileSync } from "node:fs";
import { Option, type Command } from "commander";
import { resolveLimits, type Limits } from "../limits.js";
import type { WorkflowDoc } from "../workflow/schema.js";
import type { BatchSummary } from "./batch.js";
import { readDone, readJobs, type BatchResult } from "./batch.js";
import { RedisUrlError, redisTarget } from "../queue/connection.js";
import type { QueueWorker } from "../queue/index.js";
import { UsageError } from "./exit.js";
import { cliNodes } from "./registry.js";
import { progressText, Throughput } from "./throughput.js";

const REDIS_HELP = "a Redis URL (redis://[user:password@]host:port[/db], rediss:// for TLS; MASKFLOW_REDIS_CA names a PEM file for a private CA)";

function wholeNumber(min: number) {
  return (value: string): number => {
    const n = Number(value);
    if (!Number.isInteger(n) || n < min) throw new UsageError(`expected a whole number >= ${min}, got "${value}"`);
    return n;
  };
}

function collect(value: string, previous: string[]): string[] {
  return [...previous, value];
}

/** Adds `maskflow worker`, and the --redis options of `batch` and `serve`. */
export function addQueueCommands(program: Command): void {
  const batch = program.commands.find((c) => c.name() === "batch");
  batch
    ?.option("--redis <url>", `enqueue the jobs on a Redis queue for \`maskflow worker\`s to run: ${REDIS_HELP}`)
    .addOption(new Option("--attempts <n>", "with --redis: tries per job before it is recorded as failed").default(1).argParser(wholeNumber(1)))
    .addOption(new Option("--backoff <ms>", "with --redis: wait before the first retry, doubled each time").default(1000).argParser(wholeNumber(0)));
  program.commands.find((c) => c.name() === "serve")?.option("--redis <url>", `run the editor's runs on \`maskflow worker\`s through Redis: ${REDIS_HELP}`);
  // A bad URL is a bad flag (exit 2), found before anything starts.
  for (const command of [batch, program.commands.find((c) => c.name() === "serve")]) {
    command?.hook("preAction", (_cmd, action) => {
      const url = (action.opts() as { redis?: string }).redis;
      if (url === undefined) return;
      try {
        redisTarget(url);
      } catch (err) {
        if (err instanceof RedisUrlError) throw new UsageError(err.message);
        throw err;
      }
    });
  }

  program
    .command("worker")
    .description("take runs from a Redis queue (batch --redis, serve --redis) and run them; SIGTERM finishes the running jobs and exits, a second SIGTERM hands them back")
    .requiredOption("--redis <url>", REDIS_HELP)
    .addOption(new Option("--concurrency <n>", "runs at once (same-shape forwards are batched together)").default(1).argParser(wholeNumber(1)))
    .option("--device <device>", "run every Load Model on this device (cpu, cuda, dml, coreml, webgpu), whatever the workflow says")
    .option("--models <dir>", "load models and adapters only from this folder; repeatable (default: the bundled models/ and ~/.maskflow/models or MASKFLOW_MODELS)", collect, [])
    .option("--name <id>", "this worker's name in results and the editor's queue (default: host-pid)")
    .addOption(new Option("--lock-ms <ms>", "how long a job's lock lasts unrenewed: a killed worker's job is taken over after about this long").default(30_000).argParser(wholeNumber(1000)))
    .option("--limit <name=value>", "set a limit for the jobs it runs (e.g. maxModels=2; see engine/server/README.md#security); repeatable", collect, [])
    .action(async (opts: { redis: string; concurrency: number; device?: string; models: string[]; name?: string; lockMs: number; limit: string[] }) => {
      // As on serve: defaults, MASKFLOW_LIMITS, then --limit; a bad one is a bad flag (exit 2).
      let limits: Limits;
      try {
        limits = resolveLimits(opts.limit);
      } catch (err) {
        throw new UsageError((err as Error).message);
      }
      // Listening before the worker starts: a signal during start-up (Redis not reachable yet, say)
      // ends the process at once, as no job can have been taken before the worker exists.
      let signals = 0;
      let worker: QueueWorker | null = null;
      const onSignal = (signal: NodeJS.Signals) => {
        signals++;
        if (!worker) {
          console.log(`maskflow worker: ${signal} before it took any job; exiting`);
          process.exit(0);
        } else if (signals === 1) {
          console.log(`maskflow worker ${worker.id}: ${signal}, taking no new jobs (${signal} again hands the running ones back)`);
          void worker.stop();
        } else if (signals === 2) {
          console.log(`maskflow worker ${worker.id}: ${signal} again, handing the running jobs back`);
          void worker.handBack();
        } else process.exit(1);
      };
      process.on("SIGTERM", onSignal);
      process.on("SIGINT", onSignal);
      const { startQueueWorker } = await import("../queue/index.js");
      const { registry } = await cliNodes();
      try {
        worker = await startQueueWorker({ redis: opts.redis, registry, concurrency: opts.concurrency, device: opts.device, models: opts.models, id: opts.name, lockMs: opts.lockMs, limits });
      } catch (err) {
        if (err instanceof RedisUrlError) throw new UsageError(err.message);
        throw err;
      }
      const started = worker;
      await started.closed;
      console.log(`maskflow worker ${started.id}: stopped`);
    });
}

export interface QueueBatchOptions {
  inputs: string;
  out: string;
  redis: string;
  retryFailed?: boolean;
  attempts: number;
  backoff: number;
  stderr: NodeJS.WriteStream;
}

/** `maskflow batch --redis`: the local batch's files and lines, the running done by workers. */
export async function runBatchOnQueue(doc: WorkflowDoc, opts: QueueBatchOptions): Promise<BatchSummary> {
  const { runQueuedBatch } = await import("../queue/index.js");
  const jobs = readJobs(opts.inputs);
  const done = readDone(opts.out, opts.retryFailed ?? false);
  const todo = jobs.filter((j) => !done.has(j.line));
  const summary: BatchSummary = { total: jobs.length, ok: 0, failed: 0, skipped: jobs.length - todo.length, interrupted: false };
  const append = (r: BatchResult | object) => appendFileSync(opts.out, JSON.stringify(r) + "\n");
  // Lines that are not a JSON object fail here, as in a local batch: no worker could run them.
  for (const job of todo.filter((j) => j.problem)) {
    opts.stderr.write(`${job.problem}\n`);
    append({ line: job.line, overrides: null, status: "error", error: { nodeId: null, input: null, message: job.problem } });
    summary.failed++;
  }
  const controller = new AbortController();
  const abort = () => controller.abort();
  process.once("SIGINT", abort);
  process.once("SIGTERM", abort);
  const bar = opts.stderr.isTTY ? await progressBar(opts.stderr) : null;
  try {
    const { interrupted } = await runQueuedBatch({
      redis: opts.redis,
      doc,
      jobs: todo.filter((j) => !j.problem).map((j) => ({ line: j.line, overrides: j.overrides ?? {} })),
      written: jobs.filter((j) => done.has(j.line) && !j.problem).map((j) => ({ line: j.line, overrides: j.overrides ?? {} })),
      retryFailed: opts.retryFailed,
      attempts: opts.attempts,
      backoffMs: opts.backoff,
      signal: controller.signal,
      // One append per result, before the job leaves Redis: a crash here loses nothing.
      record: (result) => {
        append(result);
        if (result.status === "ok") summary.ok++;
        else summary.failed++;
      },
      progress: (p) => bar?.update(p),
      log: (line) => opts.stderr.write(`${bar ? "\n" : ""}${line}\n`),
    });
    summary.interrupted = interrupted;
  } finally {
    bar?.stop();
    process.off("SIGINT", abort);
    process.off("SIGTERM", abort);
  }
  if (summary.interrupted) opts.stderr.write("interrupted: the remaining jobs stay queued (or running) on the workers; rerun the same command to collect them\n");
  return summary;
}

async function progressBar(stream: NodeJS.WriteStream) {
  const { default: cliProgress } = await import("cli-progress");
  const bar = new cliProgress.SingleBar({ stream, format: "batch |{bar}| {text}", hideCursor: true }, cliProgress.Presets.shades_classic);
  const pace = new Throughput();
  let started = false;
  let lastDone = 0;
  return {
    update(p: { done: number; failed: number; total: number; workers: number }) {
      const now = Date.now();
      for (; lastDone < p.done; lastDone++) pace.add(now);
      const text = progressText({ ...p, rate: pace.rate(now) });
      if (!started) bar.start(p.total, p.done, { text });
      else bar.update(p.done, { text });
      started = true;
    },
    stop: () => bar.stop(),
  };
}

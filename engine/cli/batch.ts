// `maskflow batch`: one run per line of a JSONL file of overrides. Each result is appended to
// the results file as its job finishes, so a crash or Ctrl-C loses nothing finished, and a rerun
// of the same command skips the jobs already recorded.
import cliProgress from "cli-progress";
import { appendFileSync, existsSync, readFileSync, truncateSync } from "node:fs";
import type { Limits } from "../limits.js";
import { Executor } from "../run/executor.js";
import type { NodeRegistry } from "../registry.js";
import { formatIssue, WorkflowError } from "../workflow/issues.js";
import type { WorkflowDoc } from "../workflow/schema.js";
import { UsageError } from "./exit.js";

export interface BatchOptions {
  inputs: string;
  out: string;
  concurrency: number;
  retryFailed?: boolean;
  registry: NodeRegistry;
  /** Limits in force (default: DEFAULT_LIMITS). */
  limits?: Limits;
  stderr?: NodeJS.WriteStream;
  signal?: AbortSignal;
}

export interface BatchSummary {
  total: number;
  ok: number;
  failed: number;
  skipped: number;
  interrupted: boolean;
}

export interface BatchResult {
  line: number;
  overrides: Record<string, unknown> | null;
  status: "ok" | "error";
  outputs?: Record<string, unknown>;
  error?: { nodeId: string | null; input: string | null; message: string };
  ms?: number;
}

export interface Job {
  line: number;
  overrides: Record<string, unknown> | null;
  problem?: string;
}

export function readJobs(path: string): Job[] {
  if (!existsSync(path)) throw new UsageError(`cannot read --inputs ${path}: no such file`);
  const jobs: Job[] = [];
  readFileSync(path, "utf8")
    .split("\n")
    .forEach((text, i) => {
      if (!text.trim()) return;
      const line = i + 1;
      try {
        const value: unknown = JSON.parse(text);
        if (typeof value !== "object" || value === null || Array.isArray(value)) {
          jobs.push({ line, overrides: null, problem: `line ${line}: expected a JSON object of overrides like {"node.input": value}` });
        } else jobs.push({ line, overrides: value as Record<string, unknown> });
      } catch (err) {
        jobs.push({ line, overrides: null, problem: `line ${line}: not valid JSON (${(err as Error).message})` });
      }
    });
  return jobs;
}

/** A results log's complete lines; a torn last line (a crash mid-write) is cut off the file so appends stay valid JSONL. */
export function readCompleteLines(path: string): string[] {
  if (!existsSync(path)) return [];
  const text = readFileSync(path, "utf8");
  const complete = text.endsWith("\n") ? text : text.slice(0, text.lastIndexOf("\n") + 1);
  if (complete.length !== text.length) truncateSync(path, Buffer.byteLength(complete));
  return complete.split("\n").filter((l) => l.trim());
}

/** Lines already recorded. */
export function readDone(path: string, retryFailed: boolean): Set<number> {
  const done = new Set<number>();
  for (const row of readCompleteLines(path)) {
    try {
      const r = JSON.parse(row) as BatchResult;
      if (typeof r.line === "number" && (r.status === "ok" || !retryFailed)) done.add(r.line);
    } catch {
      // a foreign line: leave it, it names no job
    }
  }
  return done;
}

/** Ctrl-C, SIGTERM and the caller's signal all stop a long command between runs; release() when done. */
export function interruptible(signal?: AbortSignal): { controller: AbortController; release(): void } {
  const controller = new AbortController();
  const abort = (): void => controller.abort();
  signal?.addEventListener("abort", abort);
  process.once("SIGINT", abort);
  process.once("SIGTERM", abort);
  return {
    controller,
    release: () => {
      process.off("SIGINT", abort);
      process.off("SIGTERM", abort);
      signal?.removeEventListener("abort", abort);
    },
  };
}

/** A progress bar on stderr when it is a terminal (null otherwise), started at 0 of `total`. */
export function progressBar(stderr: NodeJS.WriteStream | undefined, format: string, total: number, payload: Record<string, unknown>): cliProgress.SingleBar | null {
  if (stderr?.isTTY !== true) return null;
  const bar = new cliProgress.SingleBar({ stream: stderr, format, hideCursor: true }, cliProgress.Presets.shades_classic);
  bar.start(total, 0, payload);
  return bar;
}

export async function runBatch(doc: WorkflowDoc, opts: BatchOptions): Promise<BatchSummary> {
  const jobs = readJobs(opts.inputs);
  const done = readDone(opts.out, opts.retryFailed ?? false);
  const todo = jobs.filter((j) => !done.has(j.line));
  const summary: BatchSummary = { total: jobs.length, ok: 0, failed: 0, skipped: jobs.length - todo.length, interrupted: false };
  const executor = new Executor(opts.registry, { limits: opts.limits });
  const { controller, release } = interruptible(opts.signal);
  const stderr = opts.stderr;
  const bar = progressBar(stderr, "batch |{bar}| {value}/{total} jobs  {failed} failed", todo.length, { failed: 0 });

  const record = (r: BatchResult): void => {
    appendFileSync(opts.out, JSON.stringify(r) + "\n"); // one write per job: finished work is on disk at once
    if (r.status === "ok") summary.ok++;
    else summary.failed++;
    bar?.increment(1, { failed: summary.failed });
  };

  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < todo.length && !controller.signal.aborted) {
      const job = todo[next++];
      if (job.problem) {
        stderr?.write(`${job.problem}\n`);
        record({ line: job.line, overrides: null, status: "error", error: { nodeId: null, input: null, message: job.problem } });
        continue;
      }
      const t0 = performance.now();
      try {
        const result = await executor.run(doc, { overrides: job.overrides ?? {}, signal: controller.signal });
        if (result.status === "cancelled") return; // not recorded: a rerun does it again
        const ms = Math.round(performance.now() - t0);
        if (result.status === "finished") record({ line: job.line, overrides: job.overrides, status: "ok", outputs: result.outputs, ms });
        else record({ line: job.line, overrides: job.overrides, status: "error", error: result.error, outputs: result.outputs, ms });
      } catch (err) {
        const message = err instanceof WorkflowError ? err.issues.map(formatIssue).join("; ") : (err as Error).message;
        stderr?.write(`line ${job.line}: ${message}\n`);
        record({ line: job.line, overrides: job.overrides, status: "error", error: { nodeId: null, input: null, message } });
      }
    }
  };
  try {
    await Promise.all(Array.from({ length: Math.min(opts.concurrency, Math.max(1, todo.length)) }, worker));
  } finally {
    bar?.stop();
    release();
    executor.clearCache();
  }
  summary.interrupted = controller.signal.aborted;
  return summary;
}

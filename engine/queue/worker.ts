// `maskflow worker`: takes run jobs from the BullMQ queue and runs them on one Executor, the same
// as `maskflow run` and `batch` use. The executor's cache keeps the model loaded between jobs,
// and with --concurrency N the runs in flight share it, so their same-shape forwards are joined
// into batched session.run calls exactly as in `batch --concurrency N`.
//
// Failure semantics: a worker killed mid-job stops renewing the job's lock, and BullMQ's stalled
// check (every lockMs) hands the job to another worker; a late completion from a worker that lost
// its lock is refused by BullMQ, so one result is kept. Bad input (an invalid workflow or override)
// fails the job without retries; a failed run is retried only up to the job's `attempts`.
import { hostname } from "node:os";
import { UnrecoverableError, WaitingError, Worker, type Job } from "bullmq";
import { Redis } from "ioredis";
import type { NodeRegistry } from "../registry.js";
import { Executor } from "../run/executor.js";
import type { RunEvent } from "../types.js";
import { checkWorkflow } from "../workflow/check.js";
import { capIssues, WorkflowError } from "../workflow/issues.js";
import { applyOverrides } from "../workflow/overrides.js";
import type { WorkflowDoc } from "../workflow/schema.js";
import { resolveLimits, type Limits } from "../limits.js";
import { withDevice, workerFiles } from "./confine.js";
import { redisTarget } from "./connection.js";
import { defaultWorkerId, Heartbeat, type WorkerBeat } from "./heartbeat.js";
import type { RunJobData, RunJobReturn, RunProgress, StoredResult } from "./job.js";
import { channels, keys, PREFIX, QUEUE_NAME } from "./keys.js";
import { liveEvent, type LiveMessage } from "./live.js";
import { describeRunError, runErrorOf } from "./run-error.js";
import { storeResult } from "./results.js";
import { settled } from "./settled.js";
import { WorkflowCache } from "./workflows.js";

export interface QueueWorkerOptions {
  redis: string;
  registry: NodeRegistry;
  concurrency?: number;
  /** Replaces every `device` input (the machine decides where models run). */
  device?: string;
  /** Folders models and adapters may be loaded from (default: the bundled models/ and the user models folder). */
  models?: string[];
  /** Shown in results, heartbeats and the editor's queue (default: host-pid). */
  id?: string;
  /** A job's lock lasts this long unrenewed: a killed worker's job moves on after about this long. */
  lockMs?: number;
  heartbeatMs?: number;
  /** Limits (engine/limits.ts) for the jobs' checks and runs, over the defaults and MASKFLOW_LIMITS. */
  limits?: Partial<Limits>;
  log?: (line: string) => void;
}

export interface QueueWorker {
  readonly id: string;
  /** The model folders it loads from. */
  readonly roots: readonly string[];
  /** Takes no new job, lets the running ones finish, then closes. */
  stop(): Promise<void>;
  /** Stops the running jobs at their next step and puts them back in the queue, then closes. */
  handBack(): Promise<void>;
  readonly closed: Promise<void>;
}

interface Active {
  job: Job<RunJobData, RunJobReturn>;
  controller: AbortController;
  progress: RunProgress;
  startedAt: number;
  reportedAt: number;
}

/** How often a job's BullMQ progress is updated at most (live events go to the editor anyway). */
const PROGRESS_EVERY_MS = 1000;

export async function startQueueWorker(options: QueueWorkerOptions): Promise<QueueWorker> {
  const target = redisTarget(options.redis);
  const log = options.log ?? ((line: string) => console.log(line));
  const id = options.id ?? defaultWorkerId();
  const concurrency = options.concurrency ?? 1;
  const lockMs = options.lockMs ?? 30_000;
  const files = workerFiles(options.models ?? []);
  const registry = options.registry;
  // As for `maskflow serve`: the defaults, MASKFLOW_LIMITS, then --limit; for the checks and the run.
  const limits = resolveLimits(options.limits ?? {});
  const executor = new Executor(registry, { limits, files });
  const commands = new Redis(target.options);
  const subscriber = new Redis(target.options);
  const workflows = new WorkflowCache(commands);
  const active = new Map<string, Active>();
  const counts = { done: 0, failed: 0 };
  const startedAt = Date.now();
  let handingBack = false;
  let stopping: Promise<void> | null = null;

  const connectionLog = redisLog(log, target.label);
  commands.on("error", connectionLog.error);
  subscriber.on("error", connectionLog.error);
  commands.on("ready", connectionLog.ready);

  // Cancel requests reach every worker; the one running the job stops it at its next step.
  subscriber.on("message", (_channel: string, jobId: string) => active.get(jobId)?.controller.abort());
  await subscriber.subscribe(channels.cancel);

  async function runJob(job: Job<RunJobData, RunJobReturn>, token: string | undefined): Promise<RunJobReturn> {
    const jobId = job.id!;
    const entry: Active = { job, controller: new AbortController(), progress: { node: null, step: 0, total: 0 }, startedAt: Date.now(), reportedAt: 0 };
    const waitMs = Math.max(0, entry.startedAt - job.timestamp);
    const publish = job.data.live
      ? (event: RunEvent) => {
          const live = liveEvent(event);
          if (live) void commands.publish(channels.events, JSON.stringify({ job: jobId, worker: id, event: live } satisfies LiveMessage)).catch(() => undefined);
        }
      : null;
    const store = (result: Omit<StoredResult, "worker" | "waitMs">) => storeResult(commands, jobId, { ...result, worker: id, waitMs }, token);
    active.set(jobId, entry);
    try {
      if (handingBack) return await giveBack(job, token);
      if (await commands.exists(keys.cancel(jobId))) {
        publish?.({ type: "cancelled", runId: jobId, nodeId: null });
        const bytes = await store({ status: "cancelled", outputs: {}, ms: 0 });
        return { status: "cancelled", worker: id, waitMs, ms: 0, bytes };
      }

      // Bad input is the job's fault, not the worker's: failed at once, never retried.
      let doc: WorkflowDoc;
      try {
        const checked = checkWorkflow(await workflows.get(job.data.workflow), registry, job.data.overrides, limits);
        // At most maxIssues of them, as the server answers: they travel in the stored result.
        if (!checked.ok) throw new WorkflowError(capIssues(checked.issues, limits.maxIssues));
        doc = applyOverrides(checked.doc, job.data.overrides, limits).doc;
      } catch (err) {
        const error = runErrorOf(err);
        publish?.({ type: "failed", runId: jobId, ...error });
        await store({ status: "failed", outputs: {}, error, ms: 0 });
        throw new UnrecoverableError(describeRunError(error));
      }

      let result;
      try {
        // A failed run (a model this worker does not have, say) may run elsewhere: retried as attempts allow.
        doc = withDevice(doc, registry, options.device);
        result = await executor.run(doc, { runId: jobId, signal: entry.controller.signal, onEvent: (e) => onEvent(entry, e, publish) });
      } catch (err) {
        const error = runErrorOf(err);
        publish?.({ type: "failed", runId: jobId, ...error });
        await store({ status: "failed", outputs: {}, error, ms: Date.now() - entry.startedAt });
        throw new Error(describeRunError(error));
      }
      if (result.status === "cancelled" && handingBack) return await giveBack(job, token);
      const bytes = await store({ status: result.status, outputs: result.outputs, error: result.error, stats: result.stats, ms: result.stats.ms });
      if (result.status === "failed") throw new Error(describeRunError(result.error ?? { nodeId: null, input: null, message: "failed" }));
      return { status: result.status, worker: id, waitMs, ms: result.stats.ms, bytes };
    } finally {
      active.delete(jobId);
    }
  }

  /** Back to the waiting list (not a failed attempt), for another worker to take at once. */
  async function giveBack(job: Job<RunJobData, RunJobReturn>, token: string | undefined): Promise<never> {
    await job.moveToWait(token);
    log(`maskflow worker ${id}: handed job ${job.id} back to the queue`);
    throw new WaitingError();
  }

  function onEvent(entry: Active, event: RunEvent, publish: ((e: RunEvent) => void) | null): void {
    if (event.type === "node_started" || event.type === "node_cached") entry.progress = { node: event.nodeId, step: 0, total: 0 };
    else if (event.type === "progress" && event.total > 0) entry.progress = { node: event.nodeId, step: event.step, total: event.total };
    const now = Date.now();
    if (now - entry.reportedAt >= PROGRESS_EVERY_MS) {
      entry.reportedAt = now;
      void entry.job.updateProgress({ ...entry.progress }).catch(() => undefined);
    }
    publish?.(event);
  }

  const beat = (): WorkerBeat => ({
    id,
    host: hostname(),
    pid: process.pid,
    device: options.device ?? null,
    concurrency,
    startedAt,
    beatAt: Date.now(),
    ...counts,
    stopping: stopping !== null,
    jobs: [...active.values()].map((a) => ({
      id: a.job.id!,
      name: a.job.data.name ?? null,
      line: a.job.data.line ?? null,
      ...a.progress,
      startedAt: a.startedAt,
    })),
  });
  const heartbeat = new Heartbeat(commands, beat, options.heartbeatMs ?? 2000);

  const worker = new Worker<RunJobData, RunJobReturn>(QUEUE_NAME, runJob, {
    connection: target.options,
    prefix: PREFIX,
    concurrency,
    name: id,
    lockDuration: lockMs,
    stalledInterval: lockMs,
    // A job that keeps killing its workers (out of memory, say) fails after this many stalls.
    maxStalledCount: 3,
    // Started below, once the caller can be told (and can stop it): no job is taken before that.
    autorun: false,
  });
  worker.on("error", (err) => {
    // A worker that lost a job's lock (it was too slow to renew, or Redis was away that long)
    // finds the job taken over; BullMQ refuses its completion and the other worker's result counts.
    if (/lock/i.test(err.message)) log(`maskflow worker ${id}: ${err.message} (another worker took the job over)`);
    else connectionLog.error(err);
  });
  worker.on("completed", () => counts.done++);
  worker.on("failed", (job, err) => {
    if (err instanceof WaitingError || err.name === "WaitingError") return;
    counts.failed++;
    log(`maskflow worker ${id}: job ${job?.id}${job?.data.line ? ` (line ${job.data.line})` : ""} failed: ${err.message}`);
  });
  await worker.waitUntilReady();
  heartbeat.start();
  log(
    `maskflow worker ${id}: taking jobs from ${target.label} (concurrency ${concurrency}${options.device ? `, device ${options.device}` : ""}; models from ${files.roots?.join(", ")})`,
  );
  void worker.run().catch((err: Error) => log(`maskflow worker ${id}: ${err.message}`));

  let resolveClosed!: () => void;
  const closed = new Promise<void>((resolve) => (resolveClosed = resolve));
  const stop = (): Promise<void> => {
    stopping ??= (async () => {
      if (active.size) log(`maskflow worker ${id}: finishing ${active.size} running job${active.size > 1 ? "s" : ""}, then exiting`);
      const closing = worker.close();
      // Once the runs are over, Redis gets a few seconds to take their results. If it is away,
      // the worker leaves without it: its jobs are taken over when their locks expire, as if it
      // had been killed, rather than the worker hanging on until Redis returns.
      while (active.size > 0) await new Promise((r) => setTimeout(r, 50));
      const clean = (await settled(closing, CLOSE_GRACE_MS)) && (await settled(heartbeat.stop(), CLOSE_GRACE_MS));
      if (!clean) {
        log(`maskflow worker ${id}: Redis did not answer; leaving without it`);
        void worker.close(true).catch(() => undefined);
      }
      if (!clean || !(await settled(Promise.all([subscriber.quit(), commands.quit()]), CLOSE_GRACE_MS))) {
        subscriber.disconnect();
        commands.disconnect();
      }
      executor.clearCache();
      resolveClosed();
    })();
    return stopping;
  };
  return {
    id,
    roots: files.roots ?? [],
    stop,
    handBack() {
      handingBack = true;
      for (const a of active.values()) a.controller.abort();
      return stop();
    },
    closed,
  };
}

/** How long a stopping worker waits for Redis after its last run. */
const CLOSE_GRACE_MS = 5000;

/** Connection trouble is logged once per outage, not once per retry. */
function redisLog(log: (line: string) => void, label: string) {
  let down = false;
  return {
    error: (err: Error) => {
      if (down) return;
      down = true;
      log(`maskflow: Redis at ${label} is unavailable (${err.message}); retrying`);
    },
    ready: () => {
      if (!down) return;
      down = false;
      log(`maskflow: reconnected to Redis at ${label}`);
    },
  };
}

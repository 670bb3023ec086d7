// The batch client of `maskflow batch --redis`: enqueues a batch's jobs and collects their
// results as workers finish them. Job ids come from the workflow, the overrides and the line
// (job.ts), so a rerun after the client died adds no job twice: it finds the queued, running and
// finished ones and collects them. A job is removed from Redis only after `record` returned (the
// caller has written its result down), so a result is never lost between Redis and the file, and
// the caller's results file decides what is done (a rerun only takes out of Redis what an earlier
// client, killed between writing a line and removing its job, left there).
import { Job, Queue, QueueEvents } from "bullmq";
import { Redis } from "ioredis";
import type { WorkflowDoc } from "../workflow/schema.js";
import { redisTarget } from "./connection.js";
import { listWorkers } from "./heartbeat.js";
import { batchJobId, type RunError, type RunJobData, type RunJobReturn, type StoredResult } from "./job.js";
import { KEEP_SECONDS, keys, PREFIX, QUEUE_NAME } from "./keys.js";
import { dropResult, readResult } from "./results.js";
import { settled } from "./settled.js";
import { storeWorkflow } from "./workflows.js";

export interface QueuedJob {
  line: number;
  overrides: Record<string, unknown>;
}

/** One finished job: the local batch's result line plus where and how long it waited. */
export interface QueuedResult {
  line: number;
  overrides: Record<string, unknown>;
  status: "ok" | "error";
  outputs?: Record<string, unknown>;
  error?: RunError;
  ms?: number;
  worker: string | null;
  waitMs: number | null;
  job: string;
  attempts: number;
}

export interface QueuedBatchProgress {
  done: number;
  failed: number;
  /** Jobs this client waits for (those already in the results file are not counted). */
  total: number;
  workers: number;
}

export interface QueuedBatchOptions {
  redis: string;
  doc: WorkflowDoc;
  jobs: QueuedJob[];
  /** Jobs the caller's results file already has: whatever is left of them in Redis is removed. */
  written?: QueuedJob[];
  /** Jobs that failed earlier and are still in Redis run again (else their failure is collected). */
  retryFailed?: boolean;
  /** Tries per job (a failed run is retried up to this), with exponential backoff from backoffMs. */
  attempts?: number;
  backoffMs?: number;
  signal?: AbortSignal;
  /** Writes one result down; the job leaves Redis once this returns. */
  record(result: QueuedResult): void | Promise<void>;
  progress?(progress: QueuedBatchProgress): void;
  log?(line: string): void;
  /** How often finished jobs are looked for besides the events (a safety net), in ms. */
  pollMs?: number;
}

/** Behind an editor's runs: jobs without a priority are taken first, so the editor stays usable during a batch. */
const BATCH_PRIORITY = 10;
const CHUNK = 500;
/** Every this many polls, pending jobs are checked to still exist (Redis lost them: a crash without persistence). */
const LOST_CHECK_POLLS = 10;

export async function runQueuedBatch(options: QueuedBatchOptions): Promise<{ interrupted: boolean }> {
  const target = redisTarget(options.redis);
  const log = options.log ?? (() => undefined);
  const queue = new Queue<RunJobData, RunJobReturn>(QUEUE_NAME, { connection: target.options, prefix: PREFIX });
  const events = new QueueEvents(QUEUE_NAME, { connection: target.options, prefix: PREFIX });
  const redis = new Redis(target.options);
  let down = false;
  const onError = (err: Error) => {
    if (!down) log(`maskflow: Redis at ${target.label} is unavailable (${err.message}); retrying`);
    down = true;
  };
  queue.on("error", onError);
  events.on("error", onError);
  redis.on("error", onError);
  // Back after an outage: what Redis may have lost is looked for at the next poll.
  let checkLost = false;
  redis.on("ready", () => {
    if (down) log(`maskflow: reconnected to Redis at ${target.label}`);
    if (down) checkLost = true;
    down = false;
  });

  try {
    let hash = await storeWorkflow(redis, options.doc);
    const pending = new Map<string, QueuedJob>();
    for (const job of options.jobs) pending.set(batchJobId(hash, job.overrides, job.line), job);
    const total = pending.size;
    const settling = new Set<string>();
    let done = 0;
    let failed = 0;
    let workers = 0;
    let wake: () => void = () => undefined;
    const report = () => options.progress?.({ done, failed, total, workers });
    // Written down, not yet out of Redis (it was away): tried again at each poll.
    const leftovers = new Set<string>();
    const cleanUp = async (jobId: string): Promise<void> => {
      try {
        await Promise.all([queue.remove(jobId), dropResult(redis, jobId)]);
        leftovers.delete(jobId);
      } catch {
        leftovers.add(jobId);
      }
    };

    /** Collects one finished job (once: events and polls may both name it). */
    const settle = async (jobId: string): Promise<void> => {
      const waiting = pending.get(jobId);
      if (!waiting || settling.has(jobId)) return;
      settling.add(jobId);
      try {
        const job = await Job.fromId<RunJobData, RunJobReturn>(queue, jobId);
        const state = job ? await job.getState() : "unknown";
        if (!job || (state !== "completed" && state !== "failed")) return;
        const stored = await readResult(redis, jobId);
        const result = resultLine(waiting, job, state, stored);
        await options.record(result);
        pending.delete(jobId);
        done++;
        if (result.status === "error") failed++;
        report();
        await cleanUp(jobId);
      } finally {
        settling.delete(jobId);
        if (pending.size === 0) wake();
      }
    };

    events.on("completed", ({ jobId }) => void settle(jobId).catch(onError));
    events.on("failed", ({ jobId }) => void settle(jobId).catch(onError));
    await events.waitUntilReady();

    /** Adds the jobs Redis does not have; collects (or, with retryFailed, retries) the finished ones. */
    const enqueue = async (ids: string[]): Promise<void> => {
      for (let i = 0; i < ids.length; i += CHUNK) {
        const chunk = ids.slice(i, i + CHUNK);
        const states = await Promise.all(chunk.map((id) => queue.getJobState(id)));
        const missing = chunk.filter((_, k) => states[k] === "unknown");
        await queue.addBulk(
          missing.map((jobId) => {
            const { line, overrides } = pending.get(jobId)!;
            return {
              name: "run" as const,
              data: { workflow: hash, overrides, line },
              opts: {
                jobId,
                attempts: options.attempts ?? 1,
                backoff: { type: "exponential", delay: options.backoffMs ?? 1000 },
                priority: BATCH_PRIORITY,
                removeOnComplete: { age: KEEP_SECONDS },
                removeOnFail: { age: KEEP_SECONDS },
              },
            };
          }),
        );
        for (const [k, jobId] of chunk.entries()) {
          if (states[k] === "failed" && options.retryFailed) await (await Job.fromId(queue, jobId))?.retry("failed", { resetAttemptsMade: true });
          else if (states[k] === "completed" || states[k] === "failed") await settle(jobId);
        }
      }
    };

    // An earlier client killed between writing a line and removing its job left the job behind.
    const written = (options.written ?? []).map((job) => batchJobId(hash, job.overrides, job.line));
    const there = await inRedis(redis, written);
    for (const jobId of written.filter((_, k) => there[k])) {
      const state = await queue.getJobState(jobId);
      if (state === "completed" || state === "failed") await cleanUp(jobId);
    }
    await enqueue([...pending.keys()]);
    log(`maskflow batch: ${total} job${total === 1 ? "" : "s"} queued or re-attached on ${target.label}`);

    let polls = 0;
    while (pending.size > 0 && !options.signal?.aborted) {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, options.pollMs ?? 2000);
        const stop = () => {
          clearTimeout(timer);
          resolve();
        };
        wake = stop;
        options.signal?.addEventListener("abort", stop, { once: true });
      });
      if (pending.size === 0 || options.signal?.aborted) break;
      try {
        for (const jobId of [...leftovers]) await cleanUp(jobId);
        workers = (await listWorkers(redis)).length;
        report();
        const finished = await queue.getRanges(["completed", "failed"], 0, -1);
        await Promise.all(finished.filter((id) => pending.has(id)).map(settle));
        if (checkLost || ++polls % LOST_CHECK_POLLS === 0) {
          checkLost = false;
          const gone = await lostJobs(redis, [...pending.keys()].filter((id) => !settling.has(id)));
          if (gone.length) {
            log(`maskflow batch: Redis no longer has ${gone.length} job${gone.length === 1 ? "" : "s"} (lost in a restart?); enqueuing them again`);
            hash = await storeWorkflow(redis, options.doc);
            await enqueue(gone);
          }
        }
      } catch (err) {
        onError(err as Error);
      }
    }
    // The last results' jobs, should Redis have been away when they were written down (bounded: it may still be).
    if (leftovers.size) await settled(Promise.all([...leftovers].map(cleanUp)), 3000);
    return { interrupted: pending.size > 0 };
  } finally {
    // Bounded: a client interrupted while Redis is away must still exit (a rerun re-attaches).
    if (!(await settled(Promise.all([queue.close(), events.close(), redis.quit()]), 3000))) {
      redis.disconnect();
      void queue.disconnect().catch(() => undefined);
      void events.disconnect().catch(() => undefined);
    }
  }
}

/** For each job id, whether its job hash is in Redis (pipelined, so a big batch's lines cost little). */
async function inRedis(redis: Redis, ids: string[]): Promise<boolean[]> {
  const there: boolean[] = [];
  for (let i = 0; i < ids.length; i += CHUNK) {
    const chunk = ids.slice(i, i + CHUNK);
    const pipeline = redis.pipeline();
    for (const id of chunk) pipeline.exists(keys.job(id));
    const answers = (await pipeline.exec()) ?? [];
    chunk.forEach((_, k) => there.push(answers[k]?.[1] === 1));
  }
  return there;
}

/** Of these job ids, those whose job hash is gone from Redis. */
async function lostJobs(redis: Redis, ids: string[]): Promise<string[]> {
  const there = await inRedis(redis, ids);
  return ids.filter((_, k) => !there[k]);
}

function resultLine(input: QueuedJob, job: Job<RunJobData, RunJobReturn>, state: "completed" | "failed", stored: StoredResult | null): QueuedResult {
  const where = {
    worker: stored?.worker ?? job.processedBy ?? null,
    waitMs: stored?.waitMs ?? null,
    job: job.id!,
    attempts: job.attemptsMade,
  };
  if (state === "completed" && stored?.status === "finished") {
    return { line: input.line, overrides: input.overrides, status: "ok", outputs: stored.outputs, ms: stored.ms, ...where };
  }
  const message =
    state === "completed"
      ? stored
        ? "cancelled"
        : "the job finished, but its result is no longer in Redis (results are kept 7 days); rerun with --retry-failed"
      : // A job BullMQ failed itself (stalled too often) has no stored result: its reason is all there is.
        job.failedReason || "failed";
  const error: RunError = stored?.error ?? { nodeId: null, input: null, message };
  return { line: input.line, overrides: input.overrides, status: "error", error, outputs: stored?.outputs, ms: stored?.ms, ...where };
}

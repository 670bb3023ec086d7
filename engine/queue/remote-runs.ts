// `maskflow serve --redis`: the editor's runs go to the BullMQ queue instead of the server's own
// executor, and `maskflow worker`s run them. This keeps the same interface as the server's local
// RunQueue (engine/server/run-queue.ts), so the API and the WebSocket do not change: each run is
// still queued -> running -> finished/failed/cancelled, with its events logged for late viewers.
// Events arrive over Redis pub/sub from whichever worker runs the job (live.ts); the end of a
// run comes from BullMQ (its events, and a poll as a safety net), with the outputs from the
// stored result. Cancel marks the job and tells every worker; the one running it stops at its
// next denoising step, and a job no worker has taken yet is removed from the queue at once.
import { randomUUID } from "node:crypto";
import { Job, Queue, QueueEvents } from "bullmq";
import { Redis } from "ioredis";
import type { RunDetail, RunSummary } from "../server/protocol.js";
import { DEFAULT_LIMITS } from "../limits.js";
import { measureValue } from "../run/value-size.js";
import type { NodeRegistry } from "../registry.js";
import { QueueRefused, type QueueListener, type Runs, type SubmitOptions } from "../server/run-queue.js";
import { ended, forgetRuns, logEvent, runDetail, runSummary, type RunRecordBase } from "../server/run-record.js";
import { changesFrom, seedsOf } from "../server/run-label.js";
import { applyOverrides } from "../workflow/overrides.js";
import type { RunEvent } from "../types.js";
import type { WorkflowDoc } from "../workflow/schema.js";
import { redisTarget } from "./connection.js";
import type { RunJobData, RunJobReturn } from "./job.js";
import { channels, keys, PREFIX, QUEUE_NAME } from "./keys.js";
import type { LiveMessage } from "./live.js";
import { dropResult, readResult } from "./results.js";
import { settled } from "./settled.js";
import { storeWorkflow } from "./workflows.js";

export interface RemoteRunsOptions {
  redis: string;
  historyLimit?: number;
  eventLogRuns?: number;
  /** As the local queue's: what remembered runs may take together, in bytes (engine/limits.ts). */
  maxHistoryBytes?: number;
  /** Runs of this server waiting for a worker at once; more are refused (429). */
  maxQueuedRuns?: number;
  log?: (line: string) => void;
  pollMs?: number;
  /** The server's node types, to tell a run's seeds (RunSummary.seeds); none: no seeds shown. */
  registry?: NodeRegistry;
}

interface RunRecord extends RunRecordBase {
  worker: string | null;
  cancelRequested: boolean;
  /** The job is in BullMQ (enqueuing is asynchronous). */
  enqueued: Promise<void>;
}


export async function startRemoteRuns(options: RemoteRunsOptions): Promise<RemoteRuns> {
  const runs = new RemoteRuns(options);
  await runs.ready();
  return runs;
}

export class RemoteRuns implements Runs {
  private readonly runs = new Map<string, RunRecord>();
  private readonly listeners = new Set<QueueListener>();
  private readonly queue: Queue<RunJobData, RunJobReturn>;
  private readonly queueEvents: QueueEvents;
  private readonly commands: Redis;
  private readonly subscriber: Redis;
  private readonly historyLimit: number;
  private readonly eventLogRuns: number;
  private readonly maxHistoryBytes: number;
  private readonly maxQueuedRuns: number;
  private readonly poller: ReturnType<typeof setInterval>;
  private readonly settling = new Set<string>();
  private closed = false;

  constructor(private readonly options: RemoteRunsOptions) {
    const target = redisTarget(options.redis);
    const log = options.log ?? ((line: string) => console.log(line));
    let down = false;
    const onError = (err: Error) => {
      if (!down) log(`maskflow: Redis at ${target.label} is unavailable (${err.message}); retrying`);
      down = true;
    };
    this.historyLimit = options.historyLimit ?? 200;
    this.eventLogRuns = options.eventLogRuns ?? 10;
    this.maxHistoryBytes = options.maxHistoryBytes ?? DEFAULT_LIMITS.maxHistoryBytes;
    this.maxQueuedRuns = options.maxQueuedRuns ?? DEFAULT_LIMITS.maxQueuedRuns;
    this.queue = new Queue(QUEUE_NAME, { connection: target.options, prefix: PREFIX });
    this.queueEvents = new QueueEvents(QUEUE_NAME, { connection: target.options, prefix: PREFIX });
    this.commands = new Redis(target.options);
    this.subscriber = new Redis(target.options);
    this.queue.on("error", onError);
    this.queueEvents.on("error", onError);
    this.commands.on("error", onError);
    this.subscriber.on("error", onError);
    this.commands.on("ready", () => {
      if (down) log(`maskflow: reconnected to Redis at ${target.label}`);
      down = false;
    });
    this.subscriber.on("message", (_channel: string, text: string) => this.onLive(JSON.parse(text) as LiveMessage));
    this.queueEvents.on("completed", ({ jobId }) => void this.settle(jobId));
    this.queueEvents.on("failed", ({ jobId }) => void this.settle(jobId));
    // Pub/sub drops what is sent while a connection is down; BullMQ's state does not.
    this.poller = setInterval(() => void this.poll(), options.pollMs ?? 1000);
    this.poller.unref();
  }

  async ready(): Promise<void> {
    await Promise.all([this.subscriber.subscribe(channels.events), this.queueEvents.waitUntilReady(), this.queue.waitUntilReady()]);
  }

  subscribe(listener: QueueListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** As the local queue's; `front` queues the job ahead of those waiting (BullMQ's lifo). */
  submit(doc: WorkflowDoc, overrides: Record<string, unknown> = {}, options: SubmitOptions = {}): RunSummary {
    if (this.closed) throw new QueueRefused(503, "the server is shutting down");
    const waiting = [...this.runs.values()].filter((r) => r.status === "queued").length;
    if (waiting >= this.maxQueuedRuns) throw new QueueRefused(429, `the queue is full: ${waiting} runs are already waiting for a worker`);
    const id = randomUUID();
    const name = options.name ?? doc.name ?? null;
    const graph = options.graph ?? null;
    const effective = applyOverrides(doc, overrides).doc;
    // The run before it of the same graph (or, for clients that send none, of the same name).
    const previous = [...this.runs.values()].reverse().find((r) => (graph !== null ? r.graph === graph : r.graph === null && r.name === name));
    const record: RunRecord = {
      id,
      name,
      graph,
      seeds: this.options.registry ? seedsOf(effective, this.options.registry) : {},
      changes: previous ? changesFrom(applyOverrides(previous.doc, previous.overrides).doc, effective) : [],
      warnings: 0,
      status: "queued",
      createdAt: new Date(),
      startedAt: null,
      finishedAt: null,
      doc,
      overrides,
      outputs: {},
      error: null,
      stats: null,
      events: [],
      bytes: measureValue(doc).data + measureValue(overrides).data,
      eventBytes: 0,
      worker: null,
      cancelRequested: false,
      enqueued: Promise.resolve(),
    };
    record.enqueued = (async () => {
      const workflow = await storeWorkflow(this.commands, doc);
      // Kept an hour at most should this server not collect it (it stopped, say).
      const keep = { age: 3600 };
      await this.queue.add("run", { workflow, overrides, live: true, name: record.name }, { jobId: id, attempts: 1, removeOnComplete: keep, removeOnFail: keep, lifo: options.front === true });
    })().catch((err: Error) => this.end(record, "failed", { error: { nodeId: null, input: null, message: `could not queue the run: ${err.message}` } }));
    this.runs.set(id, record);
    this.emit(record, { type: "run_queued", runId: id, nodes: Object.keys(doc.nodes) });
    this.forget();
    this.changed();
    return summary(record);
  }

  cancel(id: string): RunSummary | undefined {
    const record = this.runs.get(id);
    if (!record) return undefined;
    if (ended(record) || record.cancelRequested) return summary(record);
    record.cancelRequested = true;
    // Not started: cancelled at once, as in the local queue. Should a worker have taken it a
    // moment ago, the mark and the message below stop it at its first step, and its result is dropped.
    const waiting = record.status === "queued";
    if (waiting) this.end(record, "cancelled");
    else this.changed();
    void (async () => {
      await record.enqueued;
      // The mark covers a worker that takes the job between now and the removal below.
      await this.commands.set(keys.cancel(id), "1", "EX", 24 * 3600);
      await this.commands.publish(channels.cancel, id);
      // A run that was waiting is removed if no worker holds it (BullMQ refuses to remove a locked
      // job). A running one is left to end and be settled with its result: removing it could
      // delete the job the worker has just completed, before the server saw it.
      if (waiting) await this.queue.remove(id).catch(() => 0);
    })().catch(() => undefined);
    return summary(record);
  }

  /**
   * Not with `serve --redis`: a job already in BullMQ's wait list keeps its place (the workers take
   * jobs in order; moving one could race a worker taking it). Throws QueueRefused (501).
   */
  runNext(id: string): boolean {
    const record = this.runs.get(id);
    if (!record || record.status !== "queued") return false;
    throw new QueueRefused(501, "run next is not available with serve --redis: runs already queued for the workers keep their order (submit with front: true to queue a run ahead)");
  }

  /** Cancels every run of this server still waiting for a worker (not the running ones). */
  clearQueue(): RunSummary[] {
    return [...this.runs.values()].filter((r) => r.status === "queued" && !r.cancelRequested).map((r) => this.cancel(r.id)!);
  }

  /** Forgets every ended run (kept in memory only with serve --redis); returns how many. */
  clearHistory(): number {
    const done = [...this.runs.values()].filter(ended);
    for (const record of done) this.runs.delete(record.id);
    this.changed();
    return done.length;
  }

  get(id: string): RunDetail | undefined {
    const record = this.runs.get(id);
    return record && runDetail(record, summary(record));
  }

  events(id: string): RunEvent[] | undefined {
    return this.runs.get(id)?.events;
  }

  list(): RunSummary[] {
    return [...this.runs.values()].reverse().map(summary);
  }

  async idle(): Promise<void> {
    while ([...this.runs.values()].some((r) => !ended(r))) await new Promise((r) => setTimeout(r, 50));
  }

  /** Cancels this server's runs (as the local queue does), waits a little for workers to confirm, and disconnects. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const record of this.runs.values()) this.cancel(record.id);
    await Promise.race([this.idle(), new Promise((r) => setTimeout(r, 5000))]);
    clearInterval(this.poller);
    if (!(await settled(Promise.all([this.queue.close(), this.queueEvents.close(), this.commands.quit(), this.subscriber.quit()]), 3000))) {
      this.commands.disconnect();
      this.subscriber.disconnect();
      void this.queue.disconnect().catch(() => undefined);
      void this.queueEvents.disconnect().catch(() => undefined);
    }
  }

  private onLive(message: LiveMessage): void {
    const record = this.runs.get(message.job);
    if (!record || ended(record)) return;
    if (message.event.type === "run_started") this.started(record, message.worker);
    this.emit(record, message.event);
  }

  private started(record: RunRecord, worker: string | null): void {
    if (record.status !== "queued") return;
    record.status = "running";
    record.startedAt = new Date();
    record.worker = worker;
    this.changed();
  }

  /** The safety net: every unfinished run's state, straight from BullMQ. */
  private polling = false;

  private async poll(): Promise<void> {
    if (this.polling) return; // a slow Redis: one poll at a time
    this.polling = true;
    try {
      await this.pollOnce();
    } finally {
      this.polling = false;
    }
  }

  private async pollOnce(): Promise<void> {
    for (const record of this.runs.values()) {
      if (ended(record)) continue;
      const state = await this.queue.getJobState(record.id).catch(() => null);
      if (state === "active" && record.status === "queued") {
        const job = await Job.fromId(this.queue, record.id).catch(() => undefined);
        this.started(record, job?.processedBy ?? null);
      } else if (state === "completed" || state === "failed") await this.settle(record.id);
      // The job left Redis without being settled here (taken out while it completed): its stored result tells.
      else if (state === "unknown" && (record.status === "running" || record.cancelRequested)) await this.settle(record.id);
    }
  }

  /** Ends a run whose job is completed or failed, with its stored result, once; then the job and result leave Redis. */
  private async settle(jobId: string): Promise<void> {
    const record = this.runs.get(jobId);
    if (!record || this.settling.has(jobId)) return;
    this.settling.add(jobId);
    try {
      const job = await Job.fromId<RunJobData, RunJobReturn>(this.queue, jobId);
      if (!job) return await this.settleWithoutJob(record);
      const state = await job.getState();
      if (state !== "completed" && state !== "failed") return;
      if (!ended(record)) {
        const stored = await readResult(this.commands, jobId);
        record.worker ??= stored?.worker ?? job.processedBy ?? null;
        if (!record.startedAt && job.processedOn) record.startedAt = new Date(job.processedOn);
        if (state === "completed" && stored?.status === "finished") this.end(record, "finished", { outputs: stored.outputs, stats: stored.stats });
        else if (state === "completed") this.end(record, "cancelled", { outputs: stored?.outputs ?? {} });
        else this.end(record, "failed", { error: stored?.error ?? { nodeId: null, input: null, message: job.failedReason || "failed" }, outputs: stored?.outputs ?? {} });
      }
      await Promise.all([job.remove().catch(() => undefined), dropResult(this.commands, jobId)]);
    } catch {
      // Redis is away: the next poll settles it.
    } finally {
      this.settling.delete(jobId);
    }
  }

  /** A run whose job is gone: ended with the result its worker stored, if any (else, if cancelled, as cancelled). */
  private async settleWithoutJob(record: RunRecord): Promise<void> {
    const stored = await readResult(this.commands, record.id);
    if (!ended(record)) {
      record.worker ??= stored?.worker ?? null;
      if (stored?.status === "finished") this.end(record, "finished", { outputs: stored.outputs, stats: stored.stats });
      else if (stored?.status === "failed") this.end(record, "failed", { error: stored.error ?? { nodeId: null, input: null, message: "failed" }, outputs: stored.outputs });
      else if (stored || record.cancelRequested) this.end(record, "cancelled", { outputs: stored?.outputs ?? {} });
    }
    if (stored) await dropResult(this.commands, record.id);
  }

  private end(record: RunRecord, status: "finished" | "failed" | "cancelled", result: { outputs?: Record<string, unknown>; stats?: unknown; error?: RunSummary["error"] } = {}): void {
    if (ended(record)) return;
    record.status = status;
    record.finishedAt = new Date();
    record.outputs = result.outputs ?? {};
    record.bytes += measureValue(record.outputs).data;
    record.stats = result.stats ?? null;
    record.error = result.error ?? null;
    // The worker leaves run_finished to the server (outputs can be too big to publish); a run
    // cancelled before any worker took it has no worker to say so.
    if (status === "finished") {
      const ms = (result.stats as { ms?: number } | null)?.ms ?? 0;
      this.emit(record, { type: "run_finished", runId: record.id, ms, outputs: record.outputs });
    } else if (status === "cancelled" && !record.events.some((e) => e.type === "cancelled")) {
      this.emit(record, { type: "cancelled", runId: record.id, nodeId: null });
    } else if (status === "failed" && !record.events.some((e) => e.type === "failed") && record.error) {
      this.emit(record, { type: "failed", runId: record.id, nodeId: record.error.nodeId, input: record.error.input ?? null, message: record.error.message });
    }
    this.forget();
    this.changed();
  }

  private emit(record: RunRecord, event: RunEvent): void {
    logEvent(record, event, this.maxHistoryBytes);
    for (const listener of this.listeners) listener.event(event);
  }

  private changed(): void {
    for (const listener of this.listeners) listener.changed();
  }

  /** As the local queue (forgetRuns). */
  private forget(): void {
    forgetRuns(this.runs, { eventLogRuns: this.eventLogRuns, historyLimit: this.historyLimit, maxHistoryBytes: this.maxHistoryBytes });
  }
}

const summary = (record: RunRecord): RunSummary => runSummary(record, { worker: record.worker, cancelRequested: record.cancelRequested });

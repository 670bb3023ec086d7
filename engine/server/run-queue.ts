// Runs submitted to the server wait here and execute one at a time on the engine's executor
// (one model device: running two samplers at once would only make both slower). Every event
// is broadcast and also kept per run, so a page opened mid-run can catch up. Ended runs are
// also written to the history folder when there is one (history.ts), and read back at start.
import { randomUUID } from "node:crypto";
import type { Executor } from "../run/executor.js";
import { measureValue } from "../run/value-size.js";
import type { RunEvent } from "../types.js";
import { WorkflowError, formatIssue } from "../workflow/issues.js";
import { applyOverrides } from "../workflow/overrides.js";
import type { WorkflowDoc } from "../workflow/schema.js";
import { RunHistory, type StoredRun } from "./history.js";
import type { RunDetail, RunSummary } from "./protocol.js";
import { forgetRuns, logEvent, runDetail, runSummary, type RunRecordBase } from "./run-record.js";
import { changesFrom, seedsOf } from "./run-label.js";

export interface QueueOptions {
  /** How many ended runs are remembered (in memory and in the history folder). */
  historyLimit?: number;
  /** How many of the newest runs keep their full event log (with per-step canvases). */
  eventLogRuns?: number;
  /** Where ended runs are kept across restarts (history.ts); none: in memory only. */
  historyDir?: string | null;
  /**
   * What the remembered runs (workflow, overrides, outputs, event logs) may take together: the
   * oldest finished runs are forgotten past it (in memory and in the history folder). A run's own
   * event log keeps per-step progress (and warnings) only up to an eighth of it.
   */
  maxHistoryBytes?: number;
  /** Runs waiting at once; submit() throws QueueRefused (429) past it. */
  maxQueuedRuns?: number;
}

/** A run the queue will not take: it is full (429), or the server is closing (503). */
export class QueueRefused extends Error {
  constructor(
    readonly status: 429 | 501 | 503,
    message: string,
  ) {
    super(message);
  }
}

export interface SubmitOptions {
  name?: string;
  /** The client's id for the graph the run was made from (RunSummary.graph). */
  graph?: string;
  /** Run it next: ahead of everything already waiting. */
  front?: boolean;
}

interface RunRecord extends RunRecordBase {
  controller: AbortController;
}

export type QueueListener = {
  event(event: RunEvent): void;
  /** The queue changed (a run was added, started, ended or removed). */
  changed(): void;
};

/** What the API and the WebSocket need of a queue: this one, or the Redis one of `serve --redis` (engine/queue). */
export type Runs = Pick<
  RunQueue,
  "subscribe" | "submit" | "cancel" | "runNext" | "clearQueue" | "clearHistory" | "get" | "events" | "list" | "idle" | "close"
>;

export class RunQueue {
  private readonly runs = new Map<string, RunRecord>();
  private readonly waiting: RunRecord[] = [];
  private current: RunRecord | null = null;
  private readonly listeners = new Set<QueueListener>();
  private readonly historyLimit: number;
  private readonly eventLogRuns: number;
  private readonly maxHistoryBytes: number;
  private readonly maxQueuedRuns: number;
  private drained: Promise<void> = Promise.resolve();
  private closed = false;
  private readonly history: RunHistory | null;

  constructor(
    private readonly executor: Executor,
    options: QueueOptions = {},
  ) {
    this.historyLimit = options.historyLimit ?? 200;
    this.eventLogRuns = options.eventLogRuns ?? 10;
    this.maxHistoryBytes = options.maxHistoryBytes ?? 256 * 1024 * 1024;
    this.maxQueuedRuns = options.maxQueuedRuns ?? 100;
    this.history = options.historyDir ? new RunHistory(options.historyDir, this.historyLimit) : null;
    const stored = this.history?.load() ?? [];
    // Only the newest few keep their event log in memory, as for runs of this server.
    for (const [i, run] of stored.entries()) {
      const events = i >= stored.length - this.eventLogRuns ? this.history!.events(run.id) : [];
      this.runs.set(run.id, restore({ ...run, events }));
    }
    // The byte budget holds for what was read back too (it may have been lowered since).
    this.forget();
  }

  subscribe(listener: QueueListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Queues an already validated workflow. */
  submit(doc: WorkflowDoc, overrides: Record<string, unknown> = {}, options: SubmitOptions = {}): RunSummary {
    if (this.closed) throw new QueueRefused(503, "the server is shutting down");
    if (this.waiting.length >= this.maxQueuedRuns) throw new QueueRefused(429, `the queue is full: ${this.waiting.length} runs are already waiting`);
    const name = options.name ?? doc.name ?? null;
    const graph = options.graph ?? null;
    const effective = applyOverrides(doc, overrides).doc;
    // The run before it of the same graph (or, for clients that send none, of the same name).
    const previous = [...this.runs.values()].reverse().find((r) => (graph !== null ? r.graph === graph : r.graph === null && r.name === name));
    const record: RunRecord = {
      id: randomUUID(),
      name,
      graph,
      seeds: seedsOf(effective, this.executor.registry),
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
      controller: new AbortController(),
    };
    this.runs.set(record.id, record);
    if (options.front) this.waiting.unshift(record);
    else this.waiting.push(record);
    this.emit(record, { type: "run_queued", runId: record.id, nodes: Object.keys(doc.nodes) });
    this.forget();
    this.changed();
    this.pump();
    return summary(record);
  }

  /** Cancels a queued run at once, or asks a running one to stop. Undefined for an unknown id. */
  cancel(id: string): RunSummary | undefined {
    const record = this.runs.get(id);
    if (!record) return undefined;
    if (record.status === "queued") {
      this.waiting.splice(this.waiting.indexOf(record), 1);
      record.status = "cancelled";
      record.finishedAt = new Date();
      this.emit(record, { type: "cancelled", runId: record.id, nodeId: null });
      this.persist(record);
      this.changed();
    } else if (record.status === "running" && !record.controller.signal.aborted) {
      record.controller.abort();
      this.changed();
    }
    return summary(record);
  }

  /** Moves a queued run ahead of everything else waiting. False when it is not waiting. */
  runNext(id: string): boolean {
    const record = this.runs.get(id);
    const at = record ? this.waiting.indexOf(record) : -1;
    if (at < 0) return false;
    this.waiting.splice(at, 1);
    this.waiting.unshift(record!);
    this.changed();
    return true;
  }

  /** Cancels every run still waiting (not the one running). */
  clearQueue(): RunSummary[] {
    return [...this.waiting].map((record) => this.cancel(record.id)!);
  }

  /** Forgets every ended run, here and in the history folder; returns how many. */
  clearHistory(): number {
    const ended = [...this.runs.values()].filter((r) => r.status !== "queued" && r.status !== "running");
    for (const record of ended) this.runs.delete(record.id);
    this.history?.remove(ended.map((r) => r.id));
    this.changed();
    return ended.length;
  }

  get(id: string): RunDetail | undefined {
    const record = this.runs.get(id);
    return record && detail(record);
  }

  events(id: string): RunEvent[] | undefined {
    const record = this.runs.get(id);
    if (!record) return undefined;
    // An older run's log, dropped from memory, may still be in the history folder.
    if (record.events.length === 0 && this.history && record.status !== "queued" && record.status !== "running") return this.history.events(id);
    return record.events;
  }

  /** Newest first. */
  list(): RunSummary[] {
    return [...this.runs.values()].reverse().map(summary);
  }

  /** Resolves when nothing is queued or running. */
  async idle(): Promise<void> {
    while (this.current || this.waiting.length) await this.drained;
  }

  /** Cancels everything and waits for the running run to stop. */
  async close(): Promise<void> {
    this.closed = true;
    for (const record of [...this.waiting]) this.cancel(record.id);
    if (this.current) this.current.controller.abort();
    await this.idle();
    await this.history?.flush();
  }

  private pump(): void {
    if (this.current || this.waiting.length === 0) return;
    const record = this.waiting.shift()!;
    this.current = record;
    this.drained = this.execute(record).finally(() => {
      this.current = null;
      this.changed();
      this.pump();
    });
  }

  private async execute(record: RunRecord): Promise<void> {
    record.status = "running";
    record.startedAt = new Date();
    this.changed();
    try {
      const result = await this.executor.run(record.doc, {
        runId: record.id,
        signal: record.controller.signal,
        overrides: record.overrides,
        onEvent: (event) => this.emit(record, event),
      });
      record.status = result.status;
      record.outputs = result.outputs;
      record.bytes += measureValue(result.outputs).data;
      record.error = result.error ?? null;
      record.stats = result.stats;
    } catch (err) {
      // Validation happens before queueing; this is a node type that vanished, or a bug.
      const message = err instanceof WorkflowError ? err.issues.map(formatIssue).join("; ") : (err as Error).message;
      record.status = "failed";
      record.error = { nodeId: null, input: null, message };
      this.emit(record, { type: "failed", runId: record.id, nodeId: null, input: null, message });
    }
    record.finishedAt = new Date();
    this.persist(record);
    this.forget();
  }

  private persist(record: RunRecord): void {
    this.history?.save({ ...detail(record), events: record.events });
  }

  private emit(record: RunRecord, event: RunEvent): void {
    logEvent(record, event, this.maxHistoryBytes);
    for (const listener of this.listeners) listener.event(event);
  }

  private changed(): void {
    for (const listener of this.listeners) listener.changed();
  }

  /** Forgets the oldest ended runs past the count or byte budget, here and in the history folder (forgetRuns). */
  private forget(): void {
    const dropped = forgetRuns(this.runs, { eventLogRuns: this.eventLogRuns, historyLimit: this.historyLimit, maxHistoryBytes: this.maxHistoryBytes });
    if (dropped.length) this.history?.remove(dropped);
  }
}

/** A run read back from the history folder. */
function restore(stored: StoredRun): RunRecord {
  const date = (iso: string | null) => (iso ? new Date(iso) : null);
  return {
    id: stored.id,
    name: stored.name,
    graph: stored.graph ?? null,
    seeds: stored.seeds ?? {},
    changes: stored.changes ?? [],
    warnings: stored.warnings ?? 0,
    status: stored.status,
    createdAt: new Date(stored.createdAt),
    startedAt: date(stored.startedAt),
    finishedAt: date(stored.finishedAt),
    doc: stored.workflow as WorkflowDoc,
    overrides: stored.overrides ?? {},
    outputs: stored.outputs ?? {},
    error: stored.error,
    stats: stored.stats,
    events: stored.events,
    bytes: measureValue(stored.workflow).data + measureValue(stored.overrides ?? {}).data + measureValue(stored.outputs ?? {}).data,
    eventBytes: measureValue(stored.events).data,
    controller: new AbortController(),
  };
}

const summary = (record: RunRecord): RunSummary => runSummary(record, { cancelRequested: record.controller.signal.aborted });
const detail = (record: RunRecord): RunDetail => runDetail(record, summary(record));

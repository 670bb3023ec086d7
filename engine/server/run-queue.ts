// Runs submitted to the server wait here and execute one at a time on the engine's executor
// (one model device: running two samplers at once would only make both slower). Every event
// is broadcast and also kept per run, so a page opened mid-run can catch up.
import { randomUUID } from "node:crypto";
import type { Executor } from "../run/executor.js";
import { measureValue } from "../run/value-size.js";
import type { RunEvent } from "../types.js";
import { WorkflowError, formatIssue } from "../workflow/issues.js";
import type { WorkflowDoc } from "../workflow/schema.js";
import type { RunDetail, RunStatus, RunSummary } from "./protocol.js";

export interface QueueOptions {
  /** How many finished runs are remembered. */
  historyLimit?: number;
  /** How many of the newest runs keep their full event log (with per-step canvases). */
  eventLogRuns?: number;
  /**
   * What the remembered runs (workflow, overrides, outputs, event logs) may take together: the
   * oldest finished runs are forgotten past it. A run's own event log keeps per-step progress only
   * up to an eighth of it.
   */
  maxHistoryBytes?: number;
  /** Runs waiting at once; submit() throws QueueFull past it. */
  maxQueuedRuns?: number;
}

/** A run the queue will not take: it is full (429), or the server is closing (503). */
export class QueueRefused extends Error {
  constructor(
    readonly status: 429 | 503,
    message: string,
  ) {
    super(message);
  }
}

interface RunRecord {
  id: string;
  name: string | null;
  status: RunStatus;
  createdAt: Date;
  startedAt: Date | null;
  finishedAt: Date | null;
  doc: WorkflowDoc;
  overrides: Record<string, unknown>;
  outputs: Record<string, unknown>;
  error: RunSummary["error"];
  stats: unknown;
  events: RunEvent[];
  /** Measured size of doc, overrides and outputs, and of the events kept. */
  bytes: number;
  eventBytes: number;
  controller: AbortController;
}

export type QueueListener = {
  event(event: RunEvent): void;
  /** The queue changed (a run was added, started, ended or removed). */
  changed(): void;
};

/** What the API and the WebSocket need of a queue: this one, or the Redis one of `serve --redis` (engine/queue). */
export type Runs = Pick<RunQueue, "subscribe" | "submit" | "cancel" | "get" | "events" | "list" | "idle" | "close">;

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

  constructor(
    private readonly executor: Executor,
    options: QueueOptions = {},
  ) {
    this.historyLimit = options.historyLimit ?? 200;
    this.eventLogRuns = options.eventLogRuns ?? 10;
    this.maxHistoryBytes = options.maxHistoryBytes ?? 256 * 1024 * 1024;
    this.maxQueuedRuns = options.maxQueuedRuns ?? 100;
  }

  subscribe(listener: QueueListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Queues an already validated workflow. */
  submit(doc: WorkflowDoc, overrides: Record<string, unknown> = {}, name?: string): RunSummary {
    if (this.closed) throw new QueueRefused(503, "the server is shutting down");
    if (this.waiting.length >= this.maxQueuedRuns) throw new QueueRefused(429, `the queue is full: ${this.waiting.length} runs are already waiting`);
    const record: RunRecord = {
      id: randomUUID(),
      name: name ?? doc.name ?? null,
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
    this.waiting.push(record);
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
      this.changed();
    } else if (record.status === "running" && !record.controller.signal.aborted) {
      record.controller.abort();
      this.changed();
    }
    return summary(record);
  }

  get(id: string): RunDetail | undefined {
    const record = this.runs.get(id);
    return record && detail(record);
  }

  events(id: string): RunEvent[] | undefined {
    return this.runs.get(id)?.events;
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
    this.forget();
  }

  private emit(record: RunRecord, event: RunEvent): void {
    // The outputs in node_finished and run_finished are the record's own (counted once, above).
    const bytes = event.type === "node_finished" || event.type === "run_finished" ? 256 : measureValue(event).data;
    if (event.type !== "progress" || record.eventBytes + bytes <= this.maxHistoryBytes / 8) {
      record.events.push(event);
      record.eventBytes += bytes;
    }
    for (const listener of this.listeners) listener.event(event);
  }

  private changed(): void {
    for (const listener of this.listeners) listener.changed();
  }

  /** Drops the oldest finished runs past the count or byte budget, and the event logs of all but the newest few. */
  private forget(): void {
    const ended = (r: RunRecord) => r.status !== "queued" && r.status !== "running";
    const kept = [...this.runs.values()];
    for (const record of kept.slice(0, Math.max(0, kept.length - this.eventLogRuns))) {
      if (ended(record)) {
        record.events = [];
        record.eventBytes = 0;
      }
    }
    let count = this.runs.size;
    let bytes = 0;
    for (const r of this.runs.values()) bytes += r.bytes + r.eventBytes;
    for (const record of [...this.runs.values()]) {
      if (count <= this.historyLimit && bytes <= this.maxHistoryBytes) break;
      if (!ended(record)) continue;
      this.runs.delete(record.id);
      count--;
      bytes -= record.bytes + record.eventBytes;
    }
  }
}

function summary(record: RunRecord): RunSummary {
  return {
    id: record.id,
    name: record.name,
    status: record.status,
    createdAt: record.createdAt.toISOString(),
    startedAt: record.startedAt?.toISOString() ?? null,
    finishedAt: record.finishedAt?.toISOString() ?? null,
    error: record.error,
    ...(record.status === "running" && record.controller.signal.aborted ? { cancelRequested: true } : {}),
  };
}

function detail(record: RunRecord): RunDetail {
  return { ...summary(record), outputs: record.outputs, stats: record.stats, workflow: record.doc, overrides: record.overrides };
}

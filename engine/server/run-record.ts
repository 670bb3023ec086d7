// What the two run queues (this server's RunQueue, and serve --redis's RemoteRuns in engine/queue)
// keep of a run, and the bookkeeping they share: the summary and detail the API returns, the
// event log with its byte budget, and forgetting the oldest ended runs.
import { measureValue } from "../run/value-size.js";
import type { RunEvent } from "../types.js";
import type { WorkflowDoc } from "../workflow/schema.js";
import type { RunDetail, RunStatus, RunSummary } from "./protocol.js";

export interface RunRecordBase {
  id: string;
  name: string | null;
  graph: string | null;
  seeds: Record<string, number>;
  changes: string[];
  warnings: number;
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
}

export const ended = (r: Pick<RunRecordBase, "status">): boolean => r.status !== "queued" && r.status !== "running";

/** `GET /api/runs` items; `extra` is what only one queue knows (the worker, a cancel asked for). */
export function runSummary(record: RunRecordBase, extra: { worker?: string | null; cancelRequested: boolean }): RunSummary {
  return {
    id: record.id,
    name: record.name,
    graph: record.graph,
    seeds: record.seeds,
    changes: record.changes,
    warnings: record.warnings,
    status: record.status,
    createdAt: record.createdAt.toISOString(),
    startedAt: record.startedAt?.toISOString() ?? null,
    finishedAt: record.finishedAt?.toISOString() ?? null,
    error: record.error,
    ...(extra.worker !== undefined ? { worker: extra.worker } : {}),
    ...(record.status === "running" && extra.cancelRequested ? { cancelRequested: true } : {}),
  };
}

/** `GET /api/runs/:id`. */
export function runDetail(record: RunRecordBase, summary: RunSummary): RunDetail {
  return { ...summary, outputs: record.outputs, stats: record.stats, workflow: record.doc, overrides: record.overrides };
}

/**
 * Keeps an event in the run's log. The outputs in node_finished and run_finished are the record's
 * own (counted once, in `bytes`); per-step progress and warnings (a node may warn per step) are
 * kept up to an eighth of the history budget per run.
 */
export function logEvent(record: RunRecordBase, event: RunEvent, maxHistoryBytes: number): void {
  if (event.type === "warning") record.warnings++;
  const bytes = event.type === "node_finished" || event.type === "run_finished" ? 256 : measureValue(event).data;
  const capped = event.type === "progress" || event.type === "warning";
  if (!capped || record.eventBytes + bytes <= maxHistoryBytes / 8) {
    record.events.push(event);
    record.eventBytes += bytes;
  }
}

/**
 * Drops the event logs of all ended runs but the newest `eventLogRuns`, then the oldest ended runs
 * past `historyLimit` runs or `maxHistoryBytes`; returns the ids dropped.
 */
export function forgetRuns<R extends RunRecordBase>(runs: Map<string, R>, o: { eventLogRuns: number; historyLimit: number; maxHistoryBytes: number }): string[] {
  const all = [...runs.values()];
  for (const record of all.slice(0, Math.max(0, all.length - o.eventLogRuns))) {
    if (ended(record)) {
      record.events = [];
      record.eventBytes = 0;
    }
  }
  let count = runs.size;
  let bytes = 0;
  for (const r of all) bytes += r.bytes + r.eventBytes;
  const dropped: string[] = [];
  for (const record of all) {
    if (count <= o.historyLimit && bytes <= o.maxHistoryBytes) break;
    if (!ended(record)) continue;
    runs.delete(record.id);
    dropped.push(record.id);
    count--;
    bytes -= record.bytes + record.eventBytes;
  }
  return dropped;
}

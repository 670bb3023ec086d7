// What the server's HTTP API and WebSocket carry, shared with the editor (type-only: the app
// imports these types, never the server code).
import type { RunEvent } from "../types.js";
import type { Issue } from "../workflow/issues.js";

export type RunStatus = "queued" | "running" | "finished" | "failed" | "cancelled";

export interface RunError {
  nodeId: string | null;
  input?: string | null;
  message: string;
}

/** `GET /api/runs` items. */
export interface RunSummary {
  id: string;
  name: string | null;
  status: RunStatus;
  createdAt: string;
  startedAt: string | null;
  finishedAt: string | null;
  error: RunError | null;
  /** The `maskflow worker` running (or that ran) it, with `serve --redis`; absent when runs are in-process. */
  worker?: string | null;
  /** A cancel was asked for and the run has not stopped yet (cancellation is cooperative). */
  cancelRequested?: boolean;
  /** The client's id for the graph this run was made from (POST /api/runs `graph`), so a client tells its own graph's runs. */
  graph: string | null;
  /** The run's seed inputs, `{"<nodeId>.<input>": seed}`. */
  seeds: Record<string, number>;
  /** What differs from the previous run of the same graph (or of the same name), e.g. "denoise.gen_length 48 → 16". */
  changes: string[];
  /** How many warnings its nodes gave (the `warning` events). */
  warnings: number;
}

/** `GET /api/runs/:id`. */
export interface RunDetail extends RunSummary {
  outputs: Record<string, unknown>;
  stats: unknown;
  workflow: unknown;
  overrides: Record<string, unknown>;
}

/** Every error answer: a message, and for a rejected workflow every issue with its node and input. */
export interface ApiErrorBody {
  error: string;
  details: Issue[];
}

/**
 * A WebSocket message on `/api/events`: one of the engine's run events, or the queue as it
 * stands after a change (so a queue panel needs no polling, and a failed run's end is seen).
 */
export type ServerMessage = RunEvent | { type: "queue"; runs: RunSummary[] };

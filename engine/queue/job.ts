// What a queued run is: its data in BullMQ, what the worker returns, and the ids. A batch job's id
// comes from the workflow's content, its overrides and its line number, so enqueuing the same
// batch twice (a rerun after the client died) adds nothing: BullMQ keeps the first job of an id.
import { createHash } from "node:crypto";
import type { WorkflowDoc } from "../workflow/schema.js";

export interface RunJobData {
  /** Content hash of the workflow, stored once under keys.workflow(hash). */
  workflow: string;
  overrides: Record<string, unknown>;
  /** The batch input's line number. */
  line?: number;
  /** Publish every event live (the editor watches the run); batch jobs only report progress. */
  live?: boolean;
  name?: string | null;
}

/** What a job returns to BullMQ (small on purpose: the outputs are stored beside it). */
export interface RunJobReturn {
  status: "finished" | "cancelled";
  worker: string;
  /** From being enqueued to the start of the attempt that produced this result. */
  waitMs: number;
  /** The run itself. */
  ms: number;
  /** Size of the stored result (gzipped JSON). */
  bytes: number;
}

/** The structured error of a failed run, as the local batch records it. */
export interface RunError {
  nodeId: string | null;
  input: string | null;
  message: string;
}

/** The full result, stored under keys.result(id). */
export interface StoredResult {
  status: "finished" | "failed" | "cancelled";
  outputs: Record<string, unknown>;
  error?: RunError;
  stats?: unknown;
  worker: string;
  waitMs: number;
  ms: number;
}

/** BullMQ's progress for a job: where the run is (cheap enough to update a few times a second). */
export interface RunProgress {
  node: string | null;
  step: number;
  total: number;
}

/** JSON with object keys sorted, so equal values give equal text whatever their key order. */
export function canonicalJson(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) =>
    v && typeof v === "object" && !Array.isArray(v)
      ? Object.fromEntries(Object.entries(v as Record<string, unknown>).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)))
      : v,
  );
}

/**
 * What a worker needs of a workflow: its nodes, types and inputs. Layout, titles, the name and
 * the description are left out, so moving a node in the editor does not make a batch new.
 */
export function runnableContent(doc: WorkflowDoc): { json: string; hash: string } {
  const nodes = Object.fromEntries(Object.entries(doc.nodes).map(([id, node]) => [id, { type: node.type, inputs: node.inputs }]));
  const json = canonicalJson({ version: doc.version, nodes });
  return { json, hash: createHash("sha256").update(json).digest("hex") };
}

/** A batch job's id: the same workflow, overrides and line always give the same id. */
export function batchJobId(workflowHash: string, overrides: Record<string, unknown>, line: number): string {
  const digest = createHash("sha256").update(`${workflowHash}\n${canonicalJson(overrides)}\n${line}`).digest("hex");
  // A letter first: BullMQ refuses ids that are plain integers.
  return `b${digest.slice(0, 40)}`;
}

// Errors as they travel through the queue: structured (node, input, message) in the stored
// result, and as one readable line in BullMQ's failedReason for anyone looking at the job.
import { NodeError, NodeInputError } from "../run/errors.js";
import { formatIssue, WorkflowError } from "../workflow/issues.js";
import type { RunError } from "./job.js";

export function runErrorOf(err: unknown): RunError {
  if (err instanceof WorkflowError) {
    const first = err.issues[0];
    return { nodeId: first?.nodeId ?? null, input: first?.input ?? null, message: err.issues.map(formatIssue).join("; ") };
  }
  if (err instanceof NodeError) return { nodeId: err.nodeId, input: err.input, message: err.message };
  if (err instanceof NodeInputError) return { nodeId: null, input: err.input, message: err.message };
  return { nodeId: null, input: null, message: err instanceof Error ? err.message : String(err) };
}

/** "denoise.steps: must be at least 1", or the message alone when no node is named. */
export function describeRunError(error: RunError): string {
  if (error.nodeId === null) return error.message;
  const where = error.input ? `${error.nodeId}.${error.input}` : error.nodeId;
  return error.message.startsWith(where) ? error.message : `${where}: ${error.message}`;
}

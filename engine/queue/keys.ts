// Where the queue lives in Redis. BullMQ keeps its jobs under `maskflow:runs:*`; beside them,
// Maskflow keeps workflows (stored once per batch, not once per job), results (kept out of
// BullMQ's job hashes and event stream, see results.ts), worker heartbeats and cancel marks.
export const PREFIX = "maskflow";
export const QUEUE_NAME = "runs";

export const keys = {
  /** A workflow document by its content hash (job.ts). */
  workflow: (hash: string) => `${PREFIX}:workflow:${hash}`,
  /** A run's full result (outputs, error, stats), gzipped JSON. */
  result: (jobId: string) => `${PREFIX}:result:${jobId}`,
  /** Set when a run is cancelled, so a worker that takes it afterwards does not start it. */
  cancel: (jobId: string) => `${PREFIX}:cancel:${jobId}`,
  /** One worker's last heartbeat (JSON), expiring when it stops beating. */
  worker: (id: string) => `${PREFIX}:worker:${id}`,
  /** Worker ids by last heartbeat time (a sorted set), so listing needs no SCAN. */
  workers: `${PREFIX}:workers`,
  /** BullMQ's hash for a job (to test that it exists without loading it). */
  job: (jobId: string) => `${PREFIX}:${QUEUE_NAME}:${jobId}`,
  /** BullMQ's lock of an active job; its value is the token of the worker that holds it. */
  lock: (jobId: string) => `${PREFIX}:${QUEUE_NAME}:${jobId}:lock`,
};

export const channels = {
  /** Live run events (`{ job, event }`) of runs submitted with `live: true` (the editor's). */
  events: `${PREFIX}:events`,
  /** Job ids to cancel, heard by every worker. */
  cancel: `${PREFIX}:cancel`,
};

/** How long workflows, results and finished jobs stay in Redis when nobody collects them. */
export const KEEP_SECONDS = 7 * 24 * 3600;

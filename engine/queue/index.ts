// The queue: Maskflow's multi-machine mode on BullMQ and Redis. `maskflow worker` runs
// startQueueWorker, `maskflow batch --redis` runQueuedBatch, `maskflow serve --redis`
// startRemoteRuns. Everything that touches Redis lives in this folder.
export { redisTarget, RedisUrlError, type RedisTarget } from "./connection.js";
export { startQueueWorker, type QueueWorker, type QueueWorkerOptions } from "./worker.js";
export { runQueuedBatch, type QueuedBatchOptions, type QueuedBatchProgress, type QueuedJob, type QueuedResult } from "./batch.js";
export { startRemoteRuns, RemoteRuns, type RemoteRunsOptions } from "./remote-runs.js";
export { listWorkers, type WorkerBeat, type WorkerJob } from "./heartbeat.js";
export { batchJobId, canonicalJson, runnableContent, type RunJobData, type RunJobReturn, type StoredResult } from "./job.js";
export { withDevice, workerFiles, workerRoots } from "./confine.js";
export { keys, channels, PREFIX, QUEUE_NAME } from "./keys.js";
export { LIVE_OUTPUT_LIMIT } from "./live.js";

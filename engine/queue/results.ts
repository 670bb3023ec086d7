// Results live beside the queue, not in it. BullMQ copies a job's return value into the job's
// hash and into its event stream (kept to ~10,000 entries and read by every listener), so a
// canvas with a per-step trace (megabytes for long generations) would be held two or three
// times and sent to every QueueEvents client. Instead the worker stores the whole result,
// gzipped, under its own key, returns a few numbers to BullMQ, and the batch client or server
// deletes the key once it has written the result down. Uncollected results expire.
import { promisify } from "node:util";
import { gunzip, gzip } from "node:zlib";
import type { Redis } from "ioredis";
import type { StoredResult } from "./job.js";
import { KEEP_SECONDS, keys } from "./keys.js";

const gzipAsync = promisify(gzip);
const gunzipAsync = promisify(gunzip);

/** SET the result only while the job's BullMQ lock is still this worker's token (KEYS: lock, result). */
const SET_IF_LOCKED = `if redis.call("GET", KEYS[1]) == ARGV[1] then redis.call("SET", KEYS[2], ARGV[2], "EX", ARGV[3]) return 1 end return 0`;

export class LockLost extends Error {
  constructor(jobId: string) {
    super(`lost the lock of job ${jobId} (another worker has taken it over); its result is not kept`);
    this.name = "LockLost";
  }
}

/**
 * Stores a run's result; returns its stored size in bytes. With the job's lock token, only while
 * this worker still holds the job: a worker too slow to renew its lock, whose job another worker
 * has taken over (and whose result may already be collected), must not leave a second result.
 */
export async function storeResult(redis: Redis, jobId: string, result: StoredResult, lockToken?: string): Promise<number> {
  const packed = await gzipAsync(Buffer.from(JSON.stringify(result)), { level: 3 });
  if (lockToken === undefined) await redis.set(keys.result(jobId), packed, "EX", KEEP_SECONDS);
  else if ((await redis.eval(SET_IF_LOCKED, 2, keys.lock(jobId), keys.result(jobId), lockToken, packed, KEEP_SECONDS)) !== 1) throw new LockLost(jobId);
  return packed.length;
}

/** The stored result, or null when there is none (never stored, expired, or already taken). */
export async function readResult(redis: Redis, jobId: string): Promise<StoredResult | null> {
  const packed = await redis.getBuffer(keys.result(jobId));
  if (!packed) return null;
  return JSON.parse((await gunzipAsync(packed)).toString("utf8")) as StoredResult;
}

export async function dropResult(redis: Redis, jobId: string): Promise<void> {
  await redis.del(keys.result(jobId));
}

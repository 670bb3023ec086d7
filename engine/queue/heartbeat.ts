// Worker heartbeats: each worker rewrites its entry every few seconds (what it runs, at which
// node and step, how many jobs it has done). An entry expires three beats after its worker stops
// (or is killed), so a listing shows the workers that are alive. The stalled-job detection that
// hands a dead worker's job to another is BullMQ's own (its job locks); this is for people and
// progress bars.
import { hostname } from "node:os";
import type { Redis } from "ioredis";
import { keys } from "./keys.js";

export interface WorkerJob {
  id: string;
  name: string | null;
  line: number | null;
  node: string | null;
  step: number;
  total: number;
  startedAt: number;
}

export interface WorkerBeat {
  id: string;
  host: string;
  pid: number;
  device: string | null;
  concurrency: number;
  startedAt: number;
  beatAt: number;
  /** Jobs done (finished or cancelled) and failed since the worker started. */
  done: number;
  failed: number;
  /** SIGTERM was received: it takes no new jobs. */
  stopping: boolean;
  jobs: WorkerJob[];
}

export function defaultWorkerId(): string {
  return `${hostname()}-${process.pid}`;
}

export class Heartbeat {
  private timer: ReturnType<typeof setInterval> | undefined;

  constructor(
    private readonly redis: Redis,
    private readonly beat: () => WorkerBeat,
    private readonly everyMs: number,
  ) {}

  start(): void {
    void this.send();
    this.timer = setInterval(() => void this.send(), this.everyMs);
    this.timer.unref();
  }

  /** Stops beating and removes the entry (a stopped worker is gone at once, not after its TTL). */
  async stop(): Promise<void> {
    clearInterval(this.timer);
    const { id } = this.beat();
    await Promise.all([this.redis.del(keys.worker(id)), this.redis.zrem(keys.workers, id)]).catch(() => undefined);
  }

  private async send(): Promise<void> {
    const beat = this.beat();
    try {
      await this.redis
        .multi()
        .set(keys.worker(beat.id), JSON.stringify(beat), "PX", this.everyMs * 3)
        .zadd(keys.workers, beat.beatAt, beat.id)
        .exec();
    } catch {
      // Redis is away: the next beat tries again (the connection reconnects by itself).
    }
  }
}

/** The workers whose heartbeat has not expired, by id. */
export async function listWorkers(redis: Redis): Promise<WorkerBeat[]> {
  const ids = await redis.zrange(keys.workers, 0, -1);
  if (ids.length === 0) return [];
  const values = await redis.mget(ids.map((id) => keys.worker(id)));
  const gone = ids.filter((_, i) => values[i] === null);
  if (gone.length) await redis.zrem(keys.workers, ...gone);
  return values.flatMap((v) => (v === null ? [] : [JSON.parse(v) as WorkerBeat])).sort((a, b) => (a.id < b.id ? -1 : 1));
}

// Workflows are stored once, by content hash, and jobs name the hash: a 50,000-line batch holds
// one copy of its workflow in Redis instead of 50,000. Workers keep the few they have used.
import type { Redis } from "ioredis";
import type { WorkflowDoc } from "../workflow/schema.js";
import { runnableContent } from "./job.js";
import { KEEP_SECONDS, keys } from "./keys.js";

/** Stores (or refreshes) a workflow; returns the hash jobs name it by. */
export async function storeWorkflow(redis: Redis, doc: WorkflowDoc): Promise<string> {
  const { json, hash } = runnableContent(doc);
  await redis.set(keys.workflow(hash), json, "EX", KEEP_SECONDS);
  return hash;
}

export class WorkflowNotFound extends Error {
  constructor(hash: string) {
    super(`the job's workflow (${hash.slice(0, 12)}…) is no longer in Redis (expired or lost); enqueue the batch again`);
    this.name = "WorkflowNotFound";
  }
}

/** A worker's copies of the workflows it has run, newest last. */
export class WorkflowCache {
  private readonly docs = new Map<string, unknown>();

  constructor(
    private readonly redis: Redis,
    private readonly limit = 16,
  ) {}

  async get(hash: string): Promise<unknown> {
    const hit = this.docs.get(hash);
    if (hit !== undefined) {
      this.docs.delete(hash);
      this.docs.set(hash, hit);
      return hit;
    }
    const json = await this.redis.get(keys.workflow(hash));
    if (json === null) throw new WorkflowNotFound(hash);
    const doc: unknown = JSON.parse(json);
    this.docs.set(hash, doc);
    if (this.docs.size > this.limit) this.docs.delete(this.docs.keys().next().value!);
    return doc;
  }
}

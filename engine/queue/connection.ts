// Redis connections for the queue: a `redis://` or `rediss://` URL (user, password, database)
// into ioredis options. Every connection retries for ever (a Redis restart mid-batch must not
// stop a worker or the batch client: commands wait in ioredis' offline queue until it is back).
import { readFileSync } from "node:fs";
import { isIP } from "node:net";
import type { RedisOptions } from "ioredis";

/** A Redis URL that cannot be used (exit 2 in the CLI). */
export class RedisUrlError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "RedisUrlError";
  }
}

/** ioredis options, with a retry strategy that never gives up (BullMQ's type has no `null` return). */
export type ConnectionOptions = Omit<RedisOptions, "retryStrategy"> & { retryStrategy: (times: number) => number };

export interface RedisTarget {
  options: ConnectionOptions;
  /** The URL without its password, for logs and messages. */
  label: string;
}

/**
 * `redis://[user[:password]@]host[:port][/db]`, or `rediss://` for TLS. A private CA (a
 * self-signed Redis) is read from the PEM file named by MASKFLOW_REDIS_CA; without it the
 * system's CAs are trusted, and the certificate must match the host.
 */
export function redisTarget(url: string, env: NodeJS.ProcessEnv = process.env): RedisTarget {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new RedisUrlError(`--redis expects a URL like redis://127.0.0.1:6379 or rediss://:password@host:6380/0, got "${url}"`);
  }
  if (parsed.protocol !== "redis:" && parsed.protocol !== "rediss:") {
    throw new RedisUrlError(`--redis expects a redis:// or rediss:// URL (redis://host:6379), got "${url}"`);
  }
  const host = parsed.hostname.replace(/^\[(.*)\]$/, "$1") || "127.0.0.1";
  const port = parsed.port ? Number(parsed.port) : 6379;
  const dbText = parsed.pathname.replace(/^\//, "");
  if (dbText && !/^\d+$/.test(dbText)) throw new RedisUrlError(`the database in a Redis URL is a number (redis://host:6379/0), got "/${dbText}"`);
  const options: ConnectionOptions = {
    host,
    port,
    db: dbText ? Number(dbText) : 0,
    username: parsed.username ? decodeURIComponent(parsed.username) : undefined,
    password: parsed.password ? decodeURIComponent(parsed.password) : undefined,
    // BullMQ requires null on its blocking connections; everywhere else it means "wait for
    // Redis to come back" rather than failing the command after 20 tries.
    maxRetriesPerRequest: null,
    // Reconnect quickly, then every 2 s, for ever.
    retryStrategy: (times) => Math.min(100 * times, 2000),
  };
  if (parsed.protocol === "rediss:") {
    const caFile = env.MASKFLOW_REDIS_CA;
    let ca: Buffer | undefined;
    if (caFile) {
      try {
        ca = readFileSync(caFile);
      } catch (err) {
        throw new RedisUrlError(`MASKFLOW_REDIS_CA names ${caFile}, which cannot be read (${(err as Error).message})`);
      }
    }
    options.tls = { ca, servername: isIP(host) ? undefined : host };
  }
  const auth = (parsed.username ? parsed.username : "") + (parsed.password ? ":***" : "") + (parsed.username || parsed.password ? "@" : "");
  return { options, label: `${parsed.protocol}//${auth}${parsed.host}${dbText ? `/${dbText}` : ""}` };
}

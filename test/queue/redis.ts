// Real Redis servers for the queue tests: Debian's (or Homebrew's) redis-server, started on a free
// loopback port with its own folder, persistence on (appendonly, as a queue needs), and stopped
// or restarted by the test. No npm package ships Redis, so without a redis-server these tests are
// skipped with a notice naming the install command, unless MASKFLOW_REQUIRE_REDIS=1 (CI) makes
// the missing server a failure.
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Redis } from "ioredis";
import { describe, it } from "vitest";

export const INSTALL_HINT = "install it with `apt-get install redis-server` (Debian/Ubuntu) or `brew install redis` (macOS)";

/** redis-server on PATH (MASKFLOW_REDIS_SERVER names another), or null. */
export function redisServerBinary(): string | null {
  const named = process.env.MASKFLOW_REDIS_SERVER;
  if (named) return named;
  const r = spawnSync("sh", ["-c", "command -v redis-server"], { encoding: "utf8" });
  return r.status === 0 && r.stdout.trim() ? r.stdout.trim() : null;
}

const binary = redisServerBinary();

/**
 * `describe` when redis-server is here; otherwise a skipped suite with a notice, or (under
 * MASKFLOW_REQUIRE_REDIS=1) one failing test that says what to install.
 */
export function describeWithRedis(name: string, body: () => void): void {
  if (binary) {
    describe(name, body);
    return;
  }
  if (process.env.MASKFLOW_REQUIRE_REDIS === "1") {
    describe(name, () => {
      it("needs redis-server", () => {
        throw new Error(`MASKFLOW_REQUIRE_REDIS=1 but there is no redis-server on PATH: ${INSTALL_HINT}`);
      });
    });
    return;
  }
  console.warn(`[maskflow] skipping "${name}": no redis-server on PATH; ${INSTALL_HINT}`);
  describe.skip(name, body);
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

export interface TlsFiles {
  cert: string;
  key: string;
  ca: string;
}

export interface RedisServerOptions {
  password?: string;
  /** Keep data across restarts (appendonly, the default); false: a restart comes back empty. */
  persist?: boolean;
  /** Serve TLS only (rediss://) with these files. */
  tls?: TlsFiles;
}

export interface TestRedis {
  port: number;
  url: string;
  dir: string;
  /** A client for the test's own looks at Redis. */
  client(): Redis;
  /** Stops it gracefully (it writes its data down) and starts it again on the same port and folder. */
  restart(pauseMs?: number): Promise<void>;
  stop(): Promise<void>;
}

export async function startRedis(options: RedisServerOptions = {}): Promise<TestRedis> {
  if (!binary) throw new Error(`no redis-server: ${INSTALL_HINT}`);
  // A free port can be taken by another test file's Redis between finding it and binding it:
  // then ours fails to start and the probe would reach theirs, so the probe checks the pid.
  for (let attempt = 1; ; attempt++) {
    try {
      return await startOn(await freePort(), options);
    } catch (err) {
      if (!(err instanceof PortTaken) || attempt >= 5) throw err;
    }
  }
}

class PortTaken extends Error {}

async function startOn(port: number, options: RedisServerOptions): Promise<TestRedis> {
  const dir = mkdtempSync(join(tmpdir(), "maskflow-redis-"));
  const args = ["--bind", "127.0.0.1", "--dir", dir, "--appendonly", options.persist === false ? "no" : "yes", "--appendfsync", "everysec", "--save", "", "--logfile", join(dir, "redis.log")];
  args.push(...(options.tls ? ["--port", "0", "--tls-port", String(port), "--tls-cert-file", options.tls.cert, "--tls-key-file", options.tls.key, "--tls-ca-cert-file", options.tls.ca, "--tls-auth-clients", "no"] : ["--port", String(port)]));
  if (options.password) args.push("--requirepass", options.password);
  const auth = options.password ? `:${encodeURIComponent(options.password)}@` : "";
  const url = `${options.tls ? "rediss" : "redis"}://${auth}127.0.0.1:${port}`;
  const clientOptions = { host: "127.0.0.1", port, password: options.password, tls: options.tls ? { ca: readFileSync(options.tls.ca) } : undefined };
  let child: ChildProcess;
  const clients: Redis[] = [];

  const launch = async () => {
    child = spawn(binary!, args, { stdio: "ignore" });
    const deadline = Date.now() + 10_000;
    for (;;) {
      const probe = new Redis({ ...clientOptions, lazyConnect: true, retryStrategy: () => null, maxRetriesPerRequest: 0 });
      probe.on("error", () => undefined);
      let pid: number | null = null;
      try {
        await probe.connect();
        pid = Number(/process_id:(\d+)/.exec(await probe.info("server"))?.[1]);
      } catch {
        // not up yet
      }
      probe.disconnect();
      if (pid === child.pid) return;
      // Ours exited (the port was bound meanwhile), or another Redis answers on it.
      if (pid !== null || child.exitCode !== null) {
        child.kill("SIGKILL");
        throw new PortTaken(`port ${port} was taken by another server (see ${join(dir, "redis.log")})`);
      }
      if (Date.now() > deadline) throw new Error(`redis-server did not start on port ${port} (see ${join(dir, "redis.log")})`);
      await new Promise((r) => setTimeout(r, 50));
    }
  };
  const halt = async () => {
    if (child.exitCode !== null) return;
    const exited = new Promise((r) => child.once("exit", r));
    child.kill("SIGTERM"); // a graceful shutdown: the append-only file is flushed
    await exited;
  };
  await launch();
  return {
    port,
    url,
    dir,
    client() {
      const c = new Redis({ ...clientOptions, maxRetriesPerRequest: null });
      c.on("error", () => undefined);
      clients.push(c);
      return c;
    },
    async restart(pauseMs = 500) {
      await halt();
      await new Promise((r) => setTimeout(r, pauseMs));
      await launch();
    },
    async stop() {
      for (const c of clients) c.disconnect();
      await halt();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

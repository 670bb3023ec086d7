// The engine server: the built editor at "/", the JSON API under /api and the run events on
// the WebSocket /api/events. `maskflow serve`, `npm start` and the desktop shell start it.
import { existsSync } from "node:fs";
import { createServer, type IncomingMessage } from "node:http";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import type { Duplex } from "node:stream";
import express from "express";
import { WebSocketServer, type WebSocket } from "ws";
import { confinedFiles, unrestrictedFiles, type FileRoot } from "../files/access.js";
import { resolveLimits, type Limits } from "../limits.js";
import { PACKAGE_ROOT, userModelsDir } from "../paths.js";
import type { NodeRegistry } from "../registry.js";
import { Executor } from "../run/executor.js";
import { apiRouter } from "./api.js";
import { TOKEN_COOKIE, checkAccess, generateToken, isLoopbackHost } from "./auth.js";
import type { ServerMessage } from "./protocol.js";
import { RunQueue, type Runs } from "./run-queue.js";

export type { RunDetail, RunStatus, RunSummary, ServerMessage, ApiErrorBody } from "./protocol.js";
export { generateToken, isLoopbackHost } from "./auth.js";
export { defaultHistoryDir } from "./history.js";

export interface ServerOptions {
  /** 0 picks a free port. */
  port?: number;
  host?: string;
  /** Required on a non-loopback host; generated (and logged) when missing there. */
  token?: string;
  /** The node types (built-ins plus packages: engine/plugins' assembleRegistry). */
  registry: NodeRegistry;
  /** The built editor (default: dist/app in the package). */
  appDir?: string;
  /**
   * Where ended runs are kept across restarts (default: none, in memory only; `maskflow serve`
   * passes defaultHistoryDir()). Not used with `redis`: the remote runs are kept in memory only.
   */
  historyDir?: string | null;
  /** How many ended runs are kept (default 200). */
  historyLimit?: number;
  /**
   * A Redis URL: runs go through the queue to `maskflow worker`s (engine/queue) instead of running
   * in this process.
   */
  redis?: string;
  /** Where the server reports its address and a generated token (default: console.log). */
  log?: (line: string) => void;
  /**
   * Folders models and adapters load from, besides the bundled models/ and the user models folder
   * (MASKFLOW_MODELS, else ~/.maskflow/models): `maskflow serve --models DIR`.
   */
  modelRoots?: string[];
  /**
   * false: workflows may name any path, as with the CLI. Only for a server that nobody but its own
   * user can reach; the default (true) confines paths to the roots above.
   */
  confinePaths?: boolean;
  /** Limits (engine/limits.ts) over the defaults and MASKFLOW_LIMITS. */
  limits?: Partial<Limits>;
}

/** The folders a served instance loads models and adapters from. */
export function modelRoots(extra: string[] = []): FileRoot[] {
  return [
    { path: join(PACKAGE_ROOT, "models"), shown: "models/", label: "the bundled models/" },
    { path: userModelsDir(), shown: "", label: "the user models folder (MASKFLOW_MODELS)" },
    ...extra.map((path) => ({ path, shown: "", label: "--models" })),
  ];
}

export interface RunningServer {
  /** The editor's address, with `?token=` when a token is needed. */
  url: string;
  /** The API's base, without the token. */
  origin: string;
  port: number;
  token: string | null;
  close(): Promise<void>;
}

/** A WebSocket whose unsent buffer passes this many bytes stops getting per-step progress. */
const SLOW_CLIENT_BYTES = 8 * 1024 * 1024;

function missingAppPage(appDir: string): string {
  return `<!doctype html><meta charset="utf-8"><title>Maskflow</title>
<body style="font:15px system-ui;margin:3em;max-width:40em">
<h1>Maskflow engine is running</h1>
<p>The editor has not been built: no <code>${appDir.replace(/</g, "&lt;")}/index.html</code>.
Run <code>npm run build</code>, then reload. The API answers under <a href="api/nodes">/api</a>.</p>`;
}

export async function startServer(options: ServerOptions): Promise<RunningServer> {
  const host = options.host ?? "127.0.0.1";
  const log = options.log ?? ((line: string) => console.log(line));
  let token = options.token ?? null;
  if (token !== null && token.length < 8) throw new Error("a token must be at least 8 characters");
  const generated = token === null && !isLoopbackHost(host);
  if (generated) token = generateToken();
  const registry = options.registry;
  const appDir = options.appDir ?? join(PACKAGE_ROOT, "dist", "app");
  const limits = resolveLimits(options.limits ?? {});
  const files = options.confinePaths === false ? unrestrictedFiles : confinedFiles(modelRoots(options.modelRoots));
  const executor = new Executor(registry, { limits, files });
  const queueOptions = { historyLimit: options.historyLimit, maxHistoryBytes: limits.maxHistoryBytes, maxQueuedRuns: limits.maxQueuedRuns };
  // With --redis, `maskflow worker`s run the runs, under their own model folders (BullMQ is loaded only then).
  const queue: Runs = options.redis
    ? await (await import("../queue/remote-runs.js")).startRemoteRuns({ redis: options.redis, log, registry, ...queueOptions })
    : new RunQueue(executor, { ...queueOptions, historyDir: options.historyDir ?? null });

  const app = express();
  app.disable("x-powered-by");
  app.set("etag", false);
  app.use((req, res, next) => {
    const isWrite = req.method !== "GET" && req.method !== "HEAD" && req.method !== "OPTIONS";
    const access = checkAccess(req, token, isWrite);
    if (!access.ok) {
      res.status(access.status).json({ error: access.reason, details: [] });
      return;
    }
    // A page opened with ?token= gets a cookie, so its scripts, styles and API calls pass too.
    if (access.via === "query" && token) {
      res.cookie(TOKEN_COOKIE, token, { httpOnly: true, sameSite: "strict", path: "/" });
    }
    next();
  });
  app.use("/api", apiRouter(registry, queue, limits, files));
  app.use(express.static(appDir, { index: false, maxAge: "1h" }));
  // The editor is a single page: every other GET gets index.html.
  app.get("/{*path}", (_req, res) => {
    const index = join(appDir, "index.html");
    res.setHeader("Cache-Control", "no-store");
    if (existsSync(index)) res.sendFile(index);
    else res.status(200).type("html").send(missingAppPage(appDir));
  });

  const server = createServer(app);
  const sockets = new WebSocketServer({ noServer: true, maxPayload: 64 * 1024 });
  server.on("upgrade", (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    const path = new URL(req.url ?? "/", "http://x").pathname;
    const access = checkAccess(req, token, true);
    if (path !== "/api/events" || !access.ok) {
      const status = path !== "/api/events" ? "404 Not Found" : access.ok ? "400 Bad Request" : `${access.status} ${access.status === 401 ? "Unauthorized" : "Forbidden"}`;
      socket.end(`HTTP/1.1 ${status}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`);
      return;
    }
    sockets.handleUpgrade(req, socket, head, (ws) => sockets.emit("connection", ws, req));
  });
  sockets.on("connection", (ws: WebSocket) => {
    // Clients only listen; anything they send is ignored.
    ws.on("error", () => ws.terminate());
    send(ws, { type: "queue", runs: queue.list() });
  });

  function send(ws: WebSocket, message: ServerMessage, text = JSON.stringify(message)): void {
    if (ws.readyState !== ws.OPEN) return;
    if (message.type === "progress" && ws.bufferedAmount > SLOW_CLIENT_BYTES) return;
    ws.send(text);
  }
  function broadcast(message: ServerMessage): void {
    if (sockets.clients.size === 0) return;
    // Serialised once for every client: a run's outputs may be megabytes.
    const text = JSON.stringify(message);
    for (const ws of sockets.clients) send(ws, message, text);
  }
  let queueTimer: ReturnType<typeof setTimeout> | undefined;
  queue.subscribe({
    event: broadcast,
    // Coalesce bursts (a run ending and the next starting) into one queue message.
    changed: () => {
      clearTimeout(queueTimer);
      queueTimer = setTimeout(() => broadcast({ type: "queue", runs: queue.list() }), 20);
    },
  });

  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.port ?? 8188, host, () => {
      server.off("error", reject);
      resolve();
    });
  });
  const port = (server.address() as AddressInfo).port;
  const urlHost = host === "0.0.0.0" || host === "::" ? "127.0.0.1" : host.includes(":") ? `[${host}]` : host;
  const origin = `http://${urlHost}:${port}`;
  const url = `${origin}/${token ? `?token=${encodeURIComponent(token)}` : ""}`;
  if (options.redis) log(`maskflow: runs go to the workers on ${(await import("../queue/connection.js")).redisTarget(options.redis).label}`);
  if (generated) log(`maskflow: listening on ${host}:${port}; a token is required, generated: ${token}`);
  log(`maskflow: editor at ${url}`);

  let closing: Promise<void> | null = null;
  return {
    url,
    origin,
    port,
    token,
    close() {
      closing ??= (async () => {
        clearTimeout(queueTimer);
        await queue.close();
        executor.clearCache();
        for (const ws of sockets.clients) ws.terminate();
        sockets.close();
        await new Promise<void>((resolve) => {
          server.close(() => resolve());
          server.closeAllConnections();
        });
      })();
      return closing;
    },
  };
}

// `maskflow serve [--port 8188] [--host 127.0.0.1] [--token T] [--models DIR]... [--limit N=V]...`:
// what the CLI command calls. Runs until SIGINT/SIGTERM, then cancels runs and closes cleanly.
import { shutdownWorkers } from "../dllm/runtime/worker-client.js";
import type { Limits } from "../limits.js";
import type { NodeRegistry } from "../registry.js";
import { defaultHistoryDir } from "./history.js";
import { startServer, type RunningServer } from "./index.js";

export interface ServeFlags {
  port?: string | number;
  host?: string;
  token?: string;
  /** The CLI's registry: built-in nodes plus node packages. */
  registry: NodeRegistry;
  /** Folders to load models and adapters from, besides the bundled ones and the user models folder. */
  models?: string[];
  limits?: Partial<Limits>;
  /** Run on `maskflow worker`s through this Redis (engine/queue). */
  redis?: string;
}

export async function serve(flags: ServeFlags): Promise<RunningServer> {
  const port = flags.port === undefined ? 8188 : Number(flags.port);
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new Error(`--port must be a port number, got "${flags.port}"`);
  // Run history survives restarts: ~/.maskflow/history unless MASKFLOW_HISTORY says otherwise
  // (without --redis: the remote runs of serve --redis are kept in memory only).
  const server = await startServer({
    port,
    host: flags.host ?? "127.0.0.1",
    token: flags.token,
    registry: flags.registry,
    modelRoots: flags.models,
    limits: flags.limits,
    historyDir: flags.redis ? null : defaultHistoryDir(),
    redis: flags.redis,
  });
  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) process.exit(130); // a second Ctrl+C does not wait
    stopping = true;
    console.log(`maskflow: ${signal}, stopping (cancelling runs)…`);
    void server
      .close()
      .then(() => shutdownWorkers(10_000)) // exiting with a worker mid-call would abort the process
      .then(() => process.exit(0));
  };
  process.once("SIGINT", () => stop("SIGINT"));
  process.once("SIGTERM", () => stop("SIGTERM"));
  return server;
}

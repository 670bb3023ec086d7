// `maskflow serve [--port 8188] [--host 127.0.0.1] [--token T]`: what the CLI command calls.
// Runs until SIGINT/SIGTERM, then cancels runs and closes cleanly.
import type { NodeRegistry } from "../registry.js";
import { defaultHistoryDir } from "./history.js";
import { startServer, type RunningServer } from "./index.js";

export interface ServeFlags {
  /** The CLI's registry: built-in nodes plus node packages. */
  registry: NodeRegistry;
  port?: string | number;
  host?: string;
  token?: string;
}

export async function serve(flags: ServeFlags): Promise<RunningServer> {
  const port = flags.port === undefined ? 8188 : Number(flags.port);
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new Error(`--port must be a port number, got "${flags.port}"`);
  // Run history survives restarts: ~/.maskflow/history unless MASKFLOW_HISTORY says otherwise.
  const server = await startServer({ port, host: flags.host ?? "127.0.0.1", token: flags.token, registry: flags.registry, historyDir: defaultHistoryDir() });
  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) process.exit(130); // a second Ctrl+C does not wait
    stopping = true;
    console.log(`maskflow: ${signal}, stopping (cancelling runs)…`);
    void server.close().then(() => process.exit(0));
  };
  process.once("SIGINT", () => stop("SIGINT"));
  process.once("SIGTERM", () => stop("SIGTERM"));
  return server;
}

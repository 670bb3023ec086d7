// Shared by the server tests: a real server on 127.0.0.1 port 0 with the built-in nodes plus
// one test node that counts steps slowly (so a run can be watched and cancelled mid-way).
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import WebSocket from "ws";
import { NodeRegistry, type NodeDefinition } from "../../engine/index.js";
import { builtinNodes } from "../../nodes/index.js";
import { startServer, type RunningServer, type ServerMessage, type ServerOptions } from "../../engine/server/index.js";

/**
 * Counts to `steps`, one step every `ms`, reporting a canvas snapshot per step (one position
 * decided per step, at most 24 positions); stops when cancelled.
 */
export const SlowSteps: NodeDefinition = {
  type: "SlowSteps",
  version: 1,
  title: "Slow steps (test)",
  category: "test",
  description: "Counts slowly, for queue and cancel tests.",
  inputs: {
    steps: { kind: "integer", default: 5, min: 1, max: 10_000 },
    // `advanced` (not yet in InputDef): the editor folds such inputs away until asked.
    ms: { kind: "integer", default: 10, min: 0, max: 1000, ...({ advanced: true } as object) },
  },
  outputs: { text: { socket: "TEXT" } },
  async execute({ steps, ms }, ctx) {
    const total = steps as number;
    const pieces: (string | null)[] = Array(Math.min(total, 24)).fill(null);
    for (let step = 1; step <= total; step++) {
      if (ctx.signal.aborted) throw Object.assign(new Error("cancelled"), { name: "AbortError" });
      await new Promise((resolve) => setTimeout(resolve, ms as number));
      pieces[(step - 1) % pieces.length] = `t${step}`;
      ctx.progress({
        step,
        total,
        canvas: {
          step,
          tokens: pieces.map((_, i) => i),
          pieces: [...pieces],
          confidence: pieces.map((p) => (p === null ? 0 : 0.9)),
          changed: [(step - 1) % pieces.length],
        },
      });
    }
    return { text: `counted to ${total}` };
  },
};

/** Fails with a message naming its input, for failure reporting tests. */
export const FailWith: NodeDefinition = {
  type: "FailWith",
  version: 1,
  title: "Fail (test)",
  category: "test",
  description: "Always fails.",
  inputs: { reason: { kind: "string", default: "boom" } },
  outputs: { text: { socket: "TEXT" } },
  execute({ reason }, ctx) {
    return ctx.fail("reason", String(reason));
  },
};

/** Says its seed: runs that differ only by seed (a batch) give different outputs. */
export const Seeded: NodeDefinition = {
  type: "Seeded",
  version: 1,
  title: "Seeded (test)",
  category: "test",
  description: "Returns its seed, for batch and queue tests.",
  inputs: { seed: { kind: "integer", widget: "seed", default: 0, min: 0, max: 1000 } },
  outputs: { text: { socket: "TEXT" } },
  execute: ({ seed }) => ({ text: `seed ${String(seed)}` }),
};

/** Finishes, but warns (as a Remask that matches nothing does). */
export const WarnWith: NodeDefinition = {
  type: "WarnWith",
  version: 1,
  title: "Warn (test)",
  category: "test",
  description: "Warns and passes its text on.",
  inputs: { warning: { kind: "string", default: "careful" } },
  outputs: { text: { socket: "TEXT" } },
  execute: ({ warning }, ctx) => {
    ctx.log.warn(String(warning));
    return { text: "warned" };
  },
};

export function testRegistry(): NodeRegistry {
  return new NodeRegistry([...builtinNodes, SlowSteps, FailWith, Seeded, WarnWith]);
}

/** A stand-in editor build, so the static routes can be checked without running Vite. */
export function fakeAppDir(): string {
  const dir = mkdtempSync(join(tmpdir(), "maskflow-app-"));
  writeFileSync(join(dir, "index.html"), "<!doctype html><title>Maskflow test app</title><div id=root></div>");
  writeFileSync(join(dir, "app.js"), "console.log('app')");
  return dir;
}

export async function startTestServer(options: Partial<ServerOptions> = {}): Promise<RunningServer> {
  return startServer({ port: 0, registry: testRegistry(), appDir: fakeAppDir(), log: () => {}, ...options });
}

export function slowWorkflow(steps: number, ms = 10, name = "slow"): Record<string, unknown> {
  return {
    version: 1,
    name,
    nodes: {
      count: { type: "SlowSteps", inputs: { steps, ms } },
      show: { type: "ShowText", inputs: { value: { from: "count", output: "text" } } },
    },
  };
}

export const concatWorkflow = {
  version: 1,
  name: "concat test",
  nodes: {
    a: { type: "Text", inputs: { value: "Hello," } },
    b: { type: "Text", inputs: { value: "diffusion" } },
    join: { type: "Concat", inputs: { a: { from: "a", output: "text" }, b: { from: "b", output: "text" }, separator: " " } },
    show: { type: "ShowText", inputs: { value: { from: "join", output: "text" } } },
  },
};

export async function api(server: RunningServer, method: string, path: string, body?: unknown, headers: Record<string, string> = {}) {
  const response = await fetch(server.origin + path, {
    method,
    headers: {
      ...(server.token ? { Authorization: `Bearer ${server.token}` } : {}),
      ...(body !== undefined ? { "Content-Type": "application/json" } : {}),
      ...headers,
    },
    body: body === undefined ? undefined : typeof body === "string" ? body : JSON.stringify(body),
  });
  const text = await response.text();
  let json: any = null;
  try {
    json = text ? JSON.parse(text) : null;
  } catch {
    json = text;
  }
  return { status: response.status, json, headers: response.headers };
}

export async function waitFor<T>(probe: () => Promise<T | undefined | null | false> | T | undefined | null | false, timeoutMs = 10_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value) return value;
    if (Date.now() > deadline) throw new Error("timed out waiting");
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

export async function waitForRun(server: RunningServer, id: string, statuses = ["finished", "failed", "cancelled"]) {
  return waitFor(async () => {
    const { json } = await api(server, "GET", `/api/runs/${id}`);
    return statuses.includes(json?.status) ? json : null;
  });
}

/** A WebSocket on /api/events that records every message. */
export async function listen(server: RunningServer, query = server.token ? `?token=${server.token}` : "") {
  const ws = new WebSocket(`${server.origin.replace("http", "ws")}/api/events${query}`);
  const messages: ServerMessage[] = [];
  ws.on("message", (data) => messages.push(JSON.parse(String(data)) as ServerMessage));
  await new Promise<void>((resolve, reject) => {
    ws.once("open", () => resolve());
    ws.once("error", reject);
  });
  return { ws, messages, close: () => ws.close() };
}

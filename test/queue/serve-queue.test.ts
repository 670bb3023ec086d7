// `maskflow serve --redis` with a `maskflow worker` process, on a real Redis and the bundled
// model: the API and the WebSocket as without Redis, the steps arriving live from the worker,
// the worker named in the queue, Cancel stopping the worker within a step or removing a queued
// run at once, and a failure with its node and input.
import { afterAll, beforeAll, expect, it } from "vitest";
import { Executor, loadWorkflowFile, NodeRegistry, type RunEvent } from "../../engine/index.js";
import type { RunningServer } from "../../engine/server/index.js";
import { builtinNodes } from "../../nodes/index.js";
import { api, listen, startTestServer, waitFor } from "../server/helpers.js";
import { startWorker, type Proc } from "./processes.js";
import { describeWithRedis, startRedis, type TestRedis } from "./redis.js";

const small = { "denoise.seed": 4, "denoise.gen_length": 16, "schedule.steps": 16, "schedule.block_length": 16, "model.threads": 1 };
const long = { "denoise.seed": 5, "denoise.gen_length": 64, "schedule.steps": 64, "schedule.block_length": 64, "model.threads": 1 };

/** Waits (a busy two-core machine takes its time), and says for what when it gives up. */
async function until<T>(what: string, probe: () => Promise<T | null | false> | T | null | false, ms = 60_000): Promise<T> {
  try {
    return await waitFor(probe, ms);
  } catch {
    throw new Error(`timed out waiting for ${what}`);
  }
}

/** A run once it has ended. */
async function waitForRun(server: RunningServer, id: string) {
  return until(`run ${id} to end`, async () => {
    const { json } = await api(server, "GET", `/api/runs/${id}`);
    return ["finished", "failed", "cancelled"].includes(json?.status) ? json : null;
  });
}

describeWithRedis("maskflow serve --redis", () => {
  let redis: TestRedis;
  let worker: Proc;
  let server: RunningServer;
  let hello: Record<string, unknown>;

  beforeAll(async () => {
    redis = await startRedis();
    [worker, server] = await Promise.all([startWorker(redis.url, "ws1"), startTestServer({ redis: redis.url })]);
    hello = (await loadWorkflowFile("workflows/hello.maskflow.json")) as unknown as Record<string, unknown>;
  });
  afterAll(async () => {
    await server?.close();
    worker?.child.kill("SIGKILL");
    await redis?.stop();
  });

  it("runs on the worker: its steps arrive live on the WebSocket, the queue names the worker, the tokens are a local run's", async () => {
    const events = await listen(server);
    try {
      const id = (await api(server, "POST", "/api/runs", { workflow: hello, overrides: small })).json.id;
      const run = await waitForRun(server, id);
      expect(run).toMatchObject({ status: "finished", worker: "ws1" });
      const mine = events.messages.filter((m): m is RunEvent => "runId" in m && m.runId === id);
      const steps = mine.filter((m) => m.type === "progress" && m.canvas);
      expect(steps.length).toBe(16);
      expect(mine[0].type).toBe("run_queued");
      expect(mine.map((m) => m.type)).toEqual(expect.arrayContaining(["run_started", "node_started", "node_finished", "run_finished"]));
      expect(mine.at(-1)!.type).toBe("run_finished");
      // The queue message the editor's panel shows carries the worker while it runs.
      const queued = events.messages.filter((m) => m.type === "queue").flatMap((m) => (m.type === "queue" ? m.runs : []));
      expect(queued.some((r) => r.id === id && r.status === "running" && r.worker === "ws1")).toBe(true);

      const local = await new Executor(new NodeRegistry(builtinNodes)).run(hello as never, { overrides: small });
      expect((run.outputs.show as { tokens: number[] }).tokens).toEqual((local.outputs.show as { tokens: number[] }).tokens);
    } finally {
      events.close();
    }
  });

  it("Cancel stops the worker's run within a step, and removes a run no worker has taken at once", async () => {
    const events = await listen(server);
    try {
      const running = (await api(server, "POST", "/api/runs", { workflow: hello, overrides: long })).json.id;
      const queued = (await api(server, "POST", "/api/runs", { workflow: hello, overrides: small })).json.id;
      const progressOf = (id: string) => events.messages.filter((m) => m.type === "progress" && m.runId === id && m.canvas);
      await until("three steps of the long run", () => progressOf(running).length >= 3);

      const cancelQueued = await api(server, "DELETE", `/api/runs/${queued}`);
      expect(cancelQueued.json.status).toBe("cancelled");
      const seen = progressOf(running).length;
      expect((await api(server, "DELETE", `/api/runs/${running}`)).status).toBe(200);
      const stopped = await waitForRun(server, running);
      expect(stopped).toMatchObject({ status: "cancelled", worker: "ws1" });
      // The step running when the cancel reached the worker, and what was already on its way
      // (the DELETE, the publish and the events share this busy test process with the server).
      expect(progressOf(running).length - seen).toBeLessThanOrEqual(3);
      expect(progressOf(running).length).toBeLessThan(64);

      const ofRun = (id: string) => events.messages.filter((m) => "runId" in m && m.runId === id).map((m) => m.type);
      expect(ofRun(queued)).toEqual(["run_queued", "cancelled"]);
      expect(ofRun(running)).toContain("cancelled");
      expect(ofRun(running)).not.toContain("run_finished");
      expect((await api(server, "DELETE", `/api/runs/${running}`)).status).toBe(409);
      const look = redis.client();
      await until("the runs' jobs to leave Redis", async () => (await look.keys("maskflow:runs:[0-9a-f]*-*")).length === 0, 20_000);
    } finally {
      events.close();
    }
  });

  it("a run the worker cannot load fails with its node and input, and the worker goes on", async () => {
    const bad = (await api(server, "POST", "/api/runs", { workflow: hello, overrides: { ...small, "model.path": "models/nope" } })).json.id;
    expect(await waitForRun(server, bad)).toMatchObject({ status: "failed", worker: "ws1", error: { nodeId: "model", input: "path" } });
    const good = (await api(server, "POST", "/api/runs", { workflow: hello, overrides: small })).json.id;
    expect((await waitForRun(server, good)).status).toBe("finished");
    expect(worker.child.exitCode).toBe(null);
  });

  it("issue 16's queue controls: summaries carry graph, seeds and changes; run next answers 501; Clear queue and Clear history work", async () => {
    const running = (await api(server, "POST", "/api/runs", { workflow: hello, overrides: long, graph: "g-redis" })).json.id;
    await until("the long run to start on the worker", async () => (await api(server, "GET", `/api/runs/${running}`)).json?.status === "running");
    const queued = (await api(server, "POST", "/api/runs", { workflow: hello, overrides: small, graph: "g-redis" })).json.id;
    const summary = (await api(server, "GET", `/api/runs/${queued}`)).json;
    expect(summary).toMatchObject({ status: "queued", graph: "g-redis", seeds: { "denoise.seed": 4 }, warnings: 0 });
    expect(summary.changes.some((c: string) => c.includes("gen_length"))).toBe(true);

    const next = await api(server, "POST", `/api/runs/${queued}/next`);
    expect(next.status).toBe(501);
    expect(next.json.error).toContain("--redis");

    const cleared = await api(server, "DELETE", "/api/queue");
    expect(cleared.status).toBe(200);
    expect(cleared.json.map((r: { id: string; status: string }) => [r.id, r.status])).toEqual([[queued, "cancelled"]]);
    expect((await api(server, "DELETE", `/api/runs/${running}`)).status).toBe(200);
    await waitForRun(server, running);

    const forgotten = await api(server, "DELETE", "/api/runs");
    expect(forgotten.json.removed).toBeGreaterThanOrEqual(2);
    expect((await api(server, "GET", "/api/runs")).json).toEqual([]);
  });
});

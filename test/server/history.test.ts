// Run history on disk (bounded, clearable, read back by the next server), the queue controls
// (run next, front, clear queue) and what tells queue entries apart (graph, seeds, changes, warnings).
import { mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import type { RunningServer } from "../../engine/server/index.js";
import { api, concatWorkflow, listen, slowWorkflow, startTestServer, waitFor, waitForRun } from "./helpers.js";

const seeded = (seed: number, name = "seeded") => ({
  version: 1,
  name,
  nodes: { s: { type: "Seeded", inputs: { seed } }, show: { type: "ShowText", inputs: { value: { from: "s", output: "text" } } } },
});

const dirs: string[] = [];
const tempDir = () => {
  const dir = mkdtempSync(join(tmpdir(), "maskflow-history-"));
  dirs.push(dir);
  return dir;
};
const files = (dir: string) => readdirSync(dir).filter((f) => f.startsWith("run-") && f.endsWith(".json"));
const eventLogs = (dir: string) => readdirSync(dir).filter((f) => f.startsWith("events-"));

afterAll(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

describe("run history on disk", () => {
  it("keeps ended runs across a restart: summary, workflow, outputs and events", async () => {
    const dir = tempDir();
    const first = await startTestServer({ historyDir: dir });
    const { json: run } = await api(first, "POST", "/api/runs", { workflow: concatWorkflow, graph: "g1" });
    await waitForRun(first, run.id);
    const before = (await api(first, "GET", `/api/runs/${run.id}`)).json;
    await first.close();
    expect(files(dir)).toEqual([`run-${run.id}.json`]);
    expect(eventLogs(dir)).toEqual([`events-${run.id}.json`]); // read when asked for, not at start

    const second = await startTestServer({ historyDir: dir });
    try {
      const list = (await api(second, "GET", "/api/runs")).json;
      expect(list).toEqual([expect.objectContaining({ id: run.id, status: "finished", graph: "g1", name: "concat test" })]);
      const after = (await api(second, "GET", `/api/runs/${run.id}`)).json;
      expect(after).toEqual(before);
      const events = (await api(second, "GET", `/api/runs/${run.id}/events`)).json;
      expect(events.map((e: { type: string }) => e.type)).toContain("run_finished");
    } finally {
      await second.close();
    }
  });

  it("keeps only the newest historyLimit runs, on disk too", async () => {
    const dir = tempDir();
    const server = await startTestServer({ historyDir: dir, historyLimit: 3 });
    try {
      for (let i = 0; i < 5; i++) {
        const { json } = await api(server, "POST", "/api/runs", { workflow: seeded(i) });
        await waitForRun(server, json.id);
      }
      const list = (await api(server, "GET", "/api/runs")).json;
      expect(list.map((r: { seeds: Record<string, number> }) => r.seeds["s.seed"])).toEqual([4, 3, 2]);
      const kept = list.map((r: { id: string }) => `run-${r.id}.json`).sort().join();
      // Writes happen off the request path: wait for the folder to hold exactly those three.
      await waitFor(() => files(dir).sort().join() === kept && eventLogs(dir).length === 3);
    } finally {
      await server.close();
    }
  });

  it("keeps no more than maxHistoryBytes of runs: a run forgotten in memory is deleted on disk too, and a restart keeps to the budget", async () => {
    const dir = tempDir();
    const limits = { maxHistoryBytes: 6_000 };
    const server = await startTestServer({ historyDir: dir, limits });
    let kept: string;
    try {
      for (let i = 0; i < 8; i++) {
        const { json } = await api(server, "POST", "/api/runs", { workflow: seeded(i) });
        await waitForRun(server, json.id);
      }
      const list = (await api(server, "GET", "/api/runs")).json;
      // The newest are kept, the oldest forgotten: fewer than were run, at least the last one.
      expect(list.length).toBeGreaterThan(0);
      expect(list.length).toBeLessThan(8);
      expect(list[0].seeds["s.seed"]).toBe(7);
      kept = list.map((r: { id: string }) => `run-${r.id}.json`).sort().join();
      await waitFor(() => files(dir).sort().join() === kept);
    } finally {
      await server.close();
    }
    // Read back under a smaller budget: the oldest of what is on disk go too.
    const again = await startTestServer({ historyDir: dir, limits: { maxHistoryBytes: 1_500 } });
    try {
      const list = (await api(again, "GET", "/api/runs")).json;
      expect(list.length).toBeLessThan(kept.split(",").length);
      const left = list.map((r: { id: string }) => `run-${r.id}.json`).sort().join();
      await waitFor(() => files(dir).sort().join() === left);
    } finally {
      await again.close();
    }
  });

  it("reads an older run's events from disk when asked (only the newest few are kept in memory)", async () => {
    const dir = tempDir();
    const first = await startTestServer({ historyDir: dir });
    const ids: string[] = [];
    for (let i = 0; i < 12; i++) {
      const { json } = await api(first, "POST", "/api/runs", { workflow: seeded(i) });
      ids.push(json.id);
      await waitForRun(first, json.id);
    }
    await first.close();
    const second = await startTestServer({ historyDir: dir });
    try {
      const events = (await api(second, "GET", `/api/runs/${ids[0]}/events`)).json;
      expect(events.map((e: { type: string }) => e.type)).toEqual(expect.arrayContaining(["run_started", "run_finished"]));
    } finally {
      await second.close();
    }
  });

  it("DELETE /api/runs clears the history, in memory and on disk, and leaves running runs alone", async () => {
    const dir = tempDir();
    const server = await startTestServer({ historyDir: dir });
    try {
      const { json: done } = await api(server, "POST", "/api/runs", { workflow: concatWorkflow });
      await waitForRun(server, done.id);
      const { json: going } = await api(server, "POST", "/api/runs", { workflow: slowWorkflow(10_000, 20) });
      await waitForRun(server, going.id, ["running"]);
      expect((await api(server, "DELETE", "/api/runs")).json).toEqual({ removed: 1 });
      expect((await api(server, "GET", "/api/runs")).json.map((r: { id: string }) => r.id)).toEqual([going.id]);
      await waitFor(() => files(dir).length === 0 && eventLogs(dir).length === 0);
      await api(server, "DELETE", `/api/runs/${going.id}`);
    } finally {
      await server.close();
    }
  });
});

describe("queue controls", () => {
  let server: RunningServer;
  beforeAll(async () => {
    server = await startTestServer();
  });
  afterAll(async () => {
    await server?.close();
  });
  afterEach(async () => {
    for (const r of (await api(server, "GET", "/api/runs")).json) {
      if (r.status === "queued" || r.status === "running") await api(server, "DELETE", `/api/runs/${r.id}`);
    }
  });

  it("runs a run next: POST /api/runs {front} and POST /api/runs/:id/next", async () => {
    const events = await listen(server);
    const { json: blocker } = await api(server, "POST", "/api/runs", { workflow: slowWorkflow(60, 10) });
    await waitForRun(server, blocker.id, ["running"]);
    const a = (await api(server, "POST", "/api/runs", { workflow: seeded(1) })).json.id;
    const b = (await api(server, "POST", "/api/runs", { workflow: seeded(2) })).json.id;
    const c = (await api(server, "POST", "/api/runs", { workflow: seeded(3), front: true })).json.id;
    const d = (await api(server, "POST", "/api/runs", { workflow: seeded(4) })).json.id;
    const moved = await api(server, "POST", `/api/runs/${d}/next`);
    expect(moved.status).toBe(200);
    expect((await api(server, "POST", `/api/runs/${blocker.id}/next`)).status).toBe(409);
    expect((await api(server, "POST", "/api/runs/nope/next")).status).toBe(404);
    for (const id of [a, b, c, d]) await waitForRun(server, id);
    const started = events.messages.flatMap((m) => (m.type === "run_started" && [a, b, c, d].includes(m.runId) ? [m.runId] : []));
    events.close();
    expect(started).toEqual([d, c, a, b]);
  });

  it("DELETE /api/queue cancels every waiting run, not the running one", async () => {
    const { json: blocker } = await api(server, "POST", "/api/runs", { workflow: slowWorkflow(10_000, 20) });
    await waitForRun(server, blocker.id, ["running"]);
    const waiting = [seeded(1), seeded(2)];
    const ids: string[] = [];
    for (const workflow of waiting) ids.push((await api(server, "POST", "/api/runs", { workflow })).json.id);
    const { json: cancelled } = await api(server, "DELETE", "/api/queue");
    expect(cancelled.map((r: { id: string; status: string }) => [r.id, r.status])).toEqual(ids.map((id) => [id, "cancelled"]));
    expect((await api(server, "GET", `/api/runs/${blocker.id}`)).json.status).toBe("running");
  });

  it("tells runs apart: graph, seeds, and what changed since the run before of the same graph", async () => {
    const first = (await api(server, "POST", "/api/runs", { workflow: seeded(5, "told apart"), graph: "g-apart" })).json.id;
    const second = (await api(server, "POST", "/api/runs", { workflow: seeded(5, "told apart"), graph: "g-apart", overrides: { "s.seed": 6 } })).json.id;
    const renamed = { ...seeded(6, "told apart"), nodes: { ...seeded(6).nodes, extra: { type: "Text", inputs: { value: "x" } } } };
    const third = (await api(server, "POST", "/api/runs", { workflow: renamed, graph: "g-apart" })).json.id;
    const other = (await api(server, "POST", "/api/runs", { workflow: seeded(9, "told apart"), graph: "g-other" })).json.id;
    for (const id of [first, second, third, other]) await waitForRun(server, id);
    const list = (await api(server, "GET", "/api/runs")).json as { id: string; graph: string; seeds: object; changes: string[] }[];
    const byId = (id: string) => list.find((r) => r.id === id)!;
    expect(byId(first)).toMatchObject({ graph: "g-apart", seeds: { "s.seed": 5 }, changes: [] });
    expect(byId(second)).toMatchObject({ seeds: { "s.seed": 6 }, changes: ["s.seed 5 → 6"] });
    expect(byId(third).changes).toEqual(["+extra"]);
    expect(byId(other)).toMatchObject({ graph: "g-other", changes: [] });
  });

  it("counts a run's warnings in its summary", async () => {
    const warns = { version: 1, nodes: { w: { type: "WarnWith", inputs: {} }, show: { type: "ShowText", inputs: { value: { from: "w", output: "text" } } } } };
    const { json } = await api(server, "POST", "/api/runs", { workflow: warns });
    await waitForRun(server, json.id);
    expect((await api(server, "GET", `/api/runs/${json.id}`)).json.warnings).toBe(1);
    const plain = (await api(server, "POST", "/api/runs", { workflow: concatWorkflow })).json.id;
    await waitForRun(server, plain);
    expect((await api(server, "GET", `/api/runs/${plain}`)).json.warnings).toBe(0);
  });
});

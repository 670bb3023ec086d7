// What the server keeps for a token holder is bounded too: runs waiting in the queue
// (maxQueuedRuns, 429 past it) and what finished runs leave behind (maxHistoryBytes: the oldest
// are forgotten, never the one just finished).
import { afterEach, describe, expect, it } from "vitest";
import type { RunningServer } from "../../engine/server/index.js";
import { api, slowWorkflow, startTestServer, waitForRun } from "../server/helpers.js";

let server: RunningServer | undefined;
afterEach(async () => {
  await server?.close();
  server = undefined;
});

describe("the run queue's bounds", () => {
  it("answers 429 naming maxQueuedRuns once that many runs wait", async () => {
    server = await startTestServer({ limits: { maxQueuedRuns: 3 } });
    const ids: string[] = [];
    for (let i = 0; i < 4; i++) {
      const r = await api(server, "POST", "/api/runs", { workflow: slowWorkflow(500, 20) });
      expect(r.status, JSON.stringify(r.json)).toBe(201);
      ids.push(r.json.id);
    }
    // One running and three waiting: the next is refused.
    const refused = await api(server, "POST", "/api/runs", { workflow: slowWorkflow(1) });
    expect(refused.status).toBe(429);
    expect(refused.json.error).toMatch(/the queue is full: 3 runs are already waiting \(limit maxQueuedRuns = 3/);
    for (const id of ids) await api(server, "DELETE", `/api/runs/${id}`);
  });

  it("forgets the oldest finished runs past maxHistoryBytes, keeping the newest", async () => {
    server = await startTestServer({ limits: { maxHistoryBytes: 64 * 1024 } });
    const ids: string[] = [];
    for (let i = 0; i < 6; i++) {
      const workflow = { version: 1, nodes: { t: { type: "Text", inputs: { value: String(i).repeat(20_000) } }, s: { type: "ShowText", inputs: { value: { from: "t", output: "text" } } } } };
      const r = await api(server, "POST", "/api/runs", { workflow });
      ids.push(r.json.id);
      await waitForRun(server, r.json.id);
    }
    const kept = (await api(server, "GET", "/api/runs")).json.map((r: { id: string }) => r.id);
    expect(kept.length).toBeLessThan(6);
    expect(kept[0]).toBe(ids[5]);
    expect((await api(server, "GET", `/api/runs/${ids[0]}`)).status).toBe(404);
    expect((await api(server, "GET", `/api/runs/${ids[5]}`)).json.outputs.s.text).toHaveLength(20_000);
  });
});

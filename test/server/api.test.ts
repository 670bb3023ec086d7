// The JSON API and the event stream, against a real server on 127.0.0.1.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { RunEvent } from "../../engine/index.js";
import type { RunningServer } from "../../engine/server/index.js";
import { api, concatWorkflow, listen, slowWorkflow, startTestServer, testRegistry, waitFor, waitForRun } from "./helpers.js";

let server: RunningServer;

beforeAll(async () => {
  server = await startTestServer();
});

afterAll(async () => {
  await server?.close();
});

describe("catalog and examples", () => {
  it("GET /api/nodes returns the catalog as data", async () => {
    const { status, json } = await api(server, "GET", "/api/nodes");
    expect(status).toBe(200);
    const types = json.map((n: { type: string }) => n.type);
    expect(types).toEqual(expect.arrayContaining(["Text", "Concat", "ShowText", "SlowSteps"]));
    const show = json.find((n: { type: string }) => n.type === "ShowText");
    expect(show.output).toBe(true);
    expect(show.inputs.value.socket).toBe("*"); // it shows any output
    expect(show).not.toHaveProperty("execute");
  });

  it("GET /api/workflows lists the examples and GET /api/workflows/:name returns one", async () => {
    const list = await api(server, "GET", "/api/workflows");
    expect(list.status).toBe(200);
    expect(list.json.length).toBeGreaterThan(0);
    for (const example of list.json) {
      expect(example).toEqual({ name: expect.any(String), title: expect.any(String), description: expect.any(String) });
      const one = await api(server, "GET", `/api/workflows/${example.name}`);
      expect(one.status).toBe(200);
      expect(one.json.version).toBe(1);
      expect(Object.keys(one.json.nodes).length).toBeGreaterThan(0);
    }
  });

  it("GET /api/workflows/:name answers 404 for unknown or path-like names", async () => {
    for (const name of ["does-not-exist", "..%2Fpackage", "%2Fetc%2Fpasswd"]) {
      const { status, json } = await api(server, "GET", `/api/workflows/${name}`);
      expect(status).toBe(404);
      expect(json).toEqual({ error: expect.any(String), details: [] });
    }
  });

  it("answers unknown API paths with a JSON 404", async () => {
    const { status, json } = await api(server, "GET", "/api/nope");
    expect(status).toBe(404);
    expect(json.error).toMatch(/no such API endpoint/);
  });
});

describe("POST /api/runs", () => {
  it("queues a valid workflow, runs it and keeps its outputs", async () => {
    const { status, json } = await api(server, "POST", "/api/runs", { workflow: concatWorkflow });
    expect(status).toBe(201);
    expect(json.id).toEqual(expect.any(String));
    const run = await waitForRun(server, json.id);
    expect(run.status).toBe("finished");
    expect(run.name).toBe("concat test");
    expect(run.outputs.show).toMatchObject({ text: "Hello, diffusion" });
    expect(run.error).toBeNull();
    expect(run.startedAt).toEqual(expect.any(String));
    expect(run.finishedAt).toEqual(expect.any(String));
  });

  it("applies overrides", async () => {
    const { json } = await api(server, "POST", "/api/runs", { workflow: concatWorkflow, overrides: { "b.value": "world" } });
    const run = await waitForRun(server, json.id);
    expect(run.outputs.show.text).toBe("Hello, world");
  });

  it.each([
    ["no body", undefined, /JSON body/],
    ["a JSON array", [], /invalid request body/],
    ["a body without workflow", { overrides: {} }, /invalid request body/],
    ["a workflow that is a string", { workflow: "hello" }, /invalid request body/],
    ["an unknown field", { workflow: concatWorkflow, priority: 1 }, /invalid request body/],
    ["overrides that are not an object", { workflow: concatWorkflow, overrides: [1] }, /invalid request body/],
  ])("refuses %s with 400", async (_label, body, message) => {
    const { status, json } = await api(server, "POST", "/api/runs", body);
    expect(status).toBe(400);
    expect(json.error).toMatch(message);
    expect(Array.isArray(json.details)).toBe(true);
  });

  it("refuses malformed JSON and non-JSON content types with 400", async () => {
    const bad = await api(server, "POST", "/api/runs", "{not json");
    expect(bad.status).toBe(400);
    expect(bad.json.error).toMatch(/not valid JSON/);
    const text = await api(server, "POST", "/api/runs", JSON.stringify({ workflow: concatWorkflow }), { "Content-Type": "text/plain" });
    expect(text.status).toBe(400);
  });

  it("reports every workflow problem at once, per node and input", async () => {
    const workflow = {
      version: 1,
      nodes: {
        ghost: { type: "NoSuchNode", inputs: {} },
        count: { type: "SlowSteps", inputs: { steps: 0, ms: "fast" } },
        join: { type: "Concat", inputs: { a: { from: "missing", output: "text" } } },
        show: { type: "ShowText", inputs: { value: { from: "count", output: "nope" } } },
      },
    };
    const { status, json } = await api(server, "POST", "/api/runs", { workflow });
    expect(status).toBe(400);
    expect(json.error).toMatch(/problems/);
    const where = json.details.map((d: { nodeId: string; input: string; code: string }) => `${d.nodeId}.${d.input}:${d.code}`);
    expect(where).toEqual(
      expect.arrayContaining(["ghost.null:unknown_type", "count.steps:out_of_range", "count.ms:wrong_type", "join.a:missing_node"]),
    );
    expect(json.details.some((d: { nodeId: string }) => d.nodeId === "show")).toBe(true);
  });

  it("refuses schema errors and newer versions with details", async () => {
    const schema = await api(server, "POST", "/api/runs", { workflow: { version: 1, nodes: { "bad id!": { type: "Text" } } } });
    expect(schema.status).toBe(400);
    expect(schema.json.details[0].code).toBe("schema");
    const newer = await api(server, "POST", "/api/runs", { workflow: { version: 99, nodes: {} } });
    expect(newer.status).toBe(400);
    expect(newer.json.details[0].code).toBe("version");
  });

  it("refuses overrides that name no node", async () => {
    const { status, json } = await api(server, "POST", "/api/runs", { workflow: concatWorkflow, overrides: { "nobody.value": 1, nodot: 2 } });
    expect(status).toBe(400);
    expect(json.details.map((d: { code: string }) => d.code)).toEqual(["bad_override", "bad_override"]);
  });
});

describe("POST /api/validate", () => {
  it("returns [] for a valid workflow and the issues otherwise, always 200", async () => {
    expect((await api(server, "POST", "/api/validate", { workflow: concatWorkflow })).json).toEqual({ issues: [] });
    const { status, json } = await api(server, "POST", "/api/validate", { workflow: { version: 1, nodes: { a: { type: "Text", inputs: {} } } } });
    expect(status).toBe(200);
    expect(json.issues.map((i: { code: string }) => i.code)).toContain("no_output_node");
    expect((await api(server, "POST", "/api/validate", {})).status).toBe(400);
  });

  it("reports shape and graph faults together (what the editor's checks show)", async () => {
    const workflow = { version: 1, nodes: { m: { type: "Mystery" }, j: { type: "Concat", inputs: { a: { nonsense: 1 } }, colour: 1 }, show: { type: "ShowText", inputs: {} } } };
    const { json } = await api(server, "POST", "/api/validate", { workflow });
    expect(json.issues.map((i: { nodeId: string; input: string | null; code: string }) => [i.nodeId, i.input, i.code])).toEqual([
      ["m", null, "unknown_type"],
      ["j", null, "schema"],
      ["j", "a", "wrong_type"],
      ["show", "value", "missing_input"],
    ]);
  });
});

describe("runs, queue and cancel", () => {
  it("GET /api/runs lists runs newest first; GET /api/runs/:id and /events answer 404 for unknown ids", async () => {
    const first = (await api(server, "POST", "/api/runs", { workflow: concatWorkflow })).json.id;
    const second = (await api(server, "POST", "/api/runs", { workflow: concatWorkflow })).json.id;
    await waitForRun(server, second);
    const { status, json } = await api(server, "GET", "/api/runs");
    expect(status).toBe(200);
    const ids = json.map((r: { id: string }) => r.id);
    expect(ids.indexOf(second)).toBeLessThan(ids.indexOf(first));
    expect(json[0]).not.toHaveProperty("outputs");
    expect((await api(server, "GET", "/api/runs/unknown")).status).toBe(404);
    expect((await api(server, "GET", "/api/runs/unknown/events")).status).toBe(404);
    const events = (await api(server, "GET", `/api/runs/${second}/events`)).json as RunEvent[];
    expect(events.map((e) => e.type)).toEqual(expect.arrayContaining(["run_queued", "run_started", "node_finished", "run_finished"]));
  });

  it("runs one workflow at a time, in order", async () => {
    const a = (await api(server, "POST", "/api/runs", { workflow: slowWorkflow(5, 20, "a") })).json.id;
    const b = (await api(server, "POST", "/api/runs", { workflow: slowWorkflow(5, 20, "b") })).json.id;
    const queued = (await api(server, "GET", `/api/runs/${b}`)).json;
    expect(queued.status).toBe("queued");
    const runA = await waitForRun(server, a);
    const runB = await waitForRun(server, b);
    expect(runA.status).toBe("finished");
    expect(runB.status).toBe("finished");
    expect(Date.parse(runB.startedAt)).toBeGreaterThanOrEqual(Date.parse(runA.finishedAt));
  });

  it("DELETE cancels a queued run at once and a running run at its next step", async () => {
    const events = await listen(server);
    try {
      const running = (await api(server, "POST", "/api/runs", { workflow: slowWorkflow(2000, 10) })).json.id;
      const queued = (await api(server, "POST", "/api/runs", { workflow: slowWorkflow(3, 1) })).json.id;
      await waitFor(() => events.messages.some((m) => m.type === "progress" && m.runId === running));

      const cancelQueued = await api(server, "DELETE", `/api/runs/${queued}`);
      expect(cancelQueued.status).toBe(200);
      expect(cancelQueued.json.status).toBe("cancelled");

      const cancelRunning = await api(server, "DELETE", `/api/runs/${running}`);
      expect(cancelRunning.status).toBe(200);
      const stopped = await waitForRun(server, running);
      expect(stopped.status).toBe("cancelled");
      expect(stopped.outputs).toEqual({});

      const ofRun = (id: string) => events.messages.filter((m) => "runId" in m && m.runId === id).map((m) => m.type);
      expect(ofRun(queued)).toEqual(["run_queued", "cancelled"]);
      expect(ofRun(running)).toContain("cancelled");
      expect(ofRun(running)).not.toContain("run_finished");

      // Cancelling twice, or cancelling a run that ended, is a conflict; unknown ids are 404.
      expect((await api(server, "DELETE", `/api/runs/${running}`)).status).toBe(409);
      expect((await api(server, "DELETE", "/api/runs/nope")).status).toBe(404);

      // The queue goes on with the next run.
      const after = (await api(server, "POST", "/api/runs", { workflow: concatWorkflow })).json.id;
      expect((await waitForRun(server, after)).status).toBe("finished");
    } finally {
      events.close();
    }
  });

  it("a failing node fails the run and is named; the queue message reports the end", async () => {
    const events = await listen(server);
    try {
      const workflow = {
        version: 1,
        nodes: {
          bad: { type: "FailWith", inputs: { reason: "no model here" } },
          show: { type: "ShowText", inputs: { value: { from: "bad", output: "text" } } },
          ok: { type: "Text", inputs: { value: "fine" } },
          showOk: { type: "ShowText", inputs: { value: { from: "ok", output: "text" } } },
        },
      };
      const { json } = await api(server, "POST", "/api/runs", { workflow });
      const run = await waitForRun(server, json.id);
      expect(run.status).toBe("failed");
      expect(run.error).toEqual({ nodeId: "bad", input: "reason", message: "no model here" });
      // The other branch still ran.
      expect(run.outputs.showOk).toEqual({ text: "fine" });
      expect(events.messages).toContainEqual({ type: "failed", runId: json.id, nodeId: "bad", input: "reason", message: "no model here" });
      await waitFor(() =>
        events.messages.some((m) => m.type === "queue" && m.runs.some((r) => r.id === json.id && r.status === "failed")),
      );
    } finally {
      events.close();
    }
  });
});

describe("WebSocket /api/events", () => {
  it("sends the queue on connect, then every run event with per-step canvases", async () => {
    const events = await listen(server);
    try {
      await waitFor(() => events.messages.some((m) => m.type === "queue"));
      const { json } = await api(server, "POST", "/api/runs", { workflow: slowWorkflow(4, 5) });
      await waitFor(() => events.messages.some((m) => m.type === "run_finished" && m.runId === json.id));
      const mine = events.messages.filter((m): m is RunEvent => "runId" in m && m.runId === json.id);
      expect(mine[0].type).toBe("run_queued");
      expect(mine[1].type).toBe("run_started");
      const progress = mine.filter((m) => m.type === "progress");
      expect(progress.map((p) => p.step)).toEqual([1, 2, 3, 4]);
      expect(progress[3].canvas?.pieces).toEqual(["t1", "t2", "t3", "t4"]);
      expect(progress[0].canvas?.pieces).toEqual(["t1", null, null, null]);
      expect(mine[mine.length - 1]).toMatchObject({ type: "run_finished", outputs: { show: { text: "counted to 4" } } });
    } finally {
      events.close();
    }
  });

  it("refuses other WebSocket paths", async () => {
    await expect(listen(server, "").then(() => null)).resolves.toBeNull();
    const WebSocket = (await import("ws")).default;
    const ws = new WebSocket(`${server.origin.replace("http", "ws")}/api/other`);
    const outcome = await new Promise((resolve) => {
      ws.once("open", () => resolve("open"));
      ws.once("error", () => resolve("error"));
      ws.once("unexpected-response", (_req, res) => resolve(res.statusCode));
    });
    expect(outcome).toBe(404);
  });
});

describe("startServer", () => {
  it("serve() refuses a port that is not a number", async () => {
    const { serve } = await import("../../engine/server/serve.js");
    await expect(serve({ port: "eighty", registry: testRegistry() })).rejects.toThrow(/--port/);
  });

  it("rejects when the port is taken", async () => {
    await expect(startTestServer({ port: server.port })).rejects.toThrow(/EADDRINUSE/);
  });
});

describe("the editor pages", () => {
  it("serves index.html at / and for client-side routes, and static files", async () => {
    const root = await fetch(server.origin + "/");
    expect(root.status).toBe(200);
    expect(await root.text()).toContain("Maskflow test app");
    const deep = await fetch(server.origin + "/some/route");
    expect(await deep.text()).toContain("Maskflow test app");
    const js = await fetch(server.origin + "/app.js");
    expect(await js.text()).toContain("console.log");
  });
});

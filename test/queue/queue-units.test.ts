// The queue's parts that need no Redis: job ids, Redis URLs, what a worker changes in a workflow
// (model folders, device), live events without big outputs, and the batch progress line.
import { mkdirSync, mkdtempSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { describe, expect, it } from "vitest";
import { formatEta, progressText, Throughput } from "../../engine/cli/throughput.js";
import { loadWorkflowFile, NodeError, NodeRegistry } from "../../engine/index.js";
import { batchJobId, canonicalJson, LIVE_OUTPUT_LIMIT, redisTarget, RedisUrlError, runnableContent, withDevice, workerFiles, workerRoots } from "../../engine/queue/index.js";
import { liveEvent } from "../../engine/queue/live.js";
import { builtinNodes } from "../../nodes/index.js";
import { cli } from "../cli/run-cli.js";

const registry = new NodeRegistry(builtinNodes);

describe("job ids", () => {
  it("depend on what runs, the overrides and the line; not on layout, names or key order", async () => {
    const doc = await loadWorkflowFile("workflows/hello.maskflow.json");
    const { hash } = runnableContent(doc);
    const moved = structuredClone(doc);
    moved.name = "renamed";
    moved.nodes.prompt.ui = { x: 999, y: 1 };
    expect(runnableContent(moved).hash).toBe(hash);
    const changed = structuredClone(doc);
    changed.nodes.denoise.inputs.seed = 2;
    expect(runnableContent(changed).hash).not.toBe(hash);

    const id = batchJobId(hash, { "denoise.seed": 1, "prompt.text": "a" }, 3);
    expect(id).toMatch(/^b[0-9a-f]{40}$/);
    expect(batchJobId(hash, { "prompt.text": "a", "denoise.seed": 1 }, 3)).toBe(id);
    expect(batchJobId(hash, { "denoise.seed": 1, "prompt.text": "a" }, 4)).not.toBe(id);
    expect(batchJobId(hash, { "denoise.seed": 2, "prompt.text": "a" }, 3)).not.toBe(id);
    expect(batchJobId(runnableContent(changed).hash, { "denoise.seed": 1, "prompt.text": "a" }, 3)).not.toBe(id);
    expect(canonicalJson({ b: [{ d: 1, c: 2 }], a: null })).toBe('{"a":null,"b":[{"c":2,"d":1}]}');
  });
});

describe("Redis URLs", () => {
  it("read host, port, database, user and password; rediss:// means TLS, with MASKFLOW_REDIS_CA trusted", () => {
    const plain = redisTarget("redis://127.0.0.1:6390/2");
    expect(plain.options).toMatchObject({ host: "127.0.0.1", port: 6390, db: 2, maxRetriesPerRequest: null });
    expect(plain.options.tls).toBeUndefined();
    const secret = redisTarget("rediss://maskflow:p%40ss@redis.example:6380");
    expect(secret.options).toMatchObject({ host: "redis.example", port: 6380, db: 0, username: "maskflow", password: "p@ss", tls: { servername: "redis.example" } });
    expect(secret.label).toBe("rediss://maskflow:***@redis.example:6380");
    expect(secret.label).not.toContain("p%40ss");
    const ca = redisTarget("rediss://:pw@127.0.0.1:6380", { MASKFLOW_REDIS_CA: resolve("test/queue/tls/ca.crt") });
    expect(String(ca.options.tls?.ca)).toContain("BEGIN CERTIFICATE");
    expect(ca.label).toBe("rediss://:***@127.0.0.1:6380");
    // Reconnects for ever, backing off to 2 s.
    expect([1, 5, 100].map((n) => plain.options.retryStrategy(n))).toEqual([100, 500, 2000]);
  });

  it("are checked before anything starts: a bad one is a bad flag (exit 2) for worker, batch and serve", () => {
    for (const args of [["worker"], ["batch", "workflows/hello.maskflow.json", "--inputs", "x.jsonl", "--out", "y.jsonl"], ["serve", "--port", "0"]]) {
      const r = cli([...args, "--redis", "localhost:6379"]);
      expect(r.code).toBe(2);
      expect(r.stderr).toMatch(/--redis expects a redis:\/\/ or rediss:\/\/ URL/);
    }
  });

  it("refuse what is not a Redis URL, with what one looks like", () => {
    expect(() => redisTarget("localhost:6379")).toThrow(RedisUrlError);
    expect(() => redisTarget("http://127.0.0.1:6379")).toThrow(/redis:\/\/ or rediss:\/\//);
    expect(() => redisTarget("redis://127.0.0.1:6379/zero")).toThrow(/database/);
    expect(() => redisTarget("rediss://h:1", { MASKFLOW_REDIS_CA: "/nonexistent/ca.pem" })).toThrow(/MASKFLOW_REDIS_CA/);
  });
});

describe("a worker's limits", () => {
  it("--limit (or MASKFLOW_LIMITS) is checked before the worker connects: a bad one is a bad flag (exit 2)", () => {
    const flag = cli(["worker", "--redis", "redis://127.0.0.1:1", "--limit", "nosuch=1"]);
    expect(flag.code).toBe(2);
    expect(flag.stderr).toMatch(/unknown limit "nosuch"/);
    const env = cli(["worker", "--redis", "redis://127.0.0.1:1"], { env: { MASKFLOW_LIMITS: "maxModels=lots" } });
    expect(env.code).toBe(2);
    expect(env.stderr).toMatch(/limit maxModels: "lots" is not a whole number/);
  });
});

describe("what a worker loads", () => {
  const root = mkdtempSync(join(tmpdir(), "maskflow-confine-"));
  const models = join(root, "models");
  mkdirSync(join(models, "tiny"), { recursive: true });
  writeFileSync(join(root, "secret.json"), "{}");
  symlinkSync(root, join(models, "escape"));

  it("only from its --models folders when given (symlinks followed); else the bundled models/ and the user models folder", async () => {
    const files = workerFiles([models]);
    await expect(files.resolve("tiny")).resolves.toBe(join(models, "tiny"));
    await expect(files.resolve(join(models, "tiny"))).resolves.toBe(join(models, "tiny"));
    for (const path of ["escape/secret.json", "../secret.json", "/etc", "nope", "models/default"]) {
      await expect(files.resolve(path)).rejects.toThrow(/is not a model or adapter in the folders this worker loads from \(--models\)/);
    }
    // By default the workflows' "models/default" is the bundled model.
    await expect(workerFiles([]).resolve("models/default")).resolves.toBe(resolve("models/default"));
    expect(workerRoots([]).map((r) => r.label)).toEqual(["the bundled models/", "the user models folder (MASKFLOW_MODELS)"]);
  });

  it("puts every device input on the worker's --device, refuses one the node does not offer, and leaves the document alone", async () => {
    const doc = await loadWorkflowFile("workflows/hello.maskflow.json");
    expect(withDevice(doc, registry, "cuda").nodes.model.inputs.device).toBe("cuda");
    expect(withDevice(doc, registry, undefined)).toBe(doc);
    expect(doc.nodes.model.inputs.device).toBe("cpu");
    let error: unknown;
    try {
      withDevice(doc, registry, "tpu");
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(NodeError);
    expect(error).toMatchObject({ nodeId: "model", input: "device", message: expect.stringMatching(/--device tpu, which LoadModel does not offer/) });
  });
});

describe("live events", () => {
  it("leave out run_finished and outputs too big for pub/sub; keep the rest as they are", () => {
    const big = { text: "x".repeat(LIVE_OUTPUT_LIMIT + 1) };
    expect(liveEvent({ type: "run_finished", runId: "r", ms: 1, outputs: {} })).toBeNull();
    expect(liveEvent({ type: "node_finished", runId: "r", nodeId: "show", nodeType: "ShowText", ms: 1, output: big })).toEqual({ type: "node_finished", runId: "r", nodeId: "show", nodeType: "ShowText", ms: 1, output: undefined });
    const small = { type: "node_finished", runId: "r", nodeId: "show", nodeType: "ShowText", ms: 1, output: { text: "hi" } } as const;
    expect(liveEvent(small)).toBe(small);
  });
});

describe("the batch progress line", () => {
  it("shows jobs, workers, the pace over the last minute and the time left", () => {
    const pace = new Throughput(60_000);
    expect(pace.rate(0)).toBe(0);
    for (let t = 0; t <= 10_000; t += 500) pace.add(t); // 21 jobs in 10 s: 2 jobs/s
    expect(pace.rate(10_000)).toBeCloseTo(2, 5);
    pace.add(100_000); // after a long pause the old jobs leave the window: the pace drops
    expect(pace.rate(100_000)).toBeLessThan(0.05);
    expect(progressText({ done: 120, total: 200, failed: 2, workers: 3, rate: 4 })).toBe("120/200 jobs · 3 workers · 4.0 jobs/s · ETA 20s · 2 failed");
    expect(progressText({ done: 0, total: 10, failed: 0, workers: 1, rate: 0 })).toBe("0/10 jobs · 1 worker · 0.0 jobs/s · ETA --");
    expect([formatEta(59.4), formatEta(125), formatEta(3 * 3600 + 20 * 60), formatEta(Infinity)]).toEqual(["59s", "2m 05s", "3h 20m", "--"]);
  });
});

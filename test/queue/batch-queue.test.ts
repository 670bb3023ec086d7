// `maskflow batch --redis` with `maskflow worker`s, on a real Redis: the result lines, failures
// (bad input failed once, attempts bounded, a model a worker cannot load), reruns that add
// nothing, SIGTERM semantics, and a result of megabytes that stays out of BullMQ.
import { existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { Queue } from "bullmq";
import { afterAll, afterEach, beforeAll, expect, it } from "vitest";
import { runBatch } from "../../engine/cli/batch.js";
import { loadWorkflowFile, NodeRegistry } from "../../engine/index.js";
import { runnableContent } from "../../engine/queue/job.js";
import { LockLost, readResult, storeResult } from "../../engine/queue/results.js";
import { builtinNodes } from "../../nodes/index.js";
import { maskflow, sleep, startWorker, type Proc } from "./processes.js";
import { describeWithRedis, startRedis, type TestRedis } from "./redis.js";

const small = (seed: number) => ({ "denoise.seed": seed, "denoise.gen_length": 8, "schedule.steps": 4, "schedule.block_length": 8, "model.threads": 1 });
// Long enough (32 steps) to be signalled mid-run.
const long = (seed: number) => ({ "denoise.seed": seed, "denoise.gen_length": 32, "schedule.steps": 32, "schedule.block_length": 32, "model.threads": 1 });

type Row = { line: number; status: string; worker: string | null; waitMs: number | null; job: string; attempts: number; error?: { nodeId: string | null; input: string | null; message: string }; outputs?: { show: { text: string; tokens: number[] } } };
/** The finished lines of a results file (polled while the batch writes it: a line still being written is left out). */
const rows = (path: string): Row[] => {
  const text = readFileSync(path, "utf8");
  return text.slice(0, text.lastIndexOf("\n") + 1).split("\n").filter(Boolean).map((l) => JSON.parse(l));
};
const summaryOf = (p: Proc) => JSON.parse(p.output().split("\n").find((l) => l.startsWith("{"))!);

describeWithRedis("maskflow batch --redis", () => {
  let redis: TestRedis;
  let queue: Queue;
  const procs: Proc[] = [];
  const dir = mkdtempSync(join(tmpdir(), "maskflow-queue-"));
  const worker = async (name: string, args: string[] = [], env: Record<string, string> = {}) => {
    const w = await startWorker(redis.url, name, args, env);
    procs.push(w);
    return w;
  };
  const batch = (inputs: string, out: string, extra: string[] = [], workflow = "workflows/hello.maskflow.json") => {
    const p = maskflow(["batch", workflow, "--inputs", inputs, "--out", out, "--redis", redis.url, "--json", ...extra]);
    procs.push(p);
    return p;
  };
  const writeJobs = (name: string, jobs: unknown[]) => {
    const path = join(dir, name);
    writeFileSync(path, jobs.map((j) => (typeof j === "string" ? j : JSON.stringify(j))).join("\n") + "\n");
    return path;
  };

  beforeAll(async () => {
    redis = await startRedis();
    queue = new Queue("runs", { connection: { host: "127.0.0.1", port: redis.port, maxRetriesPerRequest: null }, prefix: "maskflow" });
    queue.on("error", () => undefined);
  });
  // A failed test must not leave a worker that takes the next test's jobs.
  afterEach(async () => {
    for (const p of procs.splice(0)) {
      p.child.kill("SIGKILL");
      await p.exited;
    }
  });
  afterAll(async () => {
    await queue?.close();
    await redis?.stop();
  });

  it("writes the local batch's lines plus worker and wait; bad input (past the worker's --limit too) fails once, a refused path as often as --attempts; a rerun adds nothing", async () => {
    // A second models folder with a folder that is no model: the worker must report it on the job.
    const extra = join(dir, "more-models");
    mkdirSync(join(extra, "broken"), { recursive: true });
    writeFileSync(join(extra, "broken", "maskflow.json"), "{ not json");
    const w = await worker("wa", ["--concurrency", "2", "--models", resolve("models"), "--models", extra, "--limit", "maxValueBytes=64KiB"]);
    const inputs = writeJobs("jobs.jsonl", [
      small(1),
      small(2),
      { "nosuch.node": 1 }, // invalid: never retried
      { ...small(3), "model.path": "/etc" }, // outside --models: refused, retried as --attempts allows
      "not json",
      { ...small(4), "model.path": "broken" }, // in --models but not a model
      small(5),
      { ...small(6), "prompt.text": "x".repeat(100_000) }, // past the worker's maxValueBytes: bad input, never retried
    ]);
    const out = join(dir, "results.jsonl");
    const first = batch(inputs, out, ["--attempts", "3", "--backoff", "10"]);
    expect(await first.exited).toBe(1); // failures: exit 1, as a local batch
    expect(summaryOf(first)).toMatchObject({ total: 8, ok: 3, failed: 5, skipped: 0 });

    const byLine = new Map(rows(out).map((r) => [r.line, r]));
    expect([...byLine.keys()].sort()).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
    const local = join(dir, "local.jsonl");
    await runBatch(await loadWorkflowFile("workflows/hello.maskflow.json"), { inputs, out: local, concurrency: 1, registry: new NodeRegistry(builtinNodes) });
    const localTokens = new Map(rows(local).map((r) => [r.line, r.outputs?.show?.tokens]));
    for (const line of [1, 2, 7]) {
      const r = byLine.get(line)!;
      expect(r).toMatchObject({ status: "ok", worker: "wa", attempts: 1 });
      expect(r.job).toMatch(/^b[0-9a-f]{40}$/);
      expect(r.waitMs).toBeGreaterThanOrEqual(0);
      expect(r.outputs!.show.tokens).toEqual(localTokens.get(line));
    }
    expect(byLine.get(3)).toMatchObject({ status: "error", attempts: 1, error: { nodeId: "nosuch", input: "node" } });
    expect(byLine.get(4)).toMatchObject({ status: "error", attempts: 3, error: { nodeId: "model", input: "path" } });
    expect(byLine.get(4)!.error!.message).toMatch(/is not a model or adapter in the folders this worker loads from/);
    expect(byLine.get(5)).toMatchObject({ status: "error", error: { message: expect.stringMatching(/line 5: not valid JSON/) } });
    expect(byLine.get(6)).toMatchObject({ status: "error", worker: "wa", error: { nodeId: "model", input: "path" } });
    expect(byLine.get(8)).toMatchObject({ status: "error", worker: "wa", attempts: 1, error: { nodeId: "prompt", input: "text", message: expect.stringMatching(/limit maxValueBytes = 64 KiB/) } });
    expect(w.child.exitCode).toBe(null); // still up after the model that would not load

    // Nothing left in Redis, and a rerun finds every line done: it enqueues nothing.
    expect(await queue.getJobCounts("completed", "failed", "wait", "prioritized", "delayed")).toEqual({ completed: 0, failed: 0, wait: 0, prioritized: 0, delayed: 0 });
    // ...but takes out what a client killed between writing a line and removing its job left
    // behind: here line 1's job, run again by hand, and its stored result.
    const hello = runnableContent(await loadWorkflowFile("workflows/hello.maskflow.json")).hash;
    const leftover = byLine.get(1)!.job;
    await queue.add("run", { workflow: hello, overrides: small(1), line: 1 }, { jobId: leftover, removeOnComplete: { age: 3600 } });
    const look = redis.client();
    for (const deadline = Date.now() + 60_000; (await queue.getJobState(leftover)) !== "completed" || !(await look.exists(`maskflow:result:${leftover}`)); ) {
      if (Date.now() > deadline) throw new Error("the worker did not complete the leftover job");
      await sleep(20);
    }
    const before = readFileSync(out, "utf8");
    const again = batch(inputs, out);
    expect(await again.exited).toBe(0);
    expect(summaryOf(again)).toMatchObject({ total: 8, ok: 0, failed: 0, skipped: 8 });
    expect(readFileSync(out, "utf8")).toBe(before);
    expect(await queue.getJobState(leftover)).toBe("unknown");
    expect(await look.keys("maskflow:result:*")).toEqual([]);

    // --retry-failed runs the failed lines again (and they fail again: the input is still bad).
    const retry = batch(inputs, out, ["--retry-failed"]);
    expect(await retry.exited).toBe(1);
    expect(summaryOf(retry)).toMatchObject({ total: 8, ok: 0, failed: 5, skipped: 3 });
    w.child.kill("SIGTERM");
    expect(await w.exited).toBe(0);
  });

  it("a worker that lost a job's lock leaves no result behind (the job's new worker's counts)", async () => {
    const look = redis.client();
    const result = { status: "finished" as const, outputs: { show: { text: "late" } }, worker: "slow", waitMs: 0, ms: 1 };
    await look.set("maskflow:runs:bx:lock", "token-of-the-new-worker");
    await expect(storeResult(look, "bx", result, "token-of-the-slow-worker")).rejects.toThrow(LockLost);
    expect(await readResult(look, "bx")).toBeNull();
    await storeResult(look, "bx", result, "token-of-the-new-worker");
    expect(await readResult(look, "bx")).toEqual(result);
    await look.del("maskflow:runs:bx:lock", "maskflow:result:bx");
  });

  it("SIGTERM finishes the running job and exits; a second SIGTERM hands it back to the queue", async () => {
    const inputs = writeJobs("long.jsonl", [long(1), long(2)]);
    const out = join(dir, "long-results.jsonl");
    const client = batch(inputs, out);
    const activeOn = async (name: string) => {
      for (const deadline = Date.now() + 60_000; Date.now() < deadline; ) {
        const job = (await queue.getActive()).find((j) => j.processedBy === name);
        if (job) return job.id!;
        await sleep(10);
      }
      throw new Error(`${name} took no job`);
    };

    // One SIGTERM: the job in hand is finished (by this worker), the other is left for the next.
    const a = await worker("wb");
    const first = await activeOn("wb");
    a.child.kill("SIGTERM");
    expect(await a.exited).toBe(0);
    expect(a.output()).toMatch(/SIGTERM, taking no new jobs/);
    while (!existsSync(out)) await sleep(10); // the client writes it down
    expect(rows(out)).toEqual([expect.objectContaining({ job: first, status: "ok", worker: "wb" })]);

    // Two SIGTERMs: the job goes back at once (not failed, not an attempt used) and another worker runs it.
    const b = await worker("wc");
    const second = await activeOn("wc");
    b.child.kill("SIGTERM");
    await b.waitFor(/taking no new jobs/);
    b.child.kill("SIGTERM");
    expect(await b.exited).toBe(0);
    expect(b.output()).toMatch(new RegExp(`handed job ${second} back`));
    expect(await queue.getJobState(second)).toMatch(/^(wait|prioritized)$/);
    expect((await queue.getJob(second))!.attemptsMade).toBe(0);

    const c = await worker("wd");
    expect(await client.exited).toBe(0);
    expect(rows(out)[1]).toMatchObject({ job: second, status: "ok", worker: "wd" });
    c.child.kill("SIGTERM");
    await c.exited;
  });

  it("keeps a result of megabytes out of BullMQ's job hash and event stream, and writes it whole", async () => {
    // Text -> Regex Replace (a node package, loaded by the worker as the CLI loads it) -> Show Text: 4 MB of text.
    const workflow = join(dir, "big.maskflow.json");
    writeFileSync(
      workflow,
      JSON.stringify({
        version: 1,
        nodes: {
          text: { type: "Text", inputs: { value: "a".repeat(4000) } },
          grow: { type: "RegexReplace", inputs: { text: { from: "text", output: "text" }, pattern: "a", replacement: "b".repeat(1000), flags: "g" } },
          show: { type: "ShowText", inputs: { value: { from: "grow", output: "text" } } },
        },
      }),
    );
    const inputs = writeJobs("big.jsonl", [{}]);
    const out = join(dir, "big-results.jsonl");
    // Enqueued by a client that then dies, so the finished job can be looked at before it is collected.
    const client = batch(inputs, out, [], workflow);
    await client.waitFor(/queued or re-attached/);
    client.child.kill("SIGKILL");
    await client.exited;
    const w = await worker("we", [], { MASKFLOW_NODES: resolve("examples/nodes/text-tools") });
    const [id] = await queue.getRanges(["prioritized", "wait", "active", "completed"], 0, 0);
    while ((await queue.getJobState(id)) !== "completed") await sleep(20);

    const look = redis.client();
    expect(Number(await look.memory("USAGE", `maskflow:runs:${id}`))).toBeLessThan(16 * 1024);
    const events = await look.xrange("maskflow:runs:events", "-", "+");
    expect(Math.max(...events.map(([, fields]) => fields.join("").length))).toBeLessThan(4096);
    const stored = (await look.getBuffer(`maskflow:result:${id}`))!;
    expect(stored.length).toBeGreaterThan(0);
    expect(stored.length).toBeLessThan(100_000); // gzipped: 4 MB of one letter packs small

    const rerun = batch(inputs, out, [], workflow);
    expect(await rerun.exited).toBe(0);
    const [row] = rows(out);
    expect(row.outputs!.show.text).toBe("b".repeat(4_000_000));
    expect(await look.keys("maskflow:result:*")).toEqual([]);
    w.child.kill("SIGTERM");
    await w.exited;
  });
});

describeWithRedis("a worker whose Redis is gone", () => {
  it("still stops on SIGTERM, within seconds, instead of waiting for Redis to return", async () => {
    const redis = await startRedis();
    const w = await startWorker(redis.url, "orphan");
    try {
      await redis.stop();
      await w.waitFor(/unavailable/);
      const t0 = Date.now();
      w.child.kill("SIGTERM");
      expect(await w.exited).toBe(0);
      expect(Date.now() - t0).toBeLessThan(15_000);
      expect(w.output()).toMatch(/Redis did not answer; leaving without it/);
    } finally {
      w.child.kill("SIGKILL");
    }
  });
});

describeWithRedis("a Redis that restarts without its data", () => {
  it("loses the queue; the batch client enqueues the lost jobs again and the batch completes", async () => {
    const redis = await startRedis({ persist: false });
    const dir = mkdtempSync(join(tmpdir(), "maskflow-lost-"));
    const inputs = join(dir, "jobs.jsonl");
    writeFileSync(inputs, Array.from({ length: 40 }, (_, i) => JSON.stringify(small(i))).join("\n") + "\n");
    const out = join(dir, "out.jsonl");
    const w = await startWorker(redis.url, "wl");
    const client = maskflow(["batch", "workflows/hello.maskflow.json", "--inputs", inputs, "--out", out, "--redis", redis.url, "--json"]);
    try {
      while (!existsSync(out) || rows(out).length < 5) await sleep(10);
      await redis.restart(200);
      expect(await client.exited).toBe(0);
      expect(client.output()).toMatch(/Redis no longer has \d+ jobs? \(lost in a restart\?\); enqueuing them again/);
      expect(rows(out).map((r) => r.line).sort((a, b) => a - b)).toEqual(Array.from({ length: 40 }, (_, i) => i + 1));
    } finally {
      w.child.kill("SIGKILL");
      client.child.kill("SIGKILL");
      await redis.stop();
    }
  });
});

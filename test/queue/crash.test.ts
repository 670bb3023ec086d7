// The crash test, on a real Redis and real processes: a 200-job batch on three workers;
// one worker is SIGKILLed while it holds a job, Redis is restarted, the batch client is SIGKILLed
// and rerun; afterwards every job is in results.jsonl exactly once, with the tokens of a local
// run, and the killed worker's job was finished by another worker.
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Queue } from "bullmq";
import { afterAll, beforeAll, expect, it } from "vitest";
import { runBatch } from "../../engine/cli/batch.js";
import { loadWorkflowFile, NodeRegistry } from "../../engine/index.js";
import { builtinNodes } from "../../nodes/index.js";
import { maskflow, sleep, startWorker, type Proc } from "./processes.js";
import { describeWithRedis, startRedis, type TestRedis } from "./redis.js";

const JOBS = 200;

function lines(path: string): { line: number; status: string; worker: string; job: string; outputs: { show: { tokens: number[] } } }[] {
  if (!existsSync(path)) return [];
  return readFileSync(path, "utf8")
    .split("\n")
    .filter((l) => l.endsWith("}"))
    .map((l) => JSON.parse(l));
}

async function until(what: string, test: () => boolean, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!test()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(10);
  }
}

describeWithRedis("a batch on three workers survives a killed worker, a Redis restart and a killed client", () => {
  let redis: TestRedis;
  const workers: Proc[] = [];
  beforeAll(async () => {
    redis = await startRedis();
  });
  afterAll(async () => {
    for (const w of workers) w.child.kill("SIGKILL");
    await redis?.stop();
  });

  it("writes every job exactly once, with the same tokens as a local run", async () => {
    const dir = mkdtempSync(join(tmpdir(), "maskflow-crash-"));
    const inputs = join(dir, "jobs.jsonl");
    const out = join(dir, "results.jsonl");
    // Small jobs (8 tokens, 4 steps): 200 of them take seconds.
    const jobs = Array.from({ length: JOBS }, (_, i) => ({ "denoise.seed": i, "denoise.gen_length": 8, "schedule.steps": 4, "schedule.block_length": 8, "model.threads": 1 }));
    writeFileSync(inputs, jobs.map((j) => JSON.stringify(j)).join("\n") + "\n");

    const T0 = Date.now();
    // The reference: the same jobs in a local batch.
    const doc = await loadWorkflowFile("workflows/hello.maskflow.json");
    const localOut = join(dir, "local.jsonl");
    await runBatch(doc, { inputs, out: localOut, concurrency: 4, registry: new NodeRegistry(builtinNodes) });
    const expected = new Map(lines(localOut).map((r) => [r.line, r.outputs.show.tokens]));
    expect(expected.size).toBe(JOBS);

    console.log("T local", Date.now() - T0);
    for (const name of ["w1", "w2", "w3"]) workers.push(await startWorker(redis.url, name, ["--concurrency", "2", "--lock-ms", "2000"]));
    const batchArgs = ["batch", "workflows/hello.maskflow.json", "--inputs", inputs, "--out", out, "--redis", redis.url, "--json"];
    const client = maskflow(batchArgs);
    const queue = new Queue("runs", { connection: { host: "127.0.0.1", port: redis.port, maxRetriesPerRequest: null }, prefix: "maskflow" });
    queue.on("error", () => undefined);

    console.log("T started", Date.now() - T0);
    // 1. w1 is frozen until it is seen holding a job, then killed: its job is mid-run for sure.
    await until("30 results", () => lines(out).length >= 30);
    const w1 = workers[0];
    let held: string[] = [];
    while (held.length === 0) {
      w1.child.kill("SIGSTOP");
      held = (await queue.getActive()).filter((j) => j.processedBy === "w1").map((j) => j.id!);
      if (held.length === 0) {
        w1.child.kill("SIGCONT");
        await sleep(5);
      }
    }
    w1.child.kill("SIGKILL");
    expect(await w1.exited).toBe("SIGKILL");

    console.log("T killed", Date.now() - T0);
    // 2. Redis goes away and comes back (its data on disk, as a queue's Redis must keep it).
    await until("100 results", () => lines(out).length >= 100);
    await redis.restart(500);

    console.log("T restarted", Date.now() - T0);
    // 3. The client dies; its rerun re-attaches to what is queued, running and finished.
    await until("140 results", () => lines(out).length >= 140);
    client.child.kill("SIGKILL");
    await client.exited;
    const before = lines(out).length;
    expect(before).toBeLessThan(JOBS);
    const rerun = maskflow(batchArgs);
    expect(await rerun.exited).toBe(0);
    expect(JSON.parse(rerun.output().split("\n").find((l) => l.startsWith("{"))!)).toMatchObject({ total: JOBS, skipped: before, failed: 0 });

    console.log("T rerun done", Date.now() - T0);
    const rows = lines(out);
    expect(rows.map((r) => r.line).sort((a, b) => a - b)).toEqual(Array.from({ length: JOBS }, (_, i) => i + 1));
    for (const row of rows) {
      expect(row.status).toBe("ok");
      expect(row.outputs.show.tokens).toEqual(expected.get(row.line));
    }
    // The job w1 died holding was detected as stalled and finished elsewhere.
    for (const id of held) expect(rows.find((r) => r.job === id)?.worker).toMatch(/^w[23]$/);
    for (const row of rows) expect(row.worker).toMatch(/^w[123]$/);

    // Nothing is left behind: collected jobs and their results leave Redis.
    const client2 = redis.client();
    expect(await client2.keys("maskflow:result:*")).toEqual([]);
    expect(await queue.getJobCounts("completed", "failed", "wait", "active", "prioritized")).toEqual({ completed: 0, failed: 0, wait: 0, active: 0, prioritized: 0 });
    await queue.close();
  });
});

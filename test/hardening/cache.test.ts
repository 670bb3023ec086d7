// Issue 18, item 3: the executor's cache is bounded. Each distinct model (another path, `threads`
// value or LoRA strength) is a worker thread with an ONNX session, so: at most maxModels loaded at
// once (least recently used evicted, never one a running run uses), a byte budget in which models
// count what they hold, and `threads` clamped to the CPUs there are. Watched from outside as the
// operating system sees the process: its threads (Linux /proc).
import { readdirSync, readFileSync } from "node:fs";
import { availableParallelism } from "node:os";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Executor, NodeRegistry } from "../../engine/index.js";
import { builtinNodes } from "../../nodes/index.js";

/** Every built-in node type (the CLI adds node packages; these tests need none). */
const createDefaultRegistry = (): NodeRegistry => new NodeRegistry(builtinNodes);
import { startServed, helloWith, runToEnd, whileHealthy, type Served } from "./served.js";

const linux = process.platform === "linux";

function threadsOf(pid: number | "self"): number {
  return readdirSync(`/proc/${pid}/task`).length;
}

function rssMiB(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
  return m ? Number(m[1]) / 1024 : NaN;
}

/** A settled thread count: worker threads end a little after terminate() resolves. */
async function settledThreads(pid: number | "self"): Promise<number> {
  let last = threadsOf(pid);
  for (let i = 0; i < 20; i++) {
    await new Promise((r) => setTimeout(r, 100));
    const now = threadsOf(pid);
    if (now === last) return now;
    last = now;
  }
  return last;
}

describe("the executor's cache", () => {
  it("keeps at most maxModels loaded, evicting the least recently used, and reuses what it keeps", async () => {
    const executor = new Executor(createDefaultRegistry(), { limits: { maxModels: 2 } });
    try {
      for (const threads of [1, 2, 1, 3, 2]) {
        const doc = helloWith();
        doc.nodes.model.inputs.threads = threads;
        const r = await executor.run(doc as never);
        expect(r.status, JSON.stringify(r.error)).toBe("finished");
        expect(executor.cacheStats().models).toBeLessThanOrEqual(2);
      }
      // Threads 1 was used before 3 and 2 came back: it was evicted; 2 (just used) and 3 stay.
      const again = helloWith();
      again.nodes.model.inputs.threads = 2;
      const r = await executor.run(again as never);
      expect(r.stats.nodes.model.cached).toBe(true);
    } finally {
      executor.clearCache();
    }
  });

  it("fails the node that would need one model more than maxModels inside one run, naming the limit", async () => {
    const executor = new Executor(createDefaultRegistry(), { limits: { maxModels: 1 } });
    const doc = helloWith();
    const two = {
      ...doc,
      nodes: {
        ...doc.nodes,
        model2: { type: "LoadModel", inputs: { path: "models/default", threads: 2 } },
        denoise2: { ...doc.nodes.denoise, inputs: { ...doc.nodes.denoise.inputs, model: { from: "model2", output: "model" } } },
        show2: { type: "ShowText", inputs: { value: { from: "denoise2", output: "canvas" } } },
      },
    };
    try {
      const r = await executor.run(two as never);
      expect(r.status).toBe("failed");
      expect(r.error?.message).toMatch(/more than 1 models loaded at once \(limit maxModels = 1/);
    } finally {
      executor.clearCache();
    }
  });

  it("counts a model by what it holds against maxCacheBytes: over budget, it is unloaded once its run ends", async () => {
    const executor = new Executor(createDefaultRegistry(), { limits: { maxCacheBytes: 1024 * 1024 } });
    const r = await executor.run(helloWith() as never);
    expect(r.status, JSON.stringify(r.error)).toBe("finished");
    expect(executor.cacheStats()).toMatchObject({ models: 0 });
    expect(executor.cacheStats().bytes).toBeLessThanOrEqual(1024 * 1024);
  });

  it.runIf(linux)("clamps threads to the CPUs there are: threads=256 starts no more OS threads than threads=0", async () => {
    const before = await settledThreads("self");
    const executor = new Executor(createDefaultRegistry());
    try {
      const doc = helloWith();
      doc.nodes.model.inputs.threads = 256;
      const r = await executor.run(doc as never);
      expect(r.status, JSON.stringify(r.error)).toBe("finished");
      // One worker: its Node threads plus onnxruntime's pool of at most one per CPU.
      expect(threadsOf("self") - before).toBeLessThanOrEqual(availableParallelism() + 12);
    } finally {
      executor.clearCache();
    }
  });
});

describe.runIf(linux)("a served instance asked for many distinct models", () => {
  let served: Served;
  beforeAll(async () => {
    served = await startServed({ env: { MASKFLOW_LIMITS: "maxModels=2" } });
  });
  afterAll(async () => {
    await served?.close();
  });

  it("holds at most two models' worth of threads whatever the number of thread values asked for, answering /api/health within 100 ms", async () => {
    const first = await runToEnd(served, helloWith());
    expect(first.status, JSON.stringify(first.error)).toBe("finished");
    const oneModel = await settledThreads(served.pid);
    const { addedMs, budgetMs } = await whileHealthy(served, async () => {
      for (const threads of [2, 3, 4, 5, 6, 7, 8, 64]) {
        const doc = helloWith();
        doc.nodes.model.inputs.threads = threads;
        const r = await runToEnd(served, doc);
        expect(r.status, JSON.stringify(r.error)).toBe("finished");
      }
    });
    const after = await settledThreads(served.pid);
    // A model's worker is a handful of threads (more with threads > 1): two models, not nine.
    expect(after - oneModel).toBeLessThanOrEqual(availableParallelism() + 12);
    expect(rssMiB(served.pid)).toBeLessThan(1500);
    expect(addedMs).toBeLessThan(budgetMs);
  });
});

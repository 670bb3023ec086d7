// Issue 18, item 1: a tiny workflow (a 2 MB Text doubled seven times through Concat, 256 MB) must
// not run the server out of memory: node outputs have a size limit, named in the error with the
// node, and fetching the run's detail again and again keeps the server alive and answering.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Executor, NodeRegistry } from "../../engine/index.js";
import { builtinNodes } from "../../nodes/index.js";

/** Every built-in node type (the CLI adds node packages; these tests need none). */
const createDefaultRegistry = (): NodeRegistry => new NodeRegistry(builtinNodes);
import { doubling } from "./graphs.js";
import { startServed, runToEnd, whileHealthy, hasStackTrace, type Served } from "./served.js";

describe("output size limits (executor)", () => {
  it("fails the node whose output passes maxValueBytes, naming it and the limit", async () => {
    const executor = new Executor(createDefaultRegistry(), { limits: { maxValueBytes: 10_000 } });
    const result = await executor.run(doubling(2000, 4) as never);
    expect(result.status).toBe("failed");
    // t 2000, c1 4000, c2 8000, c3 16000 > 10000
    expect(result.error).toMatchObject({ nodeId: "c3", input: null });
    expect(result.error?.message).toMatch(/^output "text" is more than 10000 bytes \(limit maxValueBytes = 10000 bytes; raise it with --limit maxValueBytes=/);
  });

  it("bounds all of a run's outputs together (maxRunOutputBytes)", async () => {
    const executor = new Executor(createDefaultRegistry(), { limits: { maxRunOutputBytes: 5000 } });
    const nodes: Record<string, unknown> = { t: { type: "Text", inputs: { value: "y".repeat(2000) } } };
    for (let i = 0; i < 4; i++) nodes[`show${i}`] = { type: "ShowText", inputs: { value: { from: "t", output: "text" } } };
    const result = await executor.run({ version: 1, nodes } as never);
    expect(result.status).toBe("failed");
    expect(result.error?.message).toMatch(/maxRunOutputBytes/);
  });
});

describe("a served instance and the doubling workflow", () => {
  let served: Served;
  beforeAll(async () => {
    served = await startServed();
  });
  afterAll(async () => {
    await served?.close();
  });

  it("refuses the 256 MB value with a clear error, survives 15 detail fetches, answers /api/health within 100 ms", async () => {
    const { value: run, addedMs, budgetMs } = await whileHealthy(served, async () => {
      const ended = await runToEnd(served, doubling(2_100_000), undefined, 60_000);
      // The detail fetched again and again, with the editor's event socket's worth of copies.
      const details = await Promise.all(Array.from({ length: 15 }, () => served.api("GET", `/api/runs/${ended.id}`)));
      return { ended, details };
    });
    expect(run.ended.status).toBe("failed");
    expect(run.ended.error).toMatchObject({ nodeId: "c2", input: null });
    expect(run.ended.error.message).toMatch(/more than 8 MiB \(limit maxValueBytes = 8 MiB; raise it with --limit maxValueBytes=/);
    for (const d of run.details) expect(d.status).toBe(200);
    expect(served.alive()).toBe(true);
    expect(addedMs).toBeLessThan(budgetMs);
    expect(hasStackTrace(served.stderr())).toBe(false);
  });
});

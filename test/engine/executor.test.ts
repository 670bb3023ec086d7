import { describe, expect, it } from "vitest";
import { Executor, WorkflowError, type RunEvent } from "../../engine/index.js";
import { doc, link, testRegistry } from "./helpers.js";

const chain = (value: string, steps = 3) =>
  doc({
    t: { type: "Text", inputs: { value } },
    up: { type: "Upper", inputs: { text: link("t") } },
    slow: { type: "Slow", inputs: { text: link("up"), steps } },
    show: { type: "ShowText", inputs: { value: link("slow") } },
  });

describe("executor", () => {
  it("runs only what feeds an output and returns output node results", async () => {
    const { registry, calls } = testRegistry();
    const wf = chain("hi");
    wf.nodes.unused = { type: "Upper", inputs: { text: link("t") } };
    const result = await new Executor(registry).run(wf);
    expect(result.status).toBe("finished");
    expect(result.outputs).toEqual({ show: { text: "HI" } });
    expect(calls.unused).toBeUndefined();
  });

  it("reuses upstream results when a downstream input changes, re-runs dependants of a changed input", async () => {
    const { registry, calls } = testRegistry();
    const executor = new Executor(registry);
    const events: RunEvent[] = [];
    await executor.run(chain("hi", 3));
    expect(calls).toEqual({ up: 1, slow: 1 });

    // downstream change: Slow's steps. Upper comes from the cache.
    await executor.run(chain("hi", 4), { onEvent: (e) => events.push(e) });
    expect(calls).toEqual({ up: 1, slow: 2 });
    expect(events.filter((e) => e.type === "node_cached").map((e) => (e as { nodeId: string }).nodeId)).toEqual(["t", "up"]);

    // identical run: everything cached
    const again = await executor.run(chain("hi", 4));
    expect(calls).toEqual({ up: 1, slow: 2 });
    expect(again.stats.cached).toBe(4);

    // upstream change: everything after it runs again
    const changed = await executor.run(chain("ho", 4));
    expect(calls).toEqual({ up: 2, slow: 3 });
    expect(changed.outputs).toEqual({ show: { text: "HO" } });

    // an override is an input change like any other
    const overridden = await executor.run(chain("hi", 4), { overrides: { "t.value": "yo" } });
    expect(overridden.outputs).toEqual({ show: { text: "YO" } });
  });

  it("emits the typed event stream in order", async () => {
    const { registry } = testRegistry();
    const events: RunEvent[] = [];
    await new Executor(registry).run(chain("hi", 2), { runId: "r1", onEvent: (e) => events.push(e) });
    expect(events.map((e) => e.type)).toEqual([
      "run_started",
      "node_started", "node_finished", // t
      "node_started", "node_finished", // up
      "node_started", "progress", "progress", "node_finished", // slow
      "node_started", "node_finished", // show
      "run_finished",
    ]);
    expect(events.every((e) => e.runId === "r1")).toBe(true);
  });

  it("cancels cooperatively mid-node and caches nothing half-done", async () => {
    const { registry, calls } = testRegistry();
    const executor = new Executor(registry);
    const controller = new AbortController();
    const events: RunEvent[] = [];
    const result = await executor.run(chain("hi", 1000), {
      signal: controller.signal,
      onEvent: (e) => {
        events.push(e);
        if (e.type === "progress" && e.step === 3) controller.abort();
      },
    });
    expect(result.status).toBe("cancelled");
    expect(events.at(-1)).toMatchObject({ type: "cancelled", nodeId: "slow" });
    expect(events.filter((e) => e.type === "progress").length).toBeLessThan(10);
    const rerun = await executor.run(chain("hi", 2));
    expect(rerun.status).toBe("finished");
    expect(calls.slow).toBe(2);
  });

  it("names a failing node and input, skips only its dependants", async () => {
    const { registry, calls } = testRegistry();
    const wf = doc({
      t: { type: "Text", inputs: { value: "x" } },
      bad: { type: "Fail", inputs: { text: link("t") } },
      after: { type: "Upper", inputs: { text: link("bad") } },
      show1: { type: "ShowText", inputs: { value: link("after") } },
      good: { type: "Upper", inputs: { text: link("t") } },
      show2: { type: "ShowText", inputs: { value: link("good") } },
    });
    const events: RunEvent[] = [];
    const result = await new Executor(registry).run(wf, { onEvent: (e) => events.push(e) });
    expect(result.status).toBe("failed");
    expect(result.error).toEqual({ nodeId: "bad", input: "text", message: "this node always fails" });
    expect(result.outputs).toEqual({ show2: { text: "X" } });
    expect(calls.after).toBeUndefined();
    expect(events.filter((e) => e.type === "node_skipped").map((e) => (e as { nodeId: string }).nodeId)).toEqual(["after", "show1"]);
  });

  it("throws every validation issue before running anything", async () => {
    const { registry, calls } = testRegistry();
    const wf = chain("hi");
    wf.nodes.slow.inputs.steps = 0;
    await expect(new Executor(registry).run(wf)).rejects.toBeInstanceOf(WorkflowError);
    expect(calls).toEqual({});
    await expect(new Executor(registry).run(chain("hi"), { overrides: { "ghost.value": 1 } })).rejects.toThrow(/no node "ghost"/);
  });
});

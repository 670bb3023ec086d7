import { NodeRegistry, type NodeDefinition, type WorkflowDoc } from "../../engine/index.js";
import { builtinNodes } from "../../nodes/index.js";

/** Real node definitions written for tests: they count their executions and can be slow or fail. */
export function testRegistry() {
  const calls: Record<string, number> = {};
  const count = (id: string): void => {
    calls[id] = (calls[id] ?? 0) + 1;
  };
  const Upper: NodeDefinition = {
    type: "Upper",
    version: 1,
    title: "Upper",
    category: "test",
    description: "Upper-cases text; counts its runs.",
    inputs: { text: { socket: "TEXT" } },
    outputs: { text: { socket: "TEXT" } },
    execute: ({ text }, ctx) => {
      count(ctx.nodeId);
      return { text: (text as string).toUpperCase() };
    },
  };
  const Slow: NodeDefinition = {
    type: "Slow",
    version: 1,
    title: "Slow",
    category: "test",
    description: "Steps through a loop, checking for cancellation at every step.",
    inputs: { text: { socket: "TEXT" }, steps: { kind: "integer", default: 50, min: 1, max: 1000 } },
    outputs: { text: { socket: "TEXT" } },
    execute: async ({ text, steps }, ctx) => {
      count(ctx.nodeId);
      for (let i = 0; i < (steps as number); i++) {
        if (ctx.signal.aborted) throw Object.assign(new Error("cancelled"), { name: "AbortError" });
        await new Promise((r) => setTimeout(r, 5));
        ctx.progress({ step: i + 1, total: steps as number });
      }
      return { text };
    },
  };
  const Fail: NodeDefinition = {
    type: "Fail",
    version: 1,
    title: "Fail",
    category: "test",
    description: "Fails naming its input.",
    inputs: { text: { socket: "TEXT" } },
    outputs: { text: { socket: "TEXT" } },
    execute: (_inputs, ctx) => ctx.fail("text", "this node always fails"),
  };
  const registry = new NodeRegistry([...builtinNodes, Upper, Slow, Fail]);
  return { registry, calls };
}

export function doc(nodes: WorkflowDoc["nodes"]): WorkflowDoc {
  return { version: 1, nodes };
}

export const link = (from: string, output = "text") => ({ from, output });

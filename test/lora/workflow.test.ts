// workflows/lora.maskflow.json end to end with the real nodes: it validates, runs, and at
// strength 0 produces token for token what the same workflow without ApplyLora produces.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { NodeRegistry } from "../../engine/registry.js";
import { Executor } from "../../engine/run/executor.js";
import type { NodeDefinition } from "../../engine/types.js";
import type { WorkflowDoc } from "../../engine/workflow/schema.js";
import ApplyLora from "../../nodes/apply-lora.js";
import Denoise from "../../nodes/denoise.js";
import { builtinNodes } from "../../nodes/index.js";
import LoadModel from "../../nodes/load-model.js";
import MaskSchedule from "../../nodes/mask-schedule.js";
import Prompt from "../../nodes/prompt.js";
import { ROOT } from "./helpers.js";

function registry(): NodeRegistry {
  const byType = new Map<string, NodeDefinition>();
  for (const def of [...builtinNodes, LoadModel, Prompt, MaskSchedule, Denoise, ApplyLora]) if (!byType.has(def.type)) byType.set(def.type, def);
  return new NodeRegistry(byType.values());
}

const executor = new Executor(registry());
afterAll(() => executor.clearCache());

const doc = JSON.parse(readFileSync(join(ROOT, "workflows", "lora.maskflow.json"), "utf8")) as WorkflowDoc;

/** The same workflow with Denoise reading the loaded model directly. */
function withoutLora(): WorkflowDoc {
  const copy = structuredClone(doc) as { nodes: Record<string, { type: string; inputs: Record<string, unknown> }> };
  delete copy.nodes.lora;
  copy.nodes.denoise.inputs.model = { from: "model", output: "model" };
  return copy as unknown as WorkflowDoc;
}

function tokens(result: Awaited<ReturnType<Executor["run"]>>): number[] {
  expect(result.status, JSON.stringify(result.error)).toBe("finished");
  return (result.outputs.show as { tokens: number[] }).tokens;
}

describe("workflows/lora.maskflow.json", () => {
  it("runs; strength 0 gives the base model's tokens exactly; the loaded model is reused across strengths", async () => {
    const base = tokens(await executor.run(withoutLora()));
    const zero = tokens(await executor.run(doc, { overrides: { "lora.strength": 0 } }));
    expect(zero).toEqual(base);
    const one = await executor.run(doc);
    expect(one.stats.nodes.model.cached).toBe(true); // the loaded model is reused across strengths
    expect(typeof (one.outputs.show as { text: string }).text).toBe("string");
    expect(tokens(one).length).toBe(base.length);
  });
});

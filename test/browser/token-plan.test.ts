// The graph edits behind the denoising view's token actions, and the batch count's seeds,
// without a browser: what nodes and links they add, and that a second edit updates the first.
import { describe, expect, it } from "vitest";
import type { WorkflowDoc } from "../../app/src/api/types.js";
import { planTokenEdit, positionSpec } from "../../app/src/edit/tokenEdit.js";
import { docToGraph, graphToDoc } from "../../app/src/graph/workflow.js";
import { batchOverrides } from "../../app/src/run/batch.js";
import { NodeRegistry } from "../../engine/index.js";
import { checkWorkflow } from "../../engine/workflow/check.js";
import { builtinNodes } from "../../nodes/index.js";
import { example } from "./docs.js";

const registry = new NodeRegistry(builtinNodes);
const catalog = new Map(registry.catalog().map((e) => [e.type, e]));
const hello = () => docToGraph(example("hello") as unknown as WorkflowDoc, catalog);

describe("token edits", () => {
  it("writes positions as Remask reads them", () => {
    expect(positionSpec([4, 2, 3, 9, 7, 8, 0])).toBe("0, 2-4, 7-9");
  });

  it("adds Remask -> Denoise -> Show Text after the sampler, linked to its model, and the result validates", () => {
    const plan = planTokenEdit(hello(), catalog, "denoise", { kind: "remask", positions: [2, 3, 4] });
    if (!plan.ok) throw new Error(plan.reason);
    const doc = graphToDoc(plan.graph);
    expect(doc.nodes[plan.edit]).toMatchObject({ type: "Remask", inputs: { strategy: "positions", positions: "2-4", canvas: { from: "denoise", output: "canvas" }, model: { from: "model", output: "model" } } });
    expect(doc.nodes[plan.rewrite].inputs).toMatchObject({ canvas: { from: plan.edit, output: "canvas" }, temperature: 0.8, seed: 1 });
    expect(doc.nodes[plan.rewrite].inputs).not.toHaveProperty("gen_length");
    expect(Object.values(doc.nodes).filter((n) => n.type === "ShowText")).toHaveLength(2);
    expect(checkWorkflow(doc, registry).ok).toBe(true);

    // Again on the same sampler: the Remask is updated, nothing is added.
    const again = planTokenEdit(plan.graph, catalog, "denoise", { kind: "keep", positions: [0, 1], length: 6, fixed: [5] });
    if (!again.ok) throw new Error(again.reason);
    expect(again.edit).toBe(plan.edit);
    expect(again.graph.nodes).toHaveLength(plan.graph.nodes.length);
    expect(graphToDoc(again.graph).nodes[plan.edit].inputs.positions).toBe("2-4"); // keep 0-1, fixed 5: the rest
  });

  it("replaces a span with ReplaceTokens, and refuses what it cannot do", () => {
    const plan = planTokenEdit(hello(), catalog, "denoise", { kind: "replace", positions: [6, 7], text: " old house" });
    if (!plan.ok) throw new Error(plan.reason);
    expect(graphToDoc(plan.graph).nodes[plan.edit]).toMatchObject({ type: "ReplaceTokens", inputs: { positions: "6-7", text: " old house" } });
    expect(planTokenEdit(hello(), catalog, "prompt", { kind: "remask", positions: [1] })).toMatchObject({ ok: false });
    expect(planTokenEdit(hello(), catalog, "denoise", { kind: "remask", positions: [] })).toMatchObject({ ok: false });
  });
});

describe("batch count", () => {
  it("counts every seed input up by one per run, from the graph's value", () => {
    const doc = example("edit") as unknown as WorkflowDoc;
    expect(batchOverrides(doc, catalog, 3)).toEqual([
      {},
      { "draft.seed": 2, "remask.seed": 1, "rewrite.seed": 3 },
      { "draft.seed": 3, "remask.seed": 2, "rewrite.seed": 4 },
    ]);
  });
});

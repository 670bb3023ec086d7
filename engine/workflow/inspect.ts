// The static pass of validation: before anything runs, each node that defines inspect() is told
// its constant inputs and what its upstream nodes' inspect() said about their outputs, and may
// report problems with its inputs (NodeDefinition.inspect). So Load Model reads the model's
// max_length from its folder and Denoise checks prompt plus gen_length against it while the
// user types, not when the run fails. Best effort: an inspect() that throws says nothing.
import type { InspectResult } from "../types.js";
import type { CompiledNode } from "./compile.js";
import type { Issue } from "./issues.js";
import { isLink } from "./schema.js";

export function inspectGraph(nodes: ReadonlyMap<string, CompiledNode>, order: readonly string[]): Issue[] {
  const facts = new Map<string, Record<string, unknown>>();
  const issues: Issue[] = [];
  for (const id of order) {
    const node = nodes.get(id);
    if (!node?.def.inspect) continue;
    const values: Record<string, unknown> = {};
    const upstream: Record<string, unknown> = {};
    for (const [name, input] of Object.entries(node.inputs)) {
      if (isLink(input)) upstream[name] = facts.get(input.from)?.[input.output];
      else values[name] = input.value;
    }
    let result: InspectResult | undefined;
    try {
      result = node.def.inspect({ values, upstream });
    } catch {
      continue;
    }
    if (result?.outputs) facts.set(id, result.outputs);
    for (const issue of result?.issues ?? []) issues.push({ nodeId: id, input: issue.input, code: "out_of_range", message: issue.message });
  }
  return issues;
}

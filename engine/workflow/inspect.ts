// The static pass of validation: before anything runs, each node that defines inspect() is told
// its constant inputs and what its upstream nodes' inspect() said about their outputs, and may
// report problems with its inputs (NodeDefinition.inspect). So Load Model reads the model's
// max_length from its folder and Denoise checks prompt plus gen_length against it while the
// user types, not when the run fails. Best effort: an inspect() that throws says nothing. Files
// are read only where a run could read them (FileAccess: confined when served), and what a node
// says is redacted as its run's messages would be.
import { inspectFiles, unrestrictedFiles, type FileAccess } from "../files/access.js";
import { DEFAULT_LIMITS, type Limits } from "../limits.js";
import type { InspectResult } from "../types.js";
import type { CompiledNode } from "./compile.js";
import type { Issue } from "./issues.js";
import { isLink } from "./schema.js";

export function inspectGraph(
  nodes: ReadonlyMap<string, CompiledNode>,
  order: readonly string[],
  access: FileAccess = unrestrictedFiles,
  limits: Pick<Limits, "maxValueBytes"> = DEFAULT_LIMITS,
): Issue[] {
  const facts = new Map<string, Record<string, unknown>>();
  const issues: Issue[] = [];
  const files = inspectFiles(access);
  // Output names are data: "constructor" must not find Object's.
  const factOf = (from: string, output: string): unknown => {
    const outputs = facts.get(from);
    return outputs && Object.hasOwn(outputs, output) ? outputs[output] : undefined;
  };
  for (const id of order) {
    const node = nodes.get(id);
    if (!node?.def.inspect) continue;
    const values: Record<string, unknown> = {};
    const upstream: Record<string, unknown> = {};
    for (const [name, input] of Object.entries(node.inputs)) {
      if (isLink(input)) upstream[name] = factOf(input.from, input.output);
      else values[name] = input.value;
    }
    let result: InspectResult | undefined;
    try {
      result = node.def.inspect({ values, upstream, files });
    } catch {
      continue;
    }
    // A text longer than a run could pass on is not a fact (Concat nodes that each double their
    // input would otherwise make gigabytes of text while the graph is checked).
    if (result?.outputs) facts.set(id, Object.fromEntries(Object.entries(result.outputs).filter(([, v]) => typeof v !== "string" || v.length <= limits.maxValueBytes)));
    for (const issue of result?.issues ?? []) issues.push({ nodeId: id, input: issue.input, code: "out_of_range", message: access.redact(String(issue.message)) });
  }
  return issues;
}

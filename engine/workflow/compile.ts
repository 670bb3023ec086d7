// Validates a whole workflow before anything runs and reports every problem at once, each with
// its node id, input name and reason; then keeps only the nodes that feed an output node, in
// topological order.
import type { NodeRegistry } from "../registry.js";
import type { InputDef, NodeDefinition, SocketType } from "../types.js";
import { WorkflowError, type Issue } from "./issues.js";
import { isLink, type Link, type WorkflowDoc } from "./schema.js";

export interface CompiledNode {
  id: string;
  def: NodeDefinition;
  /** Every declared input: a link, or the constant (default filled in); optional inputs may be absent. */
  inputs: Record<string, Link | { value: unknown }>;
}

export interface CompiledGraph {
  /** Nodes that feed an output node, dependencies first. */
  order: CompiledNode[];
  outputs: string[];
}

export function acceptedSockets(def: InputDef): SocketType[] {
  return def.socket === undefined ? [] : Array.isArray(def.socket) ? def.socket : [def.socket];
}

function checkConstant(nodeId: string, input: string, def: InputDef, value: unknown): Issue | null {
  const issue = (code: Issue["code"], message: string): Issue => ({ nodeId, input, code, message });
  if (def.kind === undefined) {
    return issue("wrong_type", `needs a link to a ${acceptedSockets(def).join(" or ")} output, got a constant`);
  }
  if (value === null && def.optional) return null;
  switch (def.kind) {
    case "string":
      if (typeof value !== "string") return issue("wrong_type", `expected a string, got ${describe(value)}`);
      if (def.options && !def.options.includes(value)) {
        return issue("not_an_option", `"${value}" is not one of ${def.options.map((o) => `"${o}"`).join(", ")}`);
      }
      return null;
    case "boolean":
      return typeof value === "boolean" ? null : issue("wrong_type", `expected true or false, got ${describe(value)}`);
    case "number":
    case "integer": {
      if (typeof value !== "number" || !Number.isFinite(value)) {
        return issue("wrong_type", `expected a ${def.kind === "integer" ? "whole number" : "number"}, got ${describe(value)}`);
      }
      if (def.kind === "integer" && !Number.isInteger(value)) return issue("wrong_type", `expected a whole number, got ${value}`);
      if ((def.min !== undefined && value < def.min) || (def.max !== undefined && value > def.max)) {
        const range = `${def.min ?? "-inf"}..${def.max ?? "inf"}`;
        return issue("out_of_range", `${value} is outside ${range}`);
      }
      return null;
    }
  }
}

function describe(value: unknown): string {
  if (value === null) return "null";
  if (Array.isArray(value)) return "a list";
  if (typeof value === "string") return `the string "${value.length > 40 ? value.slice(0, 40) + "..." : value}"`;
  return `${typeof value} ${JSON.stringify(value)}`;
}

/** Every problem with the workflow; [] when it can run. */
export function validateWorkflow(doc: WorkflowDoc, registry: NodeRegistry): Issue[] {
  return analyse(doc, registry).issues;
}

/** Compiles or throws WorkflowError listing every problem. */
export function compileWorkflow(doc: WorkflowDoc, registry: NodeRegistry): CompiledGraph {
  const { issues, graph } = analyse(doc, registry);
  if (issues.length > 0 || !graph) throw new WorkflowError(issues);
  return graph;
}

function analyse(doc: WorkflowDoc, registry: NodeRegistry): { issues: Issue[]; graph?: CompiledGraph } {
  const issues: Issue[] = [];
  const compiled = new Map<string, CompiledNode>();

  for (const [id, node] of Object.entries(doc.nodes)) {
    const def = registry.get(node.type);
    if (!def) {
      issues.push({ nodeId: id, input: null, code: "unknown_type", message: `unknown node type "${node.type}"` });
      continue;
    }
    const inputs: CompiledNode["inputs"] = {};
    for (const name of Object.keys(node.inputs)) {
      if (!(name in def.inputs)) {
        const known = Object.keys(def.inputs).join(", ") || "none";
        issues.push({ nodeId: id, input: name, code: "unknown_input", message: `${def.type} has no input "${name}" (inputs: ${known})` });
      }
    }
    for (const [name, inputDef] of Object.entries(def.inputs)) {
      const raw = node.inputs[name];
      if (raw === undefined) {
        if (inputDef.default !== undefined) inputs[name] = { value: inputDef.default };
        else if (!inputDef.optional) {
          issues.push({ nodeId: id, input: name, code: "missing_input", message: "required input is not set" });
        }
        continue;
      }
      if (isLink(raw)) {
        inputs[name] = raw;
        const source = doc.nodes[raw.from];
        if (!source) {
          issues.push({ nodeId: id, input: name, code: "missing_node", message: `links to node "${raw.from}", which does not exist` });
          continue;
        }
        const sourceDef = registry.get(source.type);
        if (!sourceDef) continue; // reported on the source node
        const out = sourceDef.outputs[raw.output];
        if (!out) {
          const known = Object.keys(sourceDef.outputs).join(", ") || "none";
          issues.push({
            nodeId: id,
            input: name,
            code: "missing_output",
            message: `${raw.from} (${source.type}) has no output "${raw.output}" (outputs: ${known})`,
          });
          continue;
        }
        const accepted = acceptedSockets(inputDef);
        if (!accepted.includes(out.socket)) {
          const want = accepted.length ? accepted.join(" or ") : "a constant";
          issues.push({
            nodeId: id,
            input: name,
            code: "type_mismatch",
            message: `expects ${want} but ${raw.from}.${raw.output} is ${out.socket}`,
          });
        }
        continue;
      }
      const problem = checkConstant(id, name, inputDef, raw);
      if (problem) issues.push(problem);
      else inputs[name] = { value: raw };
    }
    compiled.set(id, { id, def, inputs });
  }

  issues.push(...findCycles(doc));

  const outputs = [...compiled.values()].filter((n) => n.def.output).map((n) => n.id);
  if (outputs.length === 0) {
    issues.push({ nodeId: null, input: null, code: "no_output_node", message: "the workflow has no output node (e.g. ShowText): nothing would run" });
  }
  if (issues.length > 0) return { issues };

  // Only nodes that feed an output node run; depth-first from the outputs gives a topological order.
  const order: CompiledNode[] = [];
  const seen = new Set<string>();
  const visit = (id: string): void => {
    if (seen.has(id)) return;
    seen.add(id);
    const node = compiled.get(id)!;
    for (const input of Object.values(node.inputs)) if (isLink(input)) visit(input.from);
    order.push(node);
  };
  for (const id of outputs) visit(id);
  return { issues, graph: { order, outputs } };
}

/** Each cycle once, printed as a -> b -> a, reported on its first node. */
function findCycles(doc: WorkflowDoc): Issue[] {
  const issues: Issue[] = [];
  const state = new Map<string, "open" | "done">();
  const stack: string[] = [];
  const visit = (id: string): void => {
    state.set(id, "open");
    stack.push(id);
    const node = doc.nodes[id];
    for (const [input, raw] of Object.entries(node.inputs)) {
      if (!isLink(raw) || !doc.nodes[raw.from]) continue;
      const s = state.get(raw.from);
      if (s === "open") {
        const cycle = [...stack.slice(stack.indexOf(raw.from)), raw.from];
        issues.push({ nodeId: raw.from, input: null, code: "cycle", message: `cycle: ${cycle.join(" -> ")} (via ${id}.${input})` });
      } else if (s === undefined) visit(raw.from);
    }
    stack.pop();
    state.set(id, "done");
  };
  for (const id of Object.keys(doc.nodes)) if (!state.has(id)) visit(id);
  return issues;
}

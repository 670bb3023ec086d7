// Validates a whole workflow before anything runs and reports every problem at once, each with
// its node id, input name and reason; then keeps only the nodes that feed an output node, in
// topological order. It works on what readStructure() could read of a document, so faults in the
// file's shape and faults in the graph are reported in the same pass (check.ts).
import type { NodeRegistry } from "../registry.js";
import { ANY_SOCKET, type InputDef, type NodeDefinition, type SocketType } from "../types.js";
import { describeValue } from "./describe.js";
import { classifyInput } from "./inputs.js";
import { WorkflowError, type Issue } from "./issues.js";
import { inspectGraph } from "./inspect.js";
import { applyModes, type ModedNode } from "./modes.js";
import { isLink, type Link, type WorkflowDoc } from "./schema.js";
import type { ReadDoc } from "./structure.js";

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
  /** Nodes that will not run because of bypass or mute (modes.ts), and why. */
  skipped: { nodeId: string; because: string }[];
}

/** The socket types an input names, for messages ("*" for an input that takes any). */
export function acceptedSockets(def: InputDef): (SocketType | typeof ANY_SOCKET)[] {
  return def.socket === undefined ? [] : Array.isArray(def.socket) ? def.socket : [def.socket];
}

/** Whether an input takes a link from an output of this socket type. */
export function acceptsSocket(def: InputDef, socket: SocketType): boolean {
  const accepted = acceptedSockets(def);
  return accepted.includes(ANY_SOCKET) || accepted.includes(socket);
}

const socketWords = (def: InputDef): string => {
  const accepted = acceptedSockets(def);
  return accepted.includes(ANY_SOCKET) ? "any" : accepted.join(" or ");
};

function checkConstant(nodeId: string, input: string, def: InputDef, value: unknown): Issue | null {
  const issue = (code: Issue["code"], message: string): Issue => ({ nodeId, input, code, message });
  if (def.kind === undefined) {
    return issue("wrong_type", `needs a link to ${acceptedSockets(def).includes(ANY_SOCKET) ? "an" : `a ${socketWords(def)}`} output, got a constant`);
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

const describe = describeValue;

const asRead = (doc: WorkflowDoc): ReadDoc => ({ nodes: doc.nodes, unreadable: new Set(), noInputs: new Set() });

/** Every problem with the graph of a schema-valid workflow; [] when it can run. checkWorkflow() takes any JSON. */
export function validateWorkflow(doc: WorkflowDoc, registry: NodeRegistry): Issue[] {
  return analyse(asRead(doc), registry).issues;
}

/** Compiles or throws WorkflowError listing every problem. */
export function compileWorkflow(doc: WorkflowDoc, registry: NodeRegistry): CompiledGraph {
  const { issues, graph } = analyse(asRead(doc), registry);
  if (issues.length > 0 || !graph) throw new WorkflowError(issues);
  return graph;
}

/** The graph check over what could be read of a document (see structure.ts). */
export function analyse(doc: ReadDoc, registry: NodeRegistry): { issues: Issue[]; graph?: CompiledGraph } {
  const issues: Issue[] = [];
  const compiled = new Map<string, ModedNode>();
  const muted = new Set<string>();

  for (const [id, node] of Object.entries(doc.nodes)) {
    // A muted node is switched off: nothing about it is checked (people mute what is unfinished).
    if (node.mode === "mute") {
      muted.add(id);
      continue;
    }
    // A bypassed node does not run either: only what it passes on (its links) must be sound.
    const lenient = node.mode === "bypass";
    const def = registry.get(node.type);
    if (!def) {
      issues.push({ nodeId: id, input: null, code: "unknown_type", message: `unknown node type "${node.type}"` });
      // Its inputs cannot be checked against a definition, but a malformed one is a fault of its own.
      for (const [name, raw] of Object.entries(node.inputs)) {
        const value = classifyInput(raw, undefined);
        if (value.kind === "bad") issues.push({ nodeId: id, input: name, code: "wrong_type", message: value.message });
      }
      continue;
    }
    const inputs: CompiledNode["inputs"] = {};
    for (const name of Object.keys(node.inputs)) {
      if (!(name in def.inputs) && !lenient) {
        const known = Object.keys(def.inputs).join(", ") || "none";
        issues.push({ nodeId: id, input: name, code: "unknown_input", message: `${def.type} has no input "${name}" (inputs: ${known})` });
      }
    }
    for (const [name, inputDef] of Object.entries(def.inputs)) {
      const raw = node.inputs[name];
      if (raw === undefined) {
        if (inputDef.default !== undefined) inputs[name] = { value: inputDef.default };
        else if (!inputDef.optional && !doc.noInputs.has(id) && !lenient) {
          issues.push({ nodeId: id, input: name, code: "missing_input", message: "required input is not set" });
        }
        continue;
      }
      const value = classifyInput(raw, inputDef);
      if (value.kind === "bad") {
        issues.push({ nodeId: id, input: name, code: "wrong_type", message: value.message });
        continue;
      }
      if (value.kind === "link") {
        const link = value.link;
        inputs[name] = link;
        const source = doc.nodes[link.from];
        if (doc.unreadable.has(link.from)) continue; // reported on that node
        if (!source) {
          issues.push({ nodeId: id, input: name, code: "missing_node", message: `links to node "${link.from}", which does not exist` });
          continue;
        }
        const sourceDef = registry.get(source.type);
        if (!sourceDef) continue; // reported on the source node
        const out = sourceDef.outputs[link.output];
        if (!out) {
          const known = Object.keys(sourceDef.outputs).join(", ") || "none";
          issues.push({
            nodeId: id,
            input: name,
            code: "missing_output",
            message: `${link.from} (${source.type}) has no output "${link.output}" (outputs: ${known})`,
          });
          continue;
        }
        if (!acceptsSocket(inputDef, out.socket)) {
          const want = acceptedSockets(inputDef).length ? socketWords(inputDef) : "a constant";
          issues.push({
            nodeId: id,
            input: name,
            code: "type_mismatch",
            message: `expects ${want} but ${link.from}.${link.output} is ${out.socket}`,
          });
        }
        continue;
      }
      const problem = checkConstant(id, name, inputDef, raw);
      if (problem && !lenient) issues.push(problem);
      else if (!problem) inputs[name] = { value: raw };
    }
    compiled.set(id, { id, def, inputs, ...(node.mode ? { mode: node.mode } : {}) });
  }

  const cycles = findCycles(doc);
  issues.push(...cycles);

  const declared = Object.entries(doc.nodes).filter(([, n]) => registry.get(n.type)?.output).map(([id]) => id);
  // A node of an unknown (or unreadable) type may be the output node: then "no output node" would
  // be a second report of the same fault.
  const allKnown = doc.unreadable.size === 0 && Object.values(doc.nodes).every((n) => registry.get(n.type) !== undefined);
  if (declared.length === 0 && allKnown) {
    issues.push({ nodeId: null, input: null, code: "no_output_node", message: "the workflow has no output node (e.g. ShowText): nothing would run" });
  }
  if (cycles.length > 0 || doc.unreadable.size > 0) return { issues };

  const sorted = sourcesFirst(doc);
  const modes = applyModes(compiled, muted, (id) => registry.get(doc.nodes[id]?.type ?? ""), sorted);
  issues.push(...modes.issues);
  // Limits only the linked nodes know (a model's max_length), checked on what would really run.
  const known = new Set(issues.filter((i) => i.input !== null).map((i) => `${i.nodeId}.${i.input}`));
  issues.push(...inspectGraph(modes.active, sorted).filter((i) => !known.has(`${i.nodeId}.${i.input}`)));
  const outputs = [...modes.active.values()].filter((n) => n.def.output).map((n) => n.id);
  if (declared.length > 0 && outputs.length === 0 && allKnown) {
    issues.push({
      nodeId: null,
      input: null,
      code: "no_output_node",
      message: "every output node is muted or bypassed, or needs a muted node: nothing would run",
    });
  }
  // Unreadable nodes are reported by the structure check, not here, but there is no graph either.
  if (issues.length > 0) return { issues };

  // Only nodes that feed an output node run; depth-first from the outputs gives a topological order.
  const order: CompiledNode[] = [];
  const seen = new Set<string>();
  const visit = (id: string): void => {
    if (seen.has(id)) return;
    seen.add(id);
    const node = modes.active.get(id)!;
    for (const input of Object.values(node.inputs)) if (isLink(input)) visit(input.from);
    order.push(node);
  };
  for (const id of outputs) visit(id);
  return { issues, graph: { order, outputs, skipped: modes.skipped } };
}

/** Every node id after the nodes it links from (the graph has no cycles by now). */
function sourcesFirst(doc: ReadDoc): string[] {
  const order: string[] = [];
  const seen = new Set<string>();
  const visit = (id: string): void => {
    if (seen.has(id) || !doc.nodes[id]) return;
    seen.add(id);
    for (const raw of Object.values(doc.nodes[id].inputs)) if (isLink(raw)) visit(raw.from);
    order.push(id);
  };
  for (const id of Object.keys(doc.nodes)) visit(id);
  return order;
}

/** Each cycle once, printed as a -> b -> a, reported on its first node. */
function findCycles(doc: ReadDoc): Issue[] {
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

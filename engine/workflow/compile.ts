// Validates a whole workflow before anything runs and reports every problem at once, each with
// its node id, input name and reason; then keeps only the nodes that feed an output node, in
// topological order. It works on what readStructure() could read of a document, so faults in the
// file's shape and faults in the graph are reported in the same pass (check.ts).
import type { FileAccess } from "../files/access.js";
import type { Limits } from "../limits.js";
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

/** A name as it appears in a message: long ones cut. */
function quote(name: string): string {
  return `"${name.length > 60 ? name.slice(0, 60) + "…" : name}"`;
}

const asRead = (doc: WorkflowDoc): ReadDoc => ({ nodes: doc.nodes, unreadable: new Set(), noInputs: new Set() });

export interface AnalyseOptions {
  /** The files nodes' static checks (inspect) may read; default: any, as the CLI. A server passes its confined access. */
  files?: FileAccess;
  /** maxValueBytes bounds the texts the static checks pass along (default: DEFAULT_LIMITS). */
  limits?: Pick<Limits, "maxValueBytes">;
}

/** Every problem with the graph of a schema-valid workflow; [] when it can run. checkWorkflow() takes any JSON. */
export function validateWorkflow(doc: WorkflowDoc, registry: NodeRegistry, options: AnalyseOptions = {}): Issue[] {
  return analyse(asRead(doc), registry, options).issues;
}

/** Compiles or throws WorkflowError listing every problem. */
export function compileWorkflow(doc: WorkflowDoc, registry: NodeRegistry, options: AnalyseOptions = {}): CompiledGraph {
  const { issues, graph } = analyse(asRead(doc), registry, options);
  if (issues.length > 0 || !graph) throw new WorkflowError(issues);
  return graph;
}

/** The graph check over what could be read of a document (see structure.ts). */
export function analyse(doc: ReadDoc, registry: NodeRegistry, options: AnalyseOptions = {}): { issues: Issue[]; graph?: CompiledGraph } {
  const issues: Issue[] = [];
  const compiled = new Map<string, ModedNode>();
  const muted = new Set<string>();
  // Node ids, input and output names are data: "constructor" or "toString" must not find Object's.
  const nodeOf = (id: string) => (Object.hasOwn(doc.nodes, id) ? doc.nodes[id] : undefined);

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
      if (!Object.hasOwn(def.inputs, name) && !lenient) {
        const known = Object.keys(def.inputs).join(", ") || "none";
        issues.push({ nodeId: id, input: name, code: "unknown_input", message: `${def.type} has no input ${quote(name)} (inputs: ${known})` });
      }
    }
    for (const [name, inputDef] of Object.entries(def.inputs)) {
      const raw = Object.hasOwn(node.inputs, name) ? node.inputs[name] : undefined;
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
        const source = nodeOf(link.from);
        if (doc.unreadable.has(link.from)) continue; // reported on that node
        if (!source) {
          issues.push({ nodeId: id, input: name, code: "missing_node", message: `links to node ${quote(link.from)}, which does not exist` });
          continue;
        }
        const sourceDef = registry.get(source.type);
        if (!sourceDef) continue; // reported on the source node
        const out = Object.hasOwn(sourceDef.outputs, link.output) ? sourceDef.outputs[link.output] : undefined;
        if (!out) {
          const known = Object.keys(sourceDef.outputs).join(", ") || "none";
          issues.push({
            nodeId: id,
            input: name,
            code: "missing_output",
            message: `${link.from} (${source.type}) has no output ${quote(link.output)} (outputs: ${known})`,
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
  const modes = applyModes(compiled, muted, (id) => registry.get(nodeOf(id)?.type ?? ""), sorted);
  issues.push(...modes.issues);
  // Limits only the linked nodes know (a model's max_length), checked on what would really run.
  const known = new Set(issues.filter((i) => i.input !== null).map((i) => `${i.nodeId}.${i.input}`));
  issues.push(...inspectGraph(modes.active, sorted, options.files, options.limits).filter((i) => !known.has(`${i.nodeId}.${i.input}`)));
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

  // Only nodes that feed an output node run; depth-first from the outputs gives a topological order
  // (with an explicit stack: a long chain must not overflow the call stack).
  const order: CompiledNode[] = [];
  const seen = new Set<string>();
  for (const root of outputs) {
    if (seen.has(root)) continue;
    seen.add(root);
    const work: { node: CompiledNode; next: string[] }[] = [];
    const push = (node: CompiledNode) => work.push({ node, next: Object.values(node.inputs).filter(isLink).map((l) => l.from).reverse() });
    push(modes.active.get(root)!);
    while (work.length > 0) {
      const frame = work[work.length - 1];
      const from = frame.next.pop();
      if (from === undefined) {
        order.push(frame.node);
        work.pop();
      } else if (!seen.has(from)) {
        seen.add(from);
        push(modes.active.get(from)!);
      }
    }
  }
  return { issues, graph: { order, outputs, skipped: modes.skipped } };
}

/**
 * Every node id after the nodes it links from (the graph has no cycles by now). Iterative, like the
 * run order above: a long chain must not overflow the call stack.
 */
function sourcesFirst(doc: ReadDoc): string[] {
  const order: string[] = [];
  const seen = new Set<string>();
  const sources = (id: string): string[] =>
    Object.values(doc.nodes[id].inputs)
      .filter(isLink)
      .map((l) => l.from)
      .filter((from) => Object.hasOwn(doc.nodes, from))
      .reverse();
  for (const root of Object.keys(doc.nodes)) {
    if (seen.has(root)) continue;
    seen.add(root);
    const work: { id: string; next: string[] }[] = [{ id: root, next: sources(root) }];
    while (work.length > 0) {
      const frame = work[work.length - 1];
      const from = frame.next.pop();
      if (from === undefined) {
        order.push(frame.id);
        work.pop();
      } else if (!seen.has(from)) {
        seen.add(from);
        work.push({ id: from, next: sources(from) });
      }
    }
  }
  return order;
}

/** Node ids shown for one cycle; the rest are counted. */
const CYCLE_SHOWN = 8;

/**
 * Each cycle reported once, as its strongly connected component (Tarjan's algorithm, iterative:
 * a 20k-node chain must not overflow the stack): the nodes in it, the first few named and the rest
 * counted, on its first node. Listing every elementary cycle with its path grows exponentially
 * with the graph (a 553 KB graph once gave 112 MB of issues).
 */
function findCycles(doc: ReadDoc): Issue[] {
  const ids = Object.keys(doc.nodes);
  const index = new Map<string, number>();
  const successors = (id: string): string[] => {
    const out: string[] = [];
    for (const raw of Object.values(doc.nodes[id].inputs)) {
      if (isLink(raw) && Object.hasOwn(doc.nodes, raw.from)) out.push(raw.from);
    }
    return out;
  };
  const low = new Map<string, number>();
  const onStack = new Set<string>();
  const stack: string[] = [];
  const issues: Issue[] = [];
  let counter = 0;
  for (const start of ids) {
    if (index.has(start)) continue;
    const work: { id: string; next: string[]; at: number }[] = [];
    const enter = (id: string): void => {
      index.set(id, counter);
      low.set(id, counter++);
      stack.push(id);
      onStack.add(id);
      work.push({ id, next: successors(id), at: 0 });
    };
    enter(start);
    while (work.length > 0) {
      const frame = work[work.length - 1];
      if (frame.at < frame.next.length) {
        const to = frame.next[frame.at++];
        if (!index.has(to)) enter(to);
        else if (onStack.has(to)) low.set(frame.id, Math.min(low.get(frame.id)!, index.get(to)!));
        continue;
      }
      work.pop();
      if (work.length > 0) {
        const parent = work[work.length - 1].id;
        low.set(parent, Math.min(low.get(parent)!, low.get(frame.id)!));
      }
      if (low.get(frame.id) !== index.get(frame.id)) continue;
      const component: string[] = [];
      let member: string;
      do {
        member = stack.pop()!;
        onStack.delete(member);
        component.push(member);
      } while (member !== frame.id);
      const selfLoop = component.length === 1 && successors(component[0]).includes(component[0]);
      if (component.length > 1 || selfLoop) issues.push(cycleIssue(doc, component.reverse()));
    }
  }
  return issues;
}

/**
 * One issue per loop: the shortest cycle through its first node, printed as "a -> c -> b -> a
 * (via b.text)" (a reads from c, ..., b's input text reads from a), cut after a few nodes, and how
 * many nodes the whole tangle has when it is more than that one cycle.
 */
function cycleIssue(doc: ReadDoc, component: string[]): Issue {
  const inComponent = new Set(component);
  const start = component[0];
  // Breadth-first from start along "reads from" edges inside the component, back to start.
  const parent = new Map<string, { from: string; input: string }>();
  const queue = [start];
  let closing: { from: string; input: string } | null = null;
  for (let i = 0; i < queue.length && !closing; i++) {
    const id = queue[i];
    for (const [input, raw] of Object.entries(doc.nodes[id].inputs)) {
      if (!isLink(raw) || !inComponent.has(raw.from)) continue;
      if (raw.from === start) {
        closing = { from: id, input };
        break;
      }
      if (!parent.has(raw.from)) {
        parent.set(raw.from, { from: id, input });
        queue.push(raw.from);
      }
    }
  }
  const path = [start];
  if (closing) {
    const back: string[] = [];
    for (let at = closing.from; at !== start; at = parent.get(at)!.from) back.push(at);
    path.push(...back.reverse(), start);
  }
  const name = (id: string) => (id.length > 60 ? id.slice(0, 60) + "…" : id);
  const shown = path.length > CYCLE_SHOWN ? [...path.slice(0, CYCLE_SHOWN - 1).map(name), `… (${path.length - CYCLE_SHOWN + 1} more)`, name(start)] : path.map(name);
  const via = closing ? ` (via ${name(closing.from)}.${closing.input.slice(0, 60)})` : "";
  const tangle = component.length > path.length - 1 ? `; ${component.length} nodes are in this loop` : "";
  return { nodeId: start, input: null, code: "cycle", message: `cycle: ${shown.join(" -> ")}${via}${tangle}` };
}

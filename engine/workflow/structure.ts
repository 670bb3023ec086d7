// Reads a workflow document's shape (the top-level fields, each node's type, title, inputs and
// ui) without stopping at the first fault: every fault becomes an Issue in plain words, and what
// can still be read is kept, so the graph check can run on the rest in the same pass (a bad node
// must not hide an unknown type or a missing input elsewhere). Input values are judged later,
// by the graph check, which knows what each input expects.
import type { NodeMode } from "../types.js";
import { describeValue } from "./describe.js";
import type { Issue } from "./issues.js";
import { migrate } from "./migrate.js";
import { WORKFLOW_VERSION } from "./schema.js";

/** A node as far as it could be read. */
export interface ReadNode {
  type: string;
  inputs: Record<string, unknown>;
  mode?: NodeMode;
}

export interface ReadDoc {
  /** Nodes whose type could be read. */
  nodes: Record<string, ReadNode>;
  /** Nodes that exist but whose type could not be read: links to them are not faults of their own. */
  unreadable: Set<string>;
  /** Nodes whose `inputs` is not an object: their inputs are not reported missing one by one. */
  noInputs: Set<string>;
}

export type StructureResult = { ok: true; doc: ReadDoc; issues: Issue[] } | { ok: false; issues: Issue[] };

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v);
const TOP_FIELDS = ["$schema", "version", "name", "description", "nodes", "ui"];
const NODE_FIELDS = ["type", "title", "mode", "inputs", "ui"];
const MODES: readonly string[] = ["bypass", "mute"] satisfies NodeMode[];
const NODE_ID = /^[A-Za-z0-9_.-]+$/;

const fieldList = (fields: string[]) => fields.map((f) => `"${f}"`).join(", ");

function checkVersion(raw: Record<string, unknown>, issues: Issue[]): boolean {
  const version = raw.version;
  const issue = (message: string) => issues.push({ nodeId: null, input: null, code: "version", message });
  if (version === undefined) issue(`version is missing: add "version": ${WORKFLOW_VERSION}`);
  else if (typeof version !== "number" || !Number.isInteger(version) || version < 1) issue(`version: expected ${WORKFLOW_VERSION}, got ${describeValue(version)}`);
  else if (version > WORKFLOW_VERSION) {
    issue(`workflow version ${version} is newer than this Maskflow understands (${WORKFLOW_VERSION}); upgrade Maskflow`);
    return false; // a newer format may mean anything: do not guess at the rest
  }
  return true;
}

function checkUi(id: string, ui: unknown, issues: Issue[]): void {
  const issue = (message: string): void => void issues.push({ nodeId: id, input: null, code: "schema", message });
  if (!isObject(ui)) return issue(`ui: expected {x, y} (the node's position), got ${describeValue(ui)}`);
  for (const key of ["x", "y"]) {
    if (typeof ui[key] !== "number") issue(`ui.${key}: expected a number, got ${ui[key] === undefined ? "nothing" : describeValue(ui[key])}`);
  }
  if (ui.width !== undefined && typeof ui.width !== "number") issue(`ui.width: expected a number, got ${describeValue(ui.width)}`);
  if (ui.collapsed !== undefined && typeof ui.collapsed !== "boolean") issue(`ui.collapsed: expected true or false, got ${describeValue(ui.collapsed)}`);
}

function readNode(id: string, raw: unknown, doc: ReadDoc, issues: Issue[]): void {
  const issue = (message: string, input: string | null = null): void => void issues.push({ nodeId: id, input, code: "schema", message });
  if (!NODE_ID.test(id)) issue(`node id "${id}" may use only letters, digits, _ . and -`);
  if (!isObject(raw)) {
    doc.unreadable.add(id);
    return issue(`expected a node {type, inputs}, got ${describeValue(raw)}`);
  }
  for (const key of Object.keys(raw)) {
    if (!NODE_FIELDS.includes(key)) issue(`unknown field "${key}" (a node has ${fieldList(NODE_FIELDS)})`);
  }
  if (raw.title !== undefined && typeof raw.title !== "string") issue(`title: expected a string, got ${describeValue(raw.title)}`);
  if (raw.ui !== undefined) checkUi(id, raw.ui, issues);
  const mode = typeof raw.mode === "string" && MODES.includes(raw.mode) ? (raw.mode as NodeMode) : undefined;
  if (raw.mode !== undefined && mode === undefined) issue(`mode: expected "bypass" or "mute", got ${describeValue(raw.mode)}`);
  let inputs: Record<string, unknown> = {};
  if (isObject(raw.inputs)) inputs = raw.inputs;
  else if (raw.inputs !== undefined) {
    issue(`inputs: expected an object of input name -> value or link, got ${describeValue(raw.inputs)}`);
    doc.noInputs.add(id);
  }
  if (typeof raw.type !== "string" || raw.type === "") {
    doc.unreadable.add(id);
    return issue(raw.type === undefined ? "type is missing: say which node type this is" : `type: expected a node type name, got ${describeValue(raw.type)}`);
  }
  doc.nodes[id] = { type: raw.type, inputs, ...(mode ? { mode } : {}) };
}

/** Every fault in the document's shape, and the nodes that could be read. */
export function readStructure(json: unknown): StructureResult {
  if (!isObject(json)) {
    return { ok: false, issues: [{ nodeId: null, input: null, code: "schema", message: `a workflow is a JSON object, got ${describeValue(json)}` }] };
  }
  const issues: Issue[] = [];
  if (!checkVersion(json, issues)) return { ok: false, issues };
  const raw = migrate(json);
  const top = (message: string) => issues.push({ nodeId: null, input: null, code: "schema", message });
  for (const key of Object.keys(raw)) {
    if (!TOP_FIELDS.includes(key)) top(`unknown field "${key}" (a workflow has ${fieldList(TOP_FIELDS)})`);
  }
  for (const key of ["$schema", "name", "description"]) {
    if (raw[key] !== undefined && typeof raw[key] !== "string") top(`${key}: expected a string, got ${describeValue(raw[key])}`);
  }
  if (raw.ui !== undefined && !isObject(raw.ui)) top(`ui: expected an object, got ${describeValue(raw.ui)}`);
  const doc: ReadDoc = { nodes: {}, unreadable: new Set(), noInputs: new Set() };
  if (!isObject(raw.nodes)) {
    top(raw.nodes === undefined ? 'nodes is missing: a workflow has "nodes": { "<id>": { "type": ..., "inputs": {...} } }' : `nodes: expected an object of node id -> node, got ${describeValue(raw.nodes)}`);
  } else {
    for (const [id, node] of Object.entries(raw.nodes)) readNode(id, node, doc, issues);
  }
  return { ok: true, doc, issues };
}

// Fuzzed workflow files: the examples mutated (values of every JSON type, links to missing or
// prototype-named nodes, cycles, renamed and deleted nodes, nested `ui`), random graphs over
// every node type, and structural junk (not JSON, not an object, too many nodes, names too long,
// numbers that parse to Infinity). Each case is the file's text plus overrides for the API.
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { NodeRegistry } from "../../engine/index.js";
import { builtinNodes } from "../../nodes/index.js";

/** Every built-in node type (the CLI adds node packages; these tests need none). */
const createDefaultRegistry = (): NodeRegistry => new NodeRegistry(builtinNodes);
import type { Random } from "./random.js";

export interface WorkflowCase {
  name: string;
  /** The file's (or the request's workflow's) JSON text; may be invalid. */
  text: string;
  /** `{"node.input": value}` for the API and `--set`. */
  overrides: Record<string, unknown>;
}

const PROTO = ["constructor", "toString", "__proto__", "hasOwnProperty", "valueOf", "prototype", "isPrototypeOf"];
const catalog = createDefaultRegistry().catalog();
const TYPES = catalog.map((d) => d.type);

function examples(root: string): Record<string, unknown>[] {
  const dir = join(root, "workflows");
  return readdirSync(dir)
    .filter((f) => f.endsWith(".maskflow.json"))
    .sort()
    .map((f) => JSON.parse(readFileSync(join(dir, f), "utf8")) as Record<string, unknown>);
}

/** A value of some JSON type: mostly small and plausible, sometimes hostile. */
function value(rng: Random, paths: string[]): unknown {
  switch (rng.int(0, 11)) {
    case 0:
      return rng.pick([0, 1, 2, 3, 4, 8, 16, -1, 0.5, 1e9, -1e300, 2 ** 53, 4097]);
    case 1:
      return rng.text(20);
    case 2:
      return rng.pick([true, false, null]);
    case 3:
      return [rng.int(0, 5), rng.text(3)];
    case 4:
      return { from: rng.pick([...PROTO, "model", "prompt", "nope", ""]), output: rng.pick(["text", "model", "canvas", "toString", "__proto__", ""]) };
    case 5:
      return rng.pick(paths);
    case 6:
      return rng.pick(["linear", "cosine", "list", "threshold", "low_confidence", "random", "cpu", "cuda", "webgpu", "prefix", "dual", "8,4,2,1"]);
    case 7:
      return "[MASK:3] and [MASK] then [MASK:9999]";
    case 8:
      return { nested: { deeper: [[[rng.text(4)]]] } };
    case 9:
      return rng.int(0, 64);
    case 10:
      return "x".repeat(rng.pick([0, 1, 1000, 100_000]));
    default:
      return rng.pick(["He looked at the door and", "", " ", "\u0000", "The jury said"]);
  }
}

function link(rng: Random, ids: string[]): unknown {
  const from = rng.chance(0.8) && ids.length ? rng.pick(ids) : rng.pick([...PROTO, "missing"]);
  return { from, output: rng.pick(["text", "model", "canvas", "schedule", "canvases", "best", "score", "nope"]) };
}

function mutate(rng: Random, doc: Record<string, any>, paths: string[]): void {
  const nodes = doc.nodes as Record<string, any>;
  const ids = () => Object.keys(nodes);
  for (let m = rng.int(1, 4); m > 0; m--) {
    const id = rng.pick(ids());
    if (id === undefined) return;
    const node = nodes[id];
    const def = catalog.find((d) => d.type === node.type);
    const inputNames = def ? Object.keys(def.inputs) : Object.keys(node.inputs ?? {});
    switch (rng.int(0, 9)) {
      case 0:
      case 1:
      case 2: {
        const name = rng.chance(0.9) ? rng.pick(inputNames) : rng.pick([...PROTO, rng.text(6)]);
        if (name !== undefined) Object.defineProperty((node.inputs ??= {}), name, { value: rng.chance(0.3) ? link(rng, ids()) : value(rng, paths), enumerable: true, writable: true, configurable: true });
        break;
      }
      case 3:
        delete nodes[id];
        break;
      case 4: {
        const to = rng.pick([...PROTO, rng.text(8), `${id}2`]);
        Object.defineProperty(nodes, to, { value: node, enumerable: true, writable: true, configurable: true });
        delete nodes[id];
        break;
      }
      case 5:
        node.type = rng.chance(0.7) ? rng.pick(TYPES) : rng.pick(["Nope", "", "constructor", "__proto__"]);
        break;
      case 6: {
        // a cycle: some socket input of this node reads a node that (perhaps) reads it
        const socketInput = def && Object.entries(def.inputs).find(([, d]) => d.socket);
        if (socketInput) node.inputs[socketInput[0]] = link(rng, ids());
        break;
      }
      case 7: {
        let deep: unknown = "x";
        for (let d = rng.int(1, 80); d > 0; d--) deep = { d: deep };
        node.ui = { x: 1, y: 2, extra: deep };
        break;
      }
      case 8:
        doc[rng.pick(["version", "name", "extra", "ui"])] = value(rng, paths);
        break;
      default:
        if (node.inputs) delete node.inputs[rng.pick(Object.keys(node.inputs)) ?? ""];
    }
  }
}

function randomGraph(rng: Random, paths: string[]): Record<string, unknown> {
  const n = rng.int(1, 30);
  const ids = Array.from({ length: n }, (_, i) => (rng.chance(0.1) ? rng.pick(PROTO) : `n${i}`));
  const nodes: Record<string, unknown> = {};
  for (const id of ids) {
    const def = rng.pick(catalog);
    const inputs: Record<string, unknown> = {};
    for (const [name, d] of Object.entries(def.inputs)) {
      if (rng.chance(0.3)) continue;
      inputs[name] = d.socket && rng.chance(0.7) ? link(rng, ids) : value(rng, paths);
    }
    Object.defineProperty(nodes, id, { value: { type: def.type, inputs }, enumerable: true, writable: true, configurable: true });
  }
  return { version: 1, nodes };
}

/** Raw text the schema or the parser must refuse. */
function junk(rng: Random): string {
  switch (rng.int(0, 9)) {
    case 0:
      return rng.pick(["[]", "42", '"workflow"', "null", "true", "{}"]);
    case 1:
      return '{"version": 1, "nodes": {"a": {"type": "Text", "inputs": {"value": "unterminated';
    case 2:
      return `{"version": 1, "nodes": {"t": {"type": "Text", "inputs": {"value": ${"[".repeat(200)}1${"]".repeat(200)}}}}}`;
    case 3:
      return '{"version": 1, "nodes": [1, 2, 3]}';
    case 4: {
      const many: Record<string, unknown> = {};
      for (let i = 0; i < 1001; i++) many[`t${i}`] = { type: "Text", inputs: {} };
      return JSON.stringify({ version: 1, nodes: many });
    }
    case 5:
      return JSON.stringify({ version: 1, nodes: { ["x".repeat(500)]: { type: "ShowText", inputs: { value: { from: "y".repeat(300), output: "text" } } } } });
    case 6:
      return '{"version": 1, "nodes": {"__proto__": {"type": "ShowText", "inputs": {"value": "x"}}, "s": {"type": "Text", "inputs": {"__proto__": {"from": "s", "output": "text"}}}}}';
    case 7:
      return '{"version": 1, "nodes": {"m": {"type": "MaskSchedule", "inputs": {"steps": 1e999, "threshold": -1e999}}, "s": {"type": "ShowText", "inputs": {"value": "x"}}}}';
    case 8:
      return JSON.stringify({ version: 2, nodes: {} });
    default:
      return "\u0000\u0001 not json at all";
  }
}

function overridesFor(rng: Random, text: string, paths: string[]): Record<string, unknown> {
  if (!rng.chance(0.3)) return {};
  let ids: string[] = [];
  try {
    ids = Object.keys((JSON.parse(text) as { nodes?: object }).nodes ?? {});
  } catch {
    // junk: overrides name what they like
  }
  const out: Record<string, unknown> = {};
  for (let k = rng.int(1, 3); k > 0; k--) {
    const node = rng.chance(0.7) && ids.length ? rng.pick(ids) : rng.pick([...PROTO, "nope", ""]);
    const input = rng.pick(["value", "text", "steps", "path", "seed", "gen_length", "strength", ...PROTO, ""]);
    Object.defineProperty(out, rng.chance(0.1) ? node : `${node}.${input}`, { value: value(rng, paths), enumerable: true, writable: true, configurable: true });
  }
  return out;
}

/**
 * `count` workflow cases. `paths` are what path inputs get: the fuzzed model and adapter folders,
 * the bundled ones, and paths outside every root.
 */
export function generateWorkflows(rng: Random, count: number, root: string, paths: string[]): WorkflowCase[] {
  const base = examples(root);
  const cases: WorkflowCase[] = [];
  for (let i = 0; i < count; i++) {
    const kind = rng.next();
    let text: string;
    if (kind < 0.5) {
      const doc = structuredClone(rng.pick(base)) as Record<string, any>;
      mutate(rng, doc, paths);
      text = JSON.stringify(doc);
    } else if (kind < 0.8) {
      text = JSON.stringify(randomGraph(rng, paths));
    } else {
      text = junk(rng);
    }
    // Now and then a number becomes one that JSON.parse reads as Infinity.
    if (rng.chance(0.05)) text = text.replace(/:(\d+)([,}])/, ":1e999$2");
    cases.push({ name: `wf-${String(i).padStart(4, "0")}`, text, overrides: overridesFor(rng, text, paths) });
  }
  return cases;
}

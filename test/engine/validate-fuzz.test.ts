// Fault injection: random workflows with N independent faults (each on its own node, or at the
// top level) must get exactly N reports, each naming the node and input of its fault: faults in
// the file's shape no longer hide faults in the graph, and no fault is reported twice.
import { describe, expect, it } from "vitest";
import { checkWorkflow, formatIssue, type Issue } from "../../engine/index.js";
import { testRegistry } from "./helpers.js";

const { registry } = testRegistry();

/** mulberry32: a small seeded generator, so a failing case can be replayed from its seed. */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

type Json = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any
type Expected = [string | null, string | null, Issue["code"]];
/** A fault: changes one slot of the document and says what must be reported. */
type Fault = (doc: Json, id: string) => Expected;

const link = (from: string, output = "text") => ({ from, output });

/** t0 feeds every consumer and is never touched, so a fault never hides another downstream. */
function baseDoc(): Json {
  const nodes: Json = { t0: { type: "Text", inputs: { value: "kept" } } };
  for (let i = 1; i <= 6; i++) nodes[`src${i}`] = { type: "Text", inputs: { value: "x" }, ui: { x: 0, y: i * 100 } };
  for (let i = 1; i <= 6; i++) nodes[`up${i}`] = { type: "Upper", inputs: { text: link("t0") } };
  for (let i = 1; i <= 4; i++) nodes[`slow${i}`] = { type: "Slow", inputs: { text: link("t0"), steps: 5 } };
  nodes.show = { type: "ShowText", inputs: { value: link("t0") } };
  return { version: 1, name: "fuzz", nodes };
}

const anyNode: Record<string, Fault> = {
  unknownType: (d, id) => ((d.nodes[id].type = "Nope"), [id, null, "unknown_type"]),
  notAnObject: (d, id) => ((d.nodes[id] = 42), [id, null, "schema"]),
  noType: (d, id) => (delete d.nodes[id].type, [id, null, "schema"]),
  extraField: (d, id) => ((d.nodes[id].colour = "red"), [id, null, "schema"]),
  badUi: (d, id) => ((d.nodes[id].ui = { x: "left", y: 0 }), [id, null, "schema"]),
  unknownInput: (d, id) => ((d.nodes[id].inputs.colour = "red"), [id, "colour", "unknown_input"]),
  inputsNotAnObject: (d, id) => ((d.nodes[id].inputs = ["x"]), [id, null, "schema"]),
};
const textNode: Record<string, Fault> = {
  objectValue: (d, id) => ((d.nodes[id].inputs.value = { nonsense: 1 }), [id, "value", "wrong_type"]),
  numberValue: (d, id) => ((d.nodes[id].inputs.value = 42), [id, "value", "wrong_type"]),
  listValue: (d, id) => ((d.nodes[id].inputs.value = ["a"]), [id, "value", "wrong_type"]),
};
const upperNode: Record<string, Fault> = {
  missingInput: (d, id) => (delete d.nodes[id].inputs.text, [id, "text", "missing_input"]),
  halfLink: (d, id) => ((d.nodes[id].inputs.text = { from: "t0" }), [id, "text", "wrong_type"]),
  linkWithExtra: (d, id) => ((d.nodes[id].inputs.text = { ...link("t0"), colour: 1 }), [id, "text", "wrong_type"]),
  emptyFrom: (d, id) => ((d.nodes[id].inputs.text = link("")), [id, "text", "wrong_type"]),
  ghostNode: (d, id) => ((d.nodes[id].inputs.text = link("ghost")), [id, "text", "missing_node"]),
  ghostOutput: (d, id) => ((d.nodes[id].inputs.text = link("t0", "nothing")), [id, "text", "missing_output"]),
  constantForLink: (d, id) => ((d.nodes[id].inputs.text = "a constant"), [id, "text", "wrong_type"]),
  objectForLink: (d, id) => ((d.nodes[id].inputs.text = { nonsense: true }), [id, "text", "wrong_type"]),
};
const slowNode: Record<string, Fault> = {
  outOfRange: (d, id) => ((d.nodes[id].inputs.steps = 5000), [id, "steps", "out_of_range"]),
  fractional: (d, id) => ((d.nodes[id].inputs.steps = 2.5), [id, "steps", "wrong_type"]),
  word: (d, id) => ((d.nodes[id].inputs.steps = "many"), [id, "steps", "wrong_type"]),
};
const topLevel: Record<string, Fault> = {
  extraField: (d) => ((d.colour = "red"), [null, null, "schema"]),
  badName: (d) => ((d.name = 42), [null, null, "schema"]),
};

/** Every (slot, fault) pair; a slot takes at most one fault, so the faults stay independent. */
function candidates(): { slot: string; name: string; fault: Fault }[] {
  const out: { slot: string; name: string; fault: Fault }[] = [];
  const add = (slots: string[], faults: Record<string, Fault>) => {
    for (const slot of slots) for (const [name, fault] of Object.entries(faults)) out.push({ slot, name, fault });
  };
  const ids = (prefix: string, n: number) => Array.from({ length: n }, (_, i) => `${prefix}${i + 1}`);
  add([...ids("src", 6), ...ids("up", 6), ...ids("slow", 4)], anyNode);
  add(ids("src", 6), textNode);
  add(ids("up", 6), upperNode);
  add(ids("slow", 4), slowNode);
  for (const [name, fault] of Object.entries(topLevel)) out.push({ slot: `top:${name}`, name, fault });
  return out;
}

const key = (e: Expected) => JSON.stringify(e);

describe("validation reports every fault once", () => {
  it("the base workflow is valid", () => {
    expect(checkWorkflow(baseDoc(), registry).issues).toEqual([]);
  });

  it("N independent faults give N reports, each with its node, input and a plain reason", () => {
    const all = candidates();
    for (let seed = 1; seed <= 400; seed++) {
      const random = rng(seed);
      const n = 1 + Math.floor(random() * 12);
      const doc = baseDoc();
      const used = new Set<string>();
      const expected: Expected[] = [];
      const applied: string[] = [];
      while (expected.length < n) {
        const pick = all[Math.floor(random() * all.length)];
        if (used.has(pick.slot)) continue;
        used.add(pick.slot);
        expected.push(pick.fault(doc, pick.slot));
        applied.push(`${pick.slot}:${pick.name}`);
      }
      const issues = checkWorkflow(doc, registry).issues;
      const got = issues.map((i): Expected => [i.nodeId, i.input, i.code]);
      const context = `seed ${seed}: ${applied.join(", ")}\n${issues.map(formatIssue).join("\n")}`;
      expect(got.map(key).sort(), context).toEqual(expected.map(key).sort());
      for (const issue of issues) expect(issue.message, context).not.toMatch(/Invalid input|^\s*$/);
    }
  });
});

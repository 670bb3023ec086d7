// What one input's value in a workflow file is: a link, a constant, or neither (an object that is
// not a well-formed link), with the reason in words that say what the input expected.
import type { InputDef } from "../types.js";
import { describeValue } from "./describe.js";
import type { Link } from "./schema.js";

export type InputValue = { kind: "link"; link: Link } | { kind: "constant"; value: unknown } | { kind: "bad"; message: string };

const LINK = "a link {from, output}";

function socketsOf(def: InputDef): string[] {
  return def.socket === undefined ? [] : [def.socket].flat();
}

function kindPhrase(def: InputDef): string {
  if (def.options?.length) return `one of ${def.options.map((o) => `"${o}"`).join(", ")}`;
  switch (def.kind) {
    case "string":
      return "a string";
    case "number":
      return "a number";
    case "integer":
      return "a whole number";
    case "boolean":
      return "true or false";
    default:
      return "a value";
  }
}

/** What an input accepts, as a phrase: "a string or a link {from, output}". Unknown input or node: anything. */
export function expectedPhrase(def: InputDef | undefined): string {
  if (!def) return `a value or ${LINK}`;
  const sockets = socketsOf(def);
  if (def.kind === undefined) return sockets.includes("*") ? `${LINK} to any output` : `${LINK} to a ${sockets.join(" or ")} output`;
  return sockets.length ? `${kindPhrase(def)} or ${LINK}` : kindPhrase(def);
}

/** Why a link-shaped object (it has from or output) is not a link; null when it is one. */
function linkProblem(o: Record<string, unknown>): string | null {
  for (const key of ["from", "output"]) {
    if (o[key] === undefined) return `${key} is missing`;
    if (typeof o[key] !== "string") return `${key} should be a ${key === "from" ? "node id" : "output name"} (a string), got ${describeValue(o[key])}`;
    if (o[key] === "") return `${key} is an empty string`;
  }
  const extra = Object.keys(o).filter((k) => k !== "from" && k !== "output");
  return extra.length ? `${extra.map((k) => `"${k}"`).join(", ")} ${extra.length > 1 ? "are" : "is"} not part of a link` : null;
}

/** Classifies a raw input value; `def` (when the node type and input are known) words the reason. */
export function classifyInput(raw: unknown, def: InputDef | undefined): InputValue {
  if (typeof raw !== "object" || raw === null || Array.isArray(raw)) return { kind: "constant", value: raw };
  const o = raw as Record<string, unknown>;
  if ("from" in o || "output" in o) {
    const problem = linkProblem(o);
    if (problem === null) return { kind: "link", link: { from: o.from as string, output: o.output as string } };
    return { kind: "bad", message: `a link is {from: <node id>, output: <output name>}, but here ${problem}` };
  }
  return { kind: "bad", message: `expected ${expectedPhrase(def)}, got ${describeValue(raw)}` };
}

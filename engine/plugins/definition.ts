// Checks that a value a node package exports is a node definition the engine and the editor can
// use (engine/types.ts, NodeDefinition), and says in plain words what is wrong when it is not.
// Built-in nodes are checked by the type checker; a package's JavaScript is checked here, at load.
import { ANY_SOCKET, SOCKET_TYPES, type NodeDefinition } from "../types.js";

const WIDGETS = ["number", "slider", "select", "toggle", "text", "textarea", "file", "seed"];
const KINDS = ["string", "number", "integer", "boolean"];
/** Type names become workflow `type` fields and CSS/test attributes: keep them plain. */
const TYPE_NAME = /^[A-Za-z][A-Za-z0-9_.-]*$/;

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v);
const quoteAll = (names: readonly string[]) => names.map((n) => `"${n}"`).join(", ");

/** An input's socket may be a type, a list of types or "*" (any); an output's is one type. */
function socketProblems(where: string, socket: unknown, isInput: boolean): string[] {
  const known = SOCKET_TYPES as readonly string[];
  if (isInput && socket === ANY_SOCKET) return [];
  const list = Array.isArray(socket) && isInput ? socket : [socket];
  if (list.length === 0) return [`${where}: an empty list of socket types`];
  return list.filter((s) => typeof s !== "string" || !known.includes(s)).map((s) => `${where}: unknown socket type ${JSON.stringify(s)} (known: ${known.join(", ")})`);
}

function inputProblems(name: string, input: unknown): string[] {
  const where = `input "${name}"`;
  if (!isObject(input)) return [`${where} is not an object like { kind: "string" } or { socket: "TEXT" }`];
  const out: string[] = [];
  if (input.socket === undefined && input.kind === undefined) out.push(`${where} has neither a socket (a link) nor a kind (a constant)`);
  if (input.socket !== undefined) out.push(...socketProblems(`${where}.socket`, input.socket, true));
  if (input.kind !== undefined && !KINDS.includes(input.kind as string)) out.push(`${where}.kind: ${JSON.stringify(input.kind)} is not one of ${quoteAll(KINDS)}`);
  if (input.widget !== undefined && !WIDGETS.includes(input.widget as string)) out.push(`${where}.widget: ${JSON.stringify(input.widget)} is not one of ${quoteAll(WIDGETS)}`);
  for (const key of ["min", "max", "step"]) {
    if (input[key] !== undefined && typeof input[key] !== "number") out.push(`${where}.${key} is not a number`);
  }
  if (input.options !== undefined && (!Array.isArray(input.options) || input.options.some((o) => typeof o !== "string"))) out.push(`${where}.options is not a list of strings`);
  for (const key of ["optional", "file", "advanced"]) {
    if (input[key] !== undefined && typeof input[key] !== "boolean") out.push(`${where}.${key} is not true or false`);
  }
  return out;
}

/** Every problem with one exported definition; [] when it can be registered. */
export function definitionProblems(value: unknown): string[] {
  if (!isObject(value)) return ["is not a node definition (an object with type, version, title, category, description, inputs, outputs and execute)"];
  const out: string[] = [];
  if (typeof value.type !== "string" || !TYPE_NAME.test(value.type)) {
    out.push(`type ${JSON.stringify(value.type)} is not a name of letters, digits, _ . - starting with a letter`);
  }
  if (!Number.isInteger(value.version) || (value.version as number) < 1) out.push(`version ${JSON.stringify(value.version)} is not a whole number >= 1`);
  for (const key of ["title", "category", "description"]) {
    if (typeof value[key] !== "string") out.push(`${key} is missing or not a string`);
  }
  if (!isObject(value.inputs)) out.push("inputs is not an object of input name -> input");
  else for (const [name, input] of Object.entries(value.inputs)) out.push(...inputProblems(name, input));
  if (!isObject(value.outputs)) out.push("outputs is not an object of output name -> { socket }");
  else {
    for (const [name, output] of Object.entries(value.outputs)) {
      if (!isObject(output)) out.push(`output "${name}" is not an object like { socket: "TEXT" }`);
      else out.push(...socketProblems(`output "${name}".socket`, output.socket, false));
    }
  }
  if (typeof value.execute !== "function") out.push("execute is not a function");
  if (value.inspect !== undefined && typeof value.inspect !== "function") out.push("inspect is not a function");
  for (const key of ["output", "volatile"]) {
    if (value[key] !== undefined && typeof value[key] !== "boolean") out.push(`${key} is not true or false`);
  }
  return out;
}

/** Narrows after definitionProblems() found nothing. */
export function isNodeDefinition(value: unknown): value is NodeDefinition {
  return definitionProblems(value).length === 0;
}

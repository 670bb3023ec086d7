// Node packages written into a temporary folder for the plugin tests: one good, and one of each
// way a package can be broken (the list: a syntax error, a throw on import, an invalid
// definition, a type name already taken) plus one that exports nothing.
import { mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";

export const EXAMPLE = resolve(import.meta.dirname, "../../examples/nodes/text-tools");

const shout = (type: string) => `{
  type: "${type}", version: 1, title: "Shout", category: "text", description: "Upper-cases a text.",
  inputs: { text: { socket: "TEXT", kind: "string", default: "" } },
  outputs: { text: { socket: "TEXT" } },
  execute: ({ text }) => ({ text: String(text).toUpperCase() + "!" }),
}`;

function write(dir: string, files: Record<string, string>): string {
  mkdirSync(dir, { recursive: true });
  for (const [name, text] of Object.entries(files)) writeFileSync(join(dir, name), text);
  return dir;
}

export interface PackageSet {
  root: string;
  good: string;
  syntax: string;
  throws: string;
  invalid: string;
  taken: string;
  empty: string;
  /** Every broken one, in the order MASKFLOW_NODES would list them. */
  broken: string[];
}

export function writePackages(): PackageSet {
  const root = mkdtempSync(join(tmpdir(), "maskflow-packages-"));
  const pkg = (name: string) => JSON.stringify({ name, type: "module", maskflow: { nodes: "./index.js" } });
  const good = write(join(root, "good"), { "package.json": pkg("maskflow-nodes-shout"), "index.js": `export const nodes = [${shout("Shout")}];\n` });
  const syntax = write(join(root, "syntax"), { "package.json": pkg("maskflow-nodes-syntax"), "index.js": "export default [\n  { type: 'Oops' ,, }\n];\n" });
  const throws = write(join(root, "throws"), { "package.json": pkg("maskflow-nodes-throws"), "index.js": 'throw new Error("no GPU here");\n' });
  const invalid = write(join(root, "invalid"), {
    "package.json": pkg("maskflow-nodes-invalid"),
    "index.js": `export default { type: "Half", version: 0, title: "Half", category: "t", description: "", inputs: { x: { socket: "PICTURE" } }, outputs: {} };\n`,
  });
  const taken = write(join(root, "taken"), { "package.json": pkg("maskflow-nodes-taken"), "index.js": `export default [${shout("Shout2")}, ${shout("Text")}];\n` });
  const empty = write(join(root, "empty"), { "index.js": "export const helper = 1;\n" });
  return { root, good, syntax, throws, invalid, taken, empty, broken: [syntax, throws, invalid, taken, empty] };
}

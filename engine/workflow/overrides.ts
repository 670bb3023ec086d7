import type { Issue } from "./issues.js";
import type { WorkflowDoc } from "./schema.js";

/** `--set` overrides: `{"<nodeId>.<input>": value}`. Returns a new document; the original is untouched. */
export function applyOverrides(doc: WorkflowDoc, overrides: Record<string, unknown>): { doc: WorkflowDoc; issues: Issue[] } {
  const issues: Issue[] = [];
  const nodes = structuredClone(doc.nodes);
  for (const [key, value] of Object.entries(overrides)) {
    const dot = key.lastIndexOf(".");
    if (dot <= 0 || dot === key.length - 1) {
      issues.push({ nodeId: null, input: null, code: "bad_override", message: `"${key}" is not of the form <nodeId>.<input>` });
      continue;
    }
    const nodeId = key.slice(0, dot);
    const input = key.slice(dot + 1);
    const node = nodes[nodeId];
    if (!node) {
      issues.push({ nodeId, input, code: "bad_override", message: `cannot set ${key}: there is no node "${nodeId}"` });
      continue;
    }
    node.inputs[input] = value as never;
  }
  return { doc: { ...doc, nodes }, issues };
}

/** Parses one `--set <nodeId>.<input>=<value>`: the value is JSON when it parses, else a string. */
export function parseSetFlag(flag: string): [string, unknown] {
  const eq = flag.indexOf("=");
  if (eq <= 0) throw new Error(`--set expects <nodeId>.<input>=<value>, got "${flag}"`);
  const raw = flag.slice(eq + 1);
  let value: unknown = raw;
  try {
    value = JSON.parse(raw);
  } catch {
    // not JSON: a plain string
  }
  return [flag.slice(0, eq), value];
}

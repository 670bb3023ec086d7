import { DEFAULT_LIMITS, type Limits } from "../limits.js";
import type { Issue } from "./issues.js";
import type { WorkflowDoc } from "./schema.js";
import { checkOverridesShape } from "./shape.js";

/**
 * `--set` overrides: `{"<nodeId>.<input>": value}`. Returns a new document; the original is
 * untouched. Values are held to the same size limits as the workflow's own constants.
 */
export function applyOverrides(
  doc: WorkflowDoc,
  overrides: Record<string, unknown>,
  limits: Pick<Limits, "maxNodes" | "maxJsonDepth" | "maxValueBytes"> = DEFAULT_LIMITS,
): { doc: WorkflowDoc; issues: Issue[] } {
  const tooBig = checkOverridesShape(overrides, limits);
  if (tooBig.length) return { doc, issues: tooBig };
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
    // Own properties only: "constructor.x" or "toString.x" name nodes, never Object's members.
    const node = Object.hasOwn(nodes, nodeId) ? nodes[nodeId] : undefined;
    if (!node) {
      issues.push({ nodeId, input, code: "bad_override", message: `cannot set ${key.length > 80 ? key.slice(0, 80) + "…" : key}: there is no node "${nodeId.length > 60 ? nodeId.slice(0, 60) + "…" : nodeId}"` });
      continue;
    }
    if (input === "__proto__") {
      issues.push({ nodeId, input, code: "bad_override", message: `cannot set ${key}: "__proto__" cannot be an input name` });
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

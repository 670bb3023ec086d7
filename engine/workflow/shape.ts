// Checks the raw JSON of a workflow against the size limits before the schema sees it: how many
// nodes, how deep any value nests, how long any string is. The schema (zod), the compiler and
// JSON.stringify all recurse, so a 100k-deep constant or `ui` would otherwise end in a stack
// overflow ("internal error", or a stored run whose detail can never be sent); a 20k-node graph
// in a slow compile. One iterative walk, so the check itself cannot overflow.
import { limitHint, type Limits } from "../limits.js";
import type { Issue } from "./issues.js";

/** Longest node id or input name: they appear in every issue and event about the node. */
export const MAX_NAME_LENGTH = 200;

/** Names that an object literal cannot hold as data (zod drops them, and `obj[name]` reads the prototype). */
const RESERVED_NAMES = new Set(["__proto__"]);

type ShapeLimits = Pick<Limits, "maxNodes" | "maxJsonDepth" | "maxValueBytes">;

function issue(message: string, nodeId: string | null = null, input: string | null = null): Issue {
  return { nodeId, input, code: "limit", message };
}

/** Problems with the raw document's size and names; [] when the schema may look at it. */
export function checkWorkflowShape(raw: Record<string, unknown>, limits: ShapeLimits): Issue[] {
  const issues: Issue[] = [];
  const nodes = raw.nodes;
  if (typeof nodes === "object" && nodes !== null && !Array.isArray(nodes)) {
    const ids = Object.keys(nodes);
    if (ids.length > limits.maxNodes) {
      return [issue(`the workflow has ${ids.length} nodes, more than ${limits.maxNodes} (${limitHint("maxNodes", limits)})`)];
    }
    for (const id of ids) {
      if (id.length > MAX_NAME_LENGTH) issues.push(issue(`a node id is ${id.length} characters long, more than ${MAX_NAME_LENGTH}`, id.slice(0, 40) + "…"));
      const inputs = (nodes as Record<string, { inputs?: unknown }>)[id]?.inputs;
      if (typeof inputs === "object" && inputs !== null && !Array.isArray(inputs)) {
        for (const name of Object.keys(inputs)) {
          if (name.length > MAX_NAME_LENGTH) issues.push(issue(`an input name is ${name.length} characters long, more than ${MAX_NAME_LENGTH}`, id, name.slice(0, 40) + "…"));
        }
      }
    }
  }
  issues.push(...checkNesting(raw, limits));
  return issues;
}

/**
 * Overrides (`--set`, the API's `overrides`) against the same limits: each value lands in a node's
 * inputs, and the run keeps it.
 */
export function checkOverridesShape(overrides: Record<string, unknown>, limits: ShapeLimits): Issue[] {
  const issues: Issue[] = [];
  for (const [key, value] of Object.entries(overrides)) {
    if (key.length > 2 * MAX_NAME_LENGTH + 1) {
      issues.push({ nodeId: null, input: null, code: "limit", message: `an override key is ${key.length} characters long, more than ${2 * MAX_NAME_LENGTH + 1}` });
      continue;
    }
    const dot = key.lastIndexOf(".");
    const found = checkNesting(value, limits, 1);
    for (const problem of found) issues.push({ ...problem, nodeId: dot > 0 ? key.slice(0, dot) : null, input: dot > 0 ? key.slice(dot + 1) : null });
  }
  return issues;
}

/** Depth and string length of every value, with the node (and input) where the first problem is. */
function checkNesting(raw: unknown, limits: ShapeLimits, startDepth = 0): Issue[] {
  const stack: { value: unknown; depth: number; path: string[] }[] = [{ value: raw, depth: startDepth, path: [] }];
  const issues: Issue[] = [];
  const where = (path: string[]) => ({ nodeId: path[0] === "nodes" ? (path[1] ?? null) : null, input: path[0] === "nodes" && path[2] === "inputs" ? (path[3] ?? null) : null });
  while (stack.length > 0 && issues.length < 10) {
    const { value, depth, path } = stack.pop()!;
    if (typeof value === "string") {
      if (value.length > limits.maxValueBytes) {
        const { nodeId, input } = where(path);
        issues.push(issue(`a text of ${value.length} characters, more than ${limits.maxValueBytes} (${limitHint("maxValueBytes", limits)})`, nodeId, input));
      }
      continue;
    }
    if (typeof value !== "object" || value === null) continue;
    if (depth >= limits.maxJsonDepth) {
      const { nodeId, input } = where(path);
      issues.push(issue(`a value nested more than ${limits.maxJsonDepth} levels deep (at ${path.slice(0, 6).join(".")}${path.length > 6 ? ".…" : ""}; ${limitHint("maxJsonDepth", limits)})`, nodeId, input));
      continue;
    }
    for (const [key, child] of Object.entries(value)) {
      if (RESERVED_NAMES.has(key)) {
        const { nodeId, input } = where(path);
        issues.push(issue(`"${key}" cannot be used as a name (at ${[...path, key].join(".")})`, nodeId, input));
        continue;
      }
      stack.push({ value: child, depth: depth + 1, path: path.length < 8 ? [...path, key] : path });
    }
  }
  return issues;
}

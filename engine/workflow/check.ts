// The whole check of a workflow document in one pass: its shape (structure.ts), `--set`-style
// overrides, and the graph (compile.ts), so a file with faults of every kind gets every one of
// them reported at once. The CLI's validate and run, and the API's validate and runs (which the
// editor's checks call) all use it.
import type { FileAccess } from "../files/access.js";
import { DEFAULT_LIMITS, type Limits } from "../limits.js";
import type { NodeRegistry } from "../registry.js";
import { analyse } from "./compile.js";
import type { Issue } from "./issues.js";
import { parseWorkflow, parseWorkflowInSteps } from "./load.js";
import { applyOverrides } from "./overrides.js";
import type { WorkflowDoc } from "./schema.js";
import { checkWorkflowShape } from "./shape.js";
import { readStructure, type ReadDoc } from "./structure.js";

export type CheckResult = { ok: true; doc: WorkflowDoc; issues: [] } | { ok: false; issues: Issue[] };

/** Applies overrides to what could be read: an override names a node and one of its inputs. */
function overridden(doc: ReadDoc, overrides: Record<string, unknown>, limits: Limits = DEFAULT_LIMITS): { doc: ReadDoc; issues: Issue[] } {
  const asDoc = { version: 1 as const, nodes: doc.nodes as WorkflowDoc["nodes"] };
  const unreadableOnly = Object.keys(overrides).filter((key) => doc.unreadable.has(key.slice(0, key.lastIndexOf("."))));
  const rest = Object.fromEntries(Object.entries(overrides).filter(([key]) => !unreadableOnly.includes(key)));
  const applied = applyOverrides(asDoc, rest, limits);
  return { doc: { ...doc, nodes: applied.doc.nodes }, issues: applied.issues };
}

/**
 * Workflow-level issues first, then each node's together in the file's order, then "no output
 * node", which is a conclusion about the whole graph (a stable sort).
 */
function byNode(issues: Issue[], json: unknown): Issue[] {
  const nodes = (json as { nodes?: unknown }).nodes;
  const order = new Map(Object.keys(typeof nodes === "object" && nodes !== null ? nodes : {}).map((id, i) => [id, i]));
  const rank = (issue: Issue) => (issue.code === "no_output_node" ? order.size + 1 : issue.nodeId === null ? -1 : (order.get(issue.nodeId) ?? order.size));
  return issues.map((issue, i) => ({ issue, i })).sort((a, b) => rank(a.issue) - rank(b.issue) || a.i - b.i).map((x) => x.issue);
}

/**
 * Every problem with a workflow document (any JSON value), or the document ready to run. The size
 * limits (nodes, nesting, text length) come first, on the raw JSON: an oversized document is not
 * read any further.
 */
export function checkWorkflow(
  json: unknown,
  registry: NodeRegistry,
  overrides: Record<string, unknown> = {},
  limits: Limits = DEFAULT_LIMITS,
  /** What nodes' static checks may read (compile.ts AnalyseOptions); default: any, as the CLI. */
  files?: FileAccess,
): CheckResult {
  if (typeof json === "object" && json !== null && !Array.isArray(json)) {
    const tooBig = checkWorkflowShape(json as Record<string, unknown>, limits);
    if (tooBig.length) return { ok: false, issues: tooBig };
  }
  const read = readStructure(json);
  if (!read.ok) return { ok: false, issues: read.issues };
  const { doc, issues: overrideIssues } = overridden(read.doc, overrides, limits);
  const issues = byNode([...read.issues, ...overrideIssues, ...analyse(doc, registry, { files, limits }).issues], json);
  if (issues.length) return { ok: false, issues };
  // Nothing found: the schema's own parse gives the typed document (and would catch anything the
  // structure reader missed).
  const parsed = parseWorkflow(json, limits);
  return parsed.ok ? { ok: true, doc: parsed.doc, issues: [] } : { ok: false, issues: parsed.errors };
}

/**
 * checkWorkflow for a server: `pause()` is awaited between its steps (and between slices of the
 * schema's parse), so other requests are answered while a big graph is checked.
 */
export async function checkWorkflowInSteps(
  json: unknown,
  registry: NodeRegistry,
  overrides: Record<string, unknown>,
  limits: Limits,
  pause: () => Promise<void>,
  files?: FileAccess,
): Promise<CheckResult> {
  if (typeof json === "object" && json !== null && !Array.isArray(json)) {
    const tooBig = checkWorkflowShape(json as Record<string, unknown>, limits);
    if (tooBig.length) return { ok: false, issues: tooBig };
  }
  await pause();
  const read = readStructure(json);
  if (!read.ok) return { ok: false, issues: read.issues };
  await pause();
  const { doc, issues: overrideIssues } = overridden(read.doc, overrides, limits);
  await pause();
  const issues = byNode([...read.issues, ...overrideIssues, ...analyse(doc, registry, { files, limits }).issues], json);
  if (issues.length) return { ok: false, issues };
  await pause();
  const parsed = await parseWorkflowInSteps(json, limits, pause);
  return parsed.ok ? { ok: true, doc: parsed.doc, issues: [] } : { ok: false, issues: parsed.errors };
}

import { readFile, stat } from "node:fs/promises";
import { z } from "zod";
import { DEFAULT_LIMITS, limitHint, type Limits } from "../limits.js";
import { WorkflowError, type Issue } from "./issues.js";
import { checkWorkflowShape } from "./shape.js";
import { WORKFLOW_VERSION, nodesSchema, workflowSchema, type WorkflowDoc } from "./schema.js";

/**
 * Upgrades older documents to the current version, one step at a time. Version 1 is the
 * first, so the table is empty; a version 2 adds `1: (doc) => ({...doc, version: 2, ...})`.
 */
const MIGRATIONS: Record<number, (doc: Record<string, unknown>) => Record<string, unknown>> = {};

export function migrate(raw: Record<string, unknown>): Record<string, unknown> {
  let doc = raw;
  while (typeof doc.version === "number" && doc.version < WORKFLOW_VERSION && MIGRATIONS[doc.version]) {
    doc = MIGRATIONS[doc.version](doc);
  }
  return doc;
}

export type ParseResult = { ok: true; doc: WorkflowDoc } | { ok: false; errors: Issue[] };

/** What is checked before the schema: a JSON object, a version this Maskflow reads, the size limits. */
function precheck(json: unknown, limits: Pick<Limits, "maxNodes" | "maxJsonDepth" | "maxValueBytes">): { raw: Record<string, unknown> } | { errors: Issue[] } {
  if (typeof json !== "object" || json === null || Array.isArray(json)) {
    return { errors: [{ nodeId: null, input: null, code: "schema", message: "a workflow is a JSON object" }] };
  }
  const raw = json as Record<string, unknown>;
  if (typeof raw.version === "number" && raw.version > WORKFLOW_VERSION) {
    const message = `workflow version ${raw.version} is newer than this Maskflow understands (${WORKFLOW_VERSION}); upgrade Maskflow`;
    return { errors: [{ nodeId: null, input: null, code: "version", message }] };
  }
  const tooBig = checkWorkflowShape(raw, limits);
  return tooBig.length ? { errors: tooBig } : { raw };
}

/**
 * Schema-checks (after migration) a parsed JSON value. Reports every schema problem. The size
 * limits (nodes, nesting, text length) are checked first, on the raw JSON.
 */
export function parseWorkflow(json: unknown, limits: Pick<Limits, "maxNodes" | "maxJsonDepth" | "maxValueBytes"> = DEFAULT_LIMITS): ParseResult {
  const pre = precheck(json, limits);
  if ("errors" in pre) return { ok: false, errors: pre.errors };
  const result = workflowSchema.safeParse(migrate(pre.raw));
  if (result.success) return { ok: true, doc: result.data };
  return { ok: false, errors: result.error.issues.map(schemaIssue) };
}

/** Nodes schema-checked per slice: a thousand cold nodes take the schema ~100 ms at once. */
const SLICE = 100;

/**
 * parseWorkflow with `pause()` awaited between slices of nodes, so a server keeps answering while
 * it checks a big graph. The same result as parseWorkflow.
 */
export async function parseWorkflowInSteps(
  json: unknown,
  limits: Pick<Limits, "maxNodes" | "maxJsonDepth" | "maxValueBytes">,
  pause: () => Promise<void>,
): Promise<ParseResult> {
  const pre = precheck(json, limits);
  if ("errors" in pre) return { ok: false, errors: pre.errors };
  const migrated = migrate(pre.raw);
  const nodes = migrated.nodes;
  if (typeof nodes !== "object" || nodes === null || Array.isArray(nodes)) return parseWorkflow(json, limits);
  const errors: Issue[] = [];
  const top = workflowSchema.safeParse({ ...migrated, nodes: {} });
  if (!top.success) errors.push(...top.error.issues.map(schemaIssue));
  const checked: Record<string, unknown> = {};
  const entries = Object.entries(nodes);
  for (let at = 0; at < entries.length; at += SLICE) {
    if (at > 0) await pause();
    const slice = nodesSchema.safeParse(Object.fromEntries(entries.slice(at, at + SLICE)));
    if (slice.success) Object.assign(checked, slice.data);
    else errors.push(...slice.error.issues.map((i) => schemaIssue({ ...i, path: ["nodes", ...i.path] })));
  }
  if (errors.length || !top.success) return { ok: false, errors };
  return { ok: true, doc: { ...top.data, nodes: checked as WorkflowDoc["nodes"] } };
}

function schemaIssue(issue: z.core.$ZodIssue): Issue {
  const path = issue.path.map(String);
  // nodes.<id>.inputs.<name> or nodes.<id>.<field>
  const nodeId = path[0] === "nodes" && path.length > 1 ? path[1] : null;
  const input = nodeId !== null && path[2] === "inputs" && path.length > 3 ? path[3] : null;
  const where = path.length ? ` (at ${path.join(".")})` : "";
  let message = issue.message;
  if (issue.code === "unrecognized_keys") message = `unknown field(s): ${issue.keys.join(", ")}`;
  return { nodeId, input, code: issue.path[0] === "version" ? "version" : "schema", message: message + where };
}

/** Reads and schema-checks a workflow file; throws WorkflowError with every problem. */
export async function loadWorkflowFile(path: string, limits: Limits = DEFAULT_LIMITS): Promise<WorkflowDoc> {
  let text: string;
  try {
    const size = (await stat(path)).size;
    if (size > limits.maxBodyBytes) {
      const message = `${path} is ${size} bytes, more than ${limits.maxBodyBytes} (${limitHint("maxBodyBytes", limits)})`;
      throw new WorkflowError([{ nodeId: null, input: null, code: "limit", message }]);
    }
    text = await readFile(path, "utf8");
  } catch (err) {
    if (err instanceof WorkflowError) throw err;
    const reason = (err as NodeJS.ErrnoException).code === "ENOENT" ? "no such file" : (err as Error).message;
    throw new WorkflowError([{ nodeId: null, input: null, code: "bad_json", message: `cannot read ${path}: ${reason}` }]);
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    throw new WorkflowError([
      { nodeId: null, input: null, code: "bad_json", message: `${path} is not valid JSON: ${(err as Error).message}` },
    ]);
  }
  const parsed = parseWorkflow(json, limits);
  if (!parsed.ok) throw new WorkflowError(parsed.errors);
  return parsed.doc;
}

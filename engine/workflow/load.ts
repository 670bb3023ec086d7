import { readFile, stat } from "node:fs/promises";
import { z } from "zod";
import { DEFAULT_LIMITS, limitHint, type Limits } from "../limits.js";
import { WorkflowError, type Issue } from "./issues.js";
import { checkWorkflowShape } from "./shape.js";
import { WORKFLOW_VERSION, workflowSchema, type WorkflowDoc } from "./schema.js";

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

/**
 * Schema-checks (after migration) a parsed JSON value. Reports every schema problem. The size
 * limits (nodes, nesting, text length) are checked first, on the raw JSON.
 */
export function parseWorkflow(json: unknown, limits: Pick<Limits, "maxNodes" | "maxJsonDepth" | "maxValueBytes"> = DEFAULT_LIMITS): ParseResult {
  if (typeof json !== "object" || json === null || Array.isArray(json)) {
    return { ok: false, errors: [{ nodeId: null, input: null, code: "schema", message: "a workflow is a JSON object" }] };
  }
  const raw = json as Record<string, unknown>;
  if (typeof raw.version === "number" && raw.version > WORKFLOW_VERSION) {
    const message = `workflow version ${raw.version} is newer than this Maskflow understands (${WORKFLOW_VERSION}); upgrade Maskflow`;
    return { ok: false, errors: [{ nodeId: null, input: null, code: "version", message }] };
  }
  const tooBig = checkWorkflowShape(raw, limits);
  if (tooBig.length) return { ok: false, errors: tooBig };
  const result = workflowSchema.safeParse(migrate(raw));
  if (result.success) return { ok: true, doc: result.data };
  return { ok: false, errors: result.error.issues.map(schemaIssue) };
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

import { readFile, stat } from "node:fs/promises";
import { z } from "zod";
import { DEFAULT_LIMITS, limitHint, type Limits } from "../limits.js";
import { classifyInput } from "./inputs.js";
import { WorkflowError, type Issue } from "./issues.js";
import { migrate } from "./migrate.js";
import { nodesSchema, workflowSchema, type WorkflowDoc } from "./schema.js";
import { checkWorkflowShape } from "./shape.js";
import { readStructure } from "./structure.js";

export { migrate } from "./migrate.js";

export type ParseResult = { ok: true; doc: WorkflowDoc } | { ok: false; errors: Issue[] };

type ShapeLimits = Pick<Limits, "maxNodes" | "maxJsonDepth" | "maxValueBytes">;

/**
 * Schema-checks (after migration) a parsed JSON value without a node registry, reporting every
 * fault in plain words. The size limits (nodes, nesting, text length) are checked first, on the
 * raw JSON, so an oversized document costs nothing more. checkWorkflow() (check.ts) also checks
 * the graph, in the same pass.
 */
export function parseWorkflow(json: unknown, limits: ShapeLimits = DEFAULT_LIMITS): ParseResult {
  if (typeof json === "object" && json !== null && !Array.isArray(json)) {
    const tooBig = checkWorkflowShape(json as Record<string, unknown>, limits);
    if (tooBig.length) return { ok: false, errors: tooBig };
  }
  const read = readStructure(json);
  if (!read.ok) return { ok: false, errors: read.issues };
  const errors = [...read.issues];
  for (const [id, node] of Object.entries(read.doc.nodes)) {
    for (const [name, raw] of Object.entries(node.inputs)) {
      const value = classifyInput(raw, undefined);
      if (value.kind === "bad") errors.push({ nodeId: id, input: name, code: "wrong_type", message: value.message });
    }
  }
  if (errors.length) return { ok: false, errors };
  // The zod schema (from which the published JSON Schema is generated) has the last word, so the
  // two can never disagree about what a valid file is.
  const result = workflowSchema.safeParse(migrate(json as Record<string, unknown>));
  if (result.success) return { ok: true, doc: result.data };
  return { ok: false, errors: result.error.issues.map(schemaIssue) };
}

/** Nodes schema-checked per slice: a thousand cold nodes take the schema ~100 ms at once. */
const SLICE = 100;

/**
 * The schema's parse with `pause()` awaited between slices of nodes, so a server keeps answering
 * while it checks a big graph. The same result as parseWorkflow's last step.
 */
export async function parseWorkflowInSteps(json: unknown, limits: ShapeLimits, pause: () => Promise<void>): Promise<ParseResult> {
  if (typeof json !== "object" || json === null || Array.isArray(json)) return parseWorkflow(json, limits);
  const tooBig = checkWorkflowShape(json as Record<string, unknown>, limits);
  if (tooBig.length) return { ok: false, errors: tooBig };
  const migrated = migrate(json as Record<string, unknown>);
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

/** Reads a file's JSON, or throws WorkflowError (bad_json, or limit when it is too big) saying why it cannot. */
export async function readWorkflowJson(path: string, limits: Limits = DEFAULT_LIMITS): Promise<unknown> {
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
  try {
    return JSON.parse(text);
  } catch (err) {
    throw new WorkflowError([{ nodeId: null, input: null, code: "bad_json", message: `${path} is not valid JSON: ${(err as Error).message}` }]);
  }
}

/** Reads and schema-checks a workflow file; throws WorkflowError with every problem. */
export async function loadWorkflowFile(path: string, limits: Limits = DEFAULT_LIMITS): Promise<WorkflowDoc> {
  const parsed = parseWorkflow(await readWorkflowJson(path, limits), limits);
  if (!parsed.ok) throw new WorkflowError(parsed.errors);
  return parsed.doc;
}

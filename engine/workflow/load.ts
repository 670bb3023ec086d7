import { readFile } from "node:fs/promises";
import { z } from "zod";
import { classifyInput } from "./inputs.js";
import { WorkflowError, type Issue } from "./issues.js";
import { migrate } from "./migrate.js";
import { workflowSchema, type WorkflowDoc } from "./schema.js";
import { readStructure } from "./structure.js";

export { migrate } from "./migrate.js";

export type ParseResult = { ok: true; doc: WorkflowDoc } | { ok: false; errors: Issue[] };

/**
 * Schema-checks (after migration) a parsed JSON value without a node registry, reporting every
 * fault in plain words. checkWorkflow() (check.ts) also checks the graph, in the same pass.
 */
export function parseWorkflow(json: unknown): ParseResult {
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

/** Reads a file's JSON, or throws WorkflowError (bad_json) saying why it cannot. */
export async function readWorkflowJson(path: string): Promise<unknown> {
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch (err) {
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
export async function loadWorkflowFile(path: string): Promise<WorkflowDoc> {
  const parsed = parseWorkflow(await readWorkflowJson(path));
  if (!parsed.ok) throw new WorkflowError(parsed.errors);
  return parsed.doc;
}

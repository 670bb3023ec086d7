// The JSON API. Bodies are checked with zod; every error is `{error, details}`, where details
// lists each workflow issue with its node and input.
import express, { type NextFunction, type Request, type Response, type Router } from "express";
import { z } from "zod";
import type { NodeRegistry } from "../registry.js";
import { listExampleWorkflows, readExampleWorkflow } from "../workflow/examples.js";
import type { Issue } from "../workflow/issues.js";
import { checkWorkflow } from "../workflow/check.js";
import type { WorkflowDoc } from "../workflow/schema.js";
import type { ApiErrorBody } from "./protocol.js";
import type { RunQueue } from "./run-queue.js";
import { listModels } from "../dllm/convert/models.js";

const runBody = z
  .object({
    workflow: z.record(z.string(), z.unknown(), { error: "workflow must be a workflow document (a JSON object)" }),
    overrides: z.record(z.string(), z.unknown()).optional(),
    name: z.string().max(200).optional(),
    graph: z.string().max(200).optional(),
    front: z.boolean().optional(),
  })
  .strict();

const validateBody = runBody.omit({ name: true, graph: true, front: true });

export class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly details: Issue[] = [],
  ) {
    super(message);
  }
}

function bodyIssues(error: z.ZodError): Issue[] {
  return error.issues.map((issue) => ({
    nodeId: null,
    input: null,
    code: "schema" as const,
    message: issue.path.length ? `${issue.path.join(".")}: ${issue.message}` : issue.message,
  }));
}

function parseBody<T>(schema: z.ZodType<T>, body: unknown): T {
  if (body === undefined) throw new HttpError(400, "expected a JSON body (Content-Type: application/json)");
  const result = schema.safeParse(body);
  if (!result.success) throw new HttpError(400, "invalid request body", bodyIssues(result.error));
  return result.data;
}

/** Schema, overrides and graph checks in one pass: every issue at once (the editor's checks call this). */
function check(registry: NodeRegistry, workflow: unknown, overrides: Record<string, unknown>): { doc: WorkflowDoc; issues: Issue[] } {
  const result = checkWorkflow(workflow, registry, overrides);
  return result.ok ? { doc: result.doc, issues: [] } : { doc: workflow as WorkflowDoc, issues: result.issues };
}

export function apiRouter(registry: NodeRegistry, queue: RunQueue): Router {
  const router = express.Router();
  router.use(express.json({ limit: "8mb" }));

  router.get("/health", (_req, res) => {
    res.json({ ok: true });
  });

  router.get("/nodes", (_req, res) => {
    res.json(registry.catalog());
  });

  router.get("/models", (_req, res) => {
    res.json(listModels());
  });

  router.get("/workflows", async (_req, res) => {
    res.json(await listExampleWorkflows());
  });

  router.get("/workflows/:name", async (req, res) => {
    const doc = await readExampleWorkflow(req.params.name);
    if (doc === null) throw new HttpError(404, `no example workflow named "${req.params.name}"`);
    res.json(doc);
  });

  router.post("/validate", (req, res) => {
    const body = parseBody(validateBody, req.body);
    res.json({ issues: check(registry, body.workflow, body.overrides ?? {}).issues });
  });

  router.post("/runs", (req, res) => {
    const body = parseBody(runBody, req.body);
    const overrides = body.overrides ?? {};
    const { doc, issues } = check(registry, body.workflow, overrides);
    if (issues.length) throw new HttpError(400, `the workflow has ${issues.length} problem${issues.length === 1 ? "" : "s"}`, issues);
    const run = queue.submit(doc, overrides, { name: body.name, graph: body.graph, front: body.front });
    res.status(201).json({ id: run.id, status: run.status });
  });

  router.get("/runs", (_req, res) => {
    res.json(queue.list());
  });

  // Clears the history: every ended run, in memory and on disk (queued and running ones stay).
  router.delete("/runs", (_req, res) => {
    res.json({ removed: queue.clearHistory() });
  });

  // Clears the queue: cancels every run still waiting (the running one goes on).
  router.delete("/queue", (_req, res) => {
    res.json(queue.clearQueue());
  });

  router.post("/runs/:id/next", (req, res) => {
    const run = queue.get(req.params.id);
    if (!run) throw new HttpError(404, `no run with id "${req.params.id}"`);
    if (!queue.runNext(req.params.id)) throw new HttpError(409, `run ${req.params.id} is ${run.status}, not waiting`);
    res.json(queue.list());
  });

  router.get("/runs/:id", (req, res) => {
    const run = queue.get(req.params.id);
    if (!run) throw new HttpError(404, `no run with id "${req.params.id}"`);
    res.json(run);
  });

  router.get("/runs/:id/events", (req, res) => {
    const events = queue.events(req.params.id);
    if (!events) throw new HttpError(404, `no run with id "${req.params.id}"`);
    res.json(events);
  });

  router.delete("/runs/:id", (req, res) => {
    const before = queue.get(req.params.id);
    if (!before) throw new HttpError(404, `no run with id "${req.params.id}"`);
    if (before.status !== "queued" && before.status !== "running") {
      throw new HttpError(409, `run ${req.params.id} is already ${before.status}`);
    }
    res.json(queue.cancel(req.params.id));
  });

  router.use((_req, _res) => {
    throw new HttpError(404, "no such API endpoint");
  });

  router.use((err: unknown, _req: Request, res: Response, _next: NextFunction) => {
    sendError(res, err);
  });
  return router;
}

/** Answers any thrown error as a status and an `{error, details}` body. */
export function sendError(res: Response, err: unknown): void {
  let status = 500;
  let body: ApiErrorBody = { error: "internal error", details: [] };
  const bodyParserType = (err as { type?: unknown } | null)?.type;
  if (err instanceof HttpError) {
    status = err.status;
    body = { error: err.message, details: err.details };
  } else if (bodyParserType === "entity.parse.failed") {
    status = 400;
    body = { error: `the body is not valid JSON: ${(err as Error).message}`, details: [] };
  } else if (bodyParserType === "entity.too.large") {
    status = 413;
    body = { error: "the body is too large", details: [] };
  } else {
    console.error("maskflow server:", err);
  }
  res.status(status).json(body);
}

// The JSON API. Bodies are checked with zod; every error is `{error, details}`, where details
// lists each workflow issue with its node and input.
import express, { type NextFunction, type Request, type Response, type Router } from "express";
import { z } from "zod";
import { DEFAULT_LIMITS, formatBytes, limitHint, type Limits } from "../limits.js";
import type { NodeRegistry } from "../registry.js";
import { listExampleWorkflows, readExampleWorkflow } from "../workflow/examples.js";
import { checkWorkflowInSteps } from "../workflow/check.js";
import { capIssues, type Issue } from "../workflow/issues.js";
import type { WorkflowDoc } from "../workflow/schema.js";
import type { ApiErrorBody } from "./protocol.js";
import { QueueRefused, type Runs } from "./run-queue.js";
import { listModels } from "../dllm/convert/models.js";
import { unrestrictedFiles, type FileAccess } from "../files/access.js";

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

/** Lets other requests (a health check, the editor's polling) in between the steps of a big check. */
const breathe = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

/**
 * Schema, overrides and graph checks in one pass: every issue at once (at most maxIssues of them,
 * the rest counted); the editor's checks call this. The event loop runs between the steps, so
 * the server keeps answering while it checks a big graph.
 */
async function check(
  registry: NodeRegistry,
  workflow: unknown,
  overrides: Record<string, unknown>,
  limits: Limits,
  files: FileAccess,
): Promise<{ doc: WorkflowDoc; issues: Issue[] }> {
  await breathe();
  // Nodes' static checks (inspect) read model folders only where runs may: `files`.
  const result = await checkWorkflowInSteps(workflow, registry, overrides, limits, breathe, files);
  return result.ok ? { doc: result.doc, issues: [] } : { doc: workflow as WorkflowDoc, issues: capIssues(result.issues, limits.maxIssues) };
}

export function apiRouter(registry: NodeRegistry, queue: Runs, limits: Limits = DEFAULT_LIMITS, files: FileAccess = unrestrictedFiles): Router {
  const router = express.Router();
  router.use(express.json({ limit: limits.maxBodyBytes }));

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

  router.post("/validate", async (req, res) => {
    const body = parseBody(validateBody, req.body);
    res.json({ issues: (await check(registry, body.workflow, body.overrides ?? {}, limits, files)).issues });
  });

  router.post("/runs", async (req, res) => {
    const body = parseBody(runBody, req.body);
    const overrides = body.overrides ?? {};
    const { doc, issues } = await check(registry, body.workflow, overrides, limits, files);
    if (issues.length) {
      const limit = issues.find((i) => i.code === "limit");
      throw new HttpError(400, limit ? `the workflow is over a limit: ${limit.message}` : `the workflow has ${issues.length} problem${issues.length === 1 ? "" : "s"}`, issues);
    }
    let run;
    try {
      run = queue.submit(doc, overrides, { name: body.name, graph: body.graph, front: body.front });
    } catch (err) {
      if (err instanceof QueueRefused) throw new HttpError(err.status, err.status === 429 ? `${err.message} (${limitHint("maxQueuedRuns", limits)})` : err.message);
      throw err;
    }
    res.status(201).json({ id: run.id, status: run.status });
  });

  router.get("/runs", (_req, res) => {
    res.json(queue.list());
  });

  // An ended run's detail no longer changes, and it can be tens of megabytes (outputs, the workflow):
  // the last one fetched is serialized once, however often it is fetched again (the editor, several
  // tabs), instead of blocking the event loop for a JSON.stringify each time.
  let ended: { id: string; body: Buffer } | null = null;

  // Clears the history: every ended run, in memory and on disk (queued and running ones stay).
  router.delete("/runs", (_req, res) => {
    ended = null;
    res.json({ removed: queue.clearHistory() });
  });

  // Clears the queue: cancels every run still waiting (the running one goes on).
  router.delete("/queue", (_req, res) => {
    res.json(queue.clearQueue());
  });

  router.post("/runs/:id/next", (req, res) => {
    const run = queue.get(req.params.id);
    if (!run) throw new HttpError(404, `no run with id "${req.params.id}"`);
    let moved: boolean;
    try {
      moved = queue.runNext(req.params.id);
    } catch (err) {
      // serve --redis: not available there (501, engine/queue/remote-runs.ts).
      if (err instanceof QueueRefused) throw new HttpError(err.status, err.message);
      throw err;
    }
    if (!moved) throw new HttpError(409, `run ${req.params.id} is ${run.status}, not waiting`);
    res.json(queue.list());
  });

  router.get("/runs/:id", (req, res) => {
    const run = queue.get(req.params.id);
    if (!run) throw new HttpError(404, `no run with id "${req.params.id}"`);
    if (run.status === "queued" || run.status === "running") return void res.json(run);
    if (ended?.id !== run.id) ended = { id: run.id, body: Buffer.from(JSON.stringify(run)) };
    res.type("json").send(ended.body);
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
    sendError(res, err, limits);
  });
  return router;
}

/**
 * Answers any thrown error as a status and an `{error, details}` body. Client errors (the body
 * parser's: bad JSON, too large, aborted, unsupported charset) are answered and not logged: a
 * client that hangs up mid-body is not the server's problem, and a log line per request would let
 * any client fill the log. Only a real bug is logged, and answered 500.
 */
export function sendError(res: Response, err: unknown, limits: Pick<Limits, "maxBodyBytes"> = DEFAULT_LIMITS): void {
  let status = 500;
  let body: ApiErrorBody = { error: "internal error", details: [] };
  const parserError = err as { type?: unknown; status?: unknown; expose?: unknown; message?: unknown } | null;
  const bodyParserType = parserError?.type;
  if (err instanceof HttpError) {
    status = err.status;
    body = { error: err.message, details: err.details };
  } else if (bodyParserType === "entity.parse.failed") {
    status = 400;
    body = { error: `the body is not valid JSON: ${(err as Error).message}`, details: [] };
  } else if (bodyParserType === "entity.too.large") {
    status = 413;
    body = { error: `the body is larger than ${formatBytes(limits.maxBodyBytes)} (${limitHint("maxBodyBytes", limits)})`, details: [] };
  } else if (typeof parserError?.status === "number" && parserError.status >= 400 && parserError.status < 500 && parserError.expose === true) {
    status = parserError.status;
    body = { error: String(parserError.message), details: [] };
  } else {
    console.error("maskflow server:", err);
  }
  if (res.headersSent || res.writableEnded || res.socket?.destroyed !== false) return; // part of an answer went out, or the client is gone
  res.status(status).json(body);
}

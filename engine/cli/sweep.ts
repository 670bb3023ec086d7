// `maskflow sweep`: a workflow run over a grid of input values (and seeds), one metric read from
// each run, with the forward passes and wall time each run took; the cells are appended to a log
// as they finish (a rerun resumes), then written as CSV or JSON and drawn as a Vega-Lite chart.
// The cells run one after another on one executor: nodes whose inputs did not change come from
// its cache (the model stays loaded), and each cell's forward count is its own.
import { appendFileSync, writeFileSync } from "node:fs";
import { extname } from "node:path";
import { forwardPasses } from "../dllm/runtime/forward-count.js";
import type { Limits } from "../limits.js";
import type { NodeRegistry } from "../registry.js";
import { Executor } from "../run/executor.js";
import { chartSpec, renderSvg, type XAxis } from "../sweep/chart.js";
import { cells, cellsCsv, parseMetric, parseRepeat, parseVary, readMetric, table, type Axis, type CellResult, type TableRow } from "../sweep/grid.js";
import { checkWorkflow } from "../workflow/check.js";
import { formatIssue, WorkflowError } from "../workflow/issues.js";
import type { WorkflowDoc } from "../workflow/schema.js";
import { interruptible, progressBar, readCompleteLines } from "./batch.js";
import { UsageError } from "./exit.js";

export interface SweepOptions {
  vary: string[];
  repeat?: string;
  metric: string;
  /** sweep.csv or sweep.json; its cells log (for resuming) is <out>.cells.jsonl */
  out?: string;
  /** sweep.svg, or sweep.vl.json for the Vega-Lite spec */
  plot?: string;
  x?: XAxis;
  /** fixed overrides for every cell (--set) */
  overrides?: Record<string, unknown>;
  registry: NodeRegistry;
  limits?: Limits;
  stderr?: NodeJS.WriteStream;
  signal?: AbortSignal;
}

export interface SweepSummary {
  cells: number;
  ok: number;
  failed: number;
  skipped: number;
  interrupted: boolean;
  out: string | null;
  plot: string | null;
  table: TableRow[];
}

const usage = <T>(f: () => T): T => {
  try {
    return f();
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
};

const describeSetting = (axes: Axis[], setting: Record<string, unknown>) => axes.map((a) => `${a.key}=${JSON.stringify(setting[a.key])}`).join(" ");

/** The cells already in the log, by id (a torn last line is cut off). */
function readLog(path: string): Map<string, CellResult> {
  const done = new Map<string, CellResult>();
  for (const line of readCompleteLines(path)) {
    try {
      const r = JSON.parse(line) as CellResult;
      if (typeof r.id === "string") done.set(r.id, r);
    } catch {
      // not a cell: left alone
    }
  }
  return done;
}

export async function runSweep(doc: WorkflowDoc, opts: SweepOptions): Promise<SweepSummary> {
  if (opts.vary.length === 0) throw new UsageError("give at least one --vary <nodeId>.<input>=<values>");
  const axes = usage(() => opts.vary.map(parseVary));
  const dup = axes.find((a, i) => axes.findIndex((b) => b.key === a.key) !== i);
  if (dup) throw new UsageError(`--vary ${dup.key} is given twice`);
  const repeat = opts.repeat ? usage(() => parseRepeat(opts.repeat!, doc)) : null;
  const clash = repeat?.keys.find((k) => axes.some((a) => a.key === k));
  if (clash) throw new UsageError(`${clash} is both varied and repeated over`);
  const metric = usage(() => parseMetric(opts.metric, doc));
  if (opts.out && ![".csv", ".json"].includes(extname(opts.out))) throw new UsageError(`--out ${opts.out}: write .csv or .json`);
  if (opts.plot && !opts.plot.endsWith(".svg") && !opts.plot.endsWith(".vl.json")) throw new UsageError(`--plot ${opts.plot}: write .svg (the chart) or .vl.json (its Vega-Lite spec)`);
  const grid = cells(axes, repeat, opts.overrides ?? {});
  if (grid.length > 100_000) throw new UsageError(`the grid has ${grid.length} cells; a sweep takes at most 100000`);

  // Every setting checked before anything runs: a bad value fails the command, naming it.
  const checked = new Set<string>();
  for (const cell of grid) {
    const key = JSON.stringify(cell.setting);
    if (checked.has(key)) continue;
    checked.add(key);
    const r = checkWorkflow(doc, opts.registry, cell.overrides, opts.limits);
    if (!r.ok) throw new UsageError(`${describeSetting(axes, cell.setting) || "the workflow"}: ${r.issues.map(formatIssue).join("; ")}`);
  }

  const log = opts.out ? `${opts.out}.cells.jsonl` : null;
  const done = log ? readLog(log) : new Map<string, CellResult>();
  const results: CellResult[] = [];
  const todo = grid.filter((c) => {
    const prior = done.get(c.id);
    if (prior) results.push({ ...prior, index: c.index, setting: c.setting, seed: c.seed });
    return !prior;
  });
  const summary: SweepSummary = { cells: grid.length, ok: 0, failed: 0, skipped: grid.length - todo.length, interrupted: false, out: opts.out ?? null, plot: opts.plot ?? null, table: [] };

  const executor = new Executor(opts.registry, { limits: opts.limits });
  const { controller, release } = interruptible(opts.signal);
  const stderr = opts.stderr;
  const bar = progressBar(stderr, "sweep |{bar}| {value}/{total} cells  {failed} failed  {cell}", todo.length, { failed: 0, cell: "" });
  try {
    for (const [i, cell] of todo.entries()) {
      if (controller.signal.aborted) break;
      const f0 = forwardPasses.count;
      const t0 = performance.now();
      let r: CellResult;
      const base = { id: cell.id, index: cell.index, setting: cell.setting, seed: cell.seed };
      try {
        const run = await executor.run(doc, { overrides: cell.overrides, signal: controller.signal, capture: [metric.nodeId] });
        if (run.status === "cancelled") break; // not logged: a rerun does it again
        const cost = { forwards: forwardPasses.count - f0, ms: Math.round(performance.now() - t0) };
        if (run.status === "failed") r = { ...base, status: "error", ...cost, error: run.error };
        else {
          try {
            r = { ...base, status: "ok", metric: readMetric(metric, run.outputs), ...cost };
          } catch (err) {
            r = { ...base, status: "error", ...cost, error: { nodeId: metric.nodeId, input: null, message: (err as Error).message } };
          }
        }
      } catch (err) {
        const message = err instanceof WorkflowError ? err.issues.map(formatIssue).join("; ") : (err as Error).message;
        r = { ...base, status: "error", forwards: forwardPasses.count - f0, ms: Math.round(performance.now() - t0), error: { nodeId: null, input: null, message } };
      }
      if (log) appendFileSync(log, JSON.stringify(r) + "\n"); // finished cells are on disk at once
      results.push(r);
      if (r.status === "ok") summary.ok++;
      else summary.failed++;
      const words = `${describeSetting(axes, cell.setting)}${cell.seed === null ? "" : ` seed ${cell.seed}`}`;
      if (bar) bar.increment(1, { failed: summary.failed, cell: words });
      else if (stderr && r.status === "error") stderr.write(`cell ${i + 1}/${todo.length} (${words}): ${r.error?.nodeId ? `${r.error.nodeId}${r.error.input ? `.${r.error.input}` : ""}: ` : ""}${r.error?.message}\n`);
    }
  } finally {
    bar?.stop();
    release();
    executor.clearCache();
  }
  summary.interrupted = controller.signal.aborted;
  summary.table = table(axes, results);

  if (opts.out) writeFileSync(opts.out, opts.out.endsWith(".json") ? JSON.stringify({ axes, metric: opts.metric, cells: [...results].sort((a, b) => a.index - b.index), table: summary.table }, null, 2) + "\n" : cellsCsv(axes, opts.metric, results));
  if (opts.plot) {
    const spec = chartSpec(axes, results, { metric: opts.metric, title: doc.name ?? "sweep", x: opts.x });
    writeFileSync(opts.plot, opts.plot.endsWith(".vl.json") ? JSON.stringify(spec, null, 2) + "\n" : await renderSvg(spec));
  }
  return summary;
}

/** The table for people: one line per setting. */
export function formatTable(axes: string[], metric: string, rows: TableRow[]): string {
  const head = [...axes, metric, "min", "max", "seeds", "forwards", "ms"];
  const fmt = (v: number | null, digits = 4) => (v === null ? "-" : Number.isInteger(v) ? String(v) : v.toPrecision(digits));
  const body = rows.map((r) => [...axes.map((a) => (typeof r.setting[a] === "string" ? (r.setting[a] as string) : JSON.stringify(r.setting[a]))), fmt(r.mean), fmt(r.min), fmt(r.max), `${r.n}${r.failed ? ` (+${r.failed} failed)` : ""}`, fmt(r.forwards, 3), fmt(Math.round(r.ms))]);
  const widths = head.map((h, i) => Math.max(h.length, ...body.map((row) => row[i].length)));
  return [head, ...body].map((row) => row.map((c, i) => c.padEnd(widths[i])).join("  ").trimEnd()).join("\n") + "\n";
}

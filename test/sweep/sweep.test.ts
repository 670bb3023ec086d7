// `maskflow sweep`: the grid (values, ranges, seeds), the metric read from each run with its
// forward passes, the CSV / JSON / chart it writes, resuming from its cells log (after a rerun and
// after a kill), and its errors (exit 2 before anything runs, exit 1 for failed cells).
import { spawn, spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { chartSpec } from "../../engine/sweep/chart.js";
import { cells, cellsCsv, parseMetric, parseRepeat, parseValues, parseVary, readMetric, table, type CellResult } from "../../engine/sweep/grid.js";
import type { WorkflowDoc } from "../../engine/workflow/schema.js";

const ROOT = resolve(import.meta.dirname, "../..");
const WORKFLOW = join(ROOT, "workflows", "steps-vs-score.maskflow.json");
const dir = mkdtempSync(join(tmpdir(), "maskflow-sweep-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const doc = JSON.parse(readFileSync(WORKFLOW, "utf8")) as WorkflowDoc;
const SMALL = ["--set", "denoise.gen_length=16", "--set", "schedule.block_length=16", "--set", "model.threads=1"];

function sweep(args: string[]) {
  const r = spawnSync(process.execPath, [join(ROOT, "bin", "maskflow.js"), "sweep", WORKFLOW, ...args], { cwd: dir, encoding: "utf8", env: { ...process.env, FORCE_COLOR: "0" }, timeout: 120_000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe("the grid", () => {
  it("values are JSON or strings, ranges are inclusive; bad flags say what is wrong", () => {
    expect(parseValues("4,8,16", "x")).toEqual([4, 8, 16]);
    expect(parseValues("random,low_confidence", "x")).toEqual(["random", "low_confidence"]);
    expect(parseValues("1..4", "x")).toEqual([1, 2, 3, 4]);
    expect(() => parseValues("5..2", "--vary a.b")).toThrow(/--vary a.b: the range 5..2 is empty/);
    expect(() => parseVary("schedule.steps")).toThrow(/--vary expects <nodeId>.<input>=<values>/);
    expect(() => parseVary("steps=1,2")).toThrow(/the key must be <nodeId>.<input>/);
    expect(() => parseVary("a.b=1,1")).toThrow(/a value is listed twice/);
    expect(() => parseVary("a.b=1,,2")).toThrow(/an empty value/);
  });

  it("seeds=... sets every input named seed; cells are the product, with ids that do not depend on the grid's order", () => {
    expect(parseRepeat("seeds=1..2", doc)).toEqual({ keys: ["denoise.seed", "score.seed"], seeds: [1, 2] });
    expect(parseRepeat("denoise.seed=3", doc)).toEqual({ keys: ["denoise.seed"], seeds: [3] });
    expect(() => parseRepeat("seeds=a", doc)).toThrow(/seeds must be whole numbers/);
    const axes = [parseVary("schedule.steps=4,8"), parseVary("denoise.remasking=random,low_confidence")];
    const grid = cells(axes, parseRepeat("denoise.seed=1..3", doc), { "model.threads": 1 });
    expect(grid).toHaveLength(12);
    expect(grid[0].overrides).toEqual({ "model.threads": 1, "schedule.steps": 4, "denoise.remasking": "random", "denoise.seed": 1 });
    const swapped = cells([axes[1], axes[0]], parseRepeat("denoise.seed=1..3", doc), { "model.threads": 1 });
    expect(new Set(swapped.map((c) => c.id))).toEqual(new Set(grid.map((c) => c.id)));
  });

  it("the metric: numbers, booleans as 1/0, anything else an error naming what is there", () => {
    expect(() => parseMetric("nosuch.score", doc)).toThrow(/the workflow has no node "nosuch" \(its nodes: prompt, model, schedule, denoise, show, score, score_text\)/);
    const m = parseMetric("score.score", doc);
    expect(readMetric(m, { score: { score: -3.5 } })).toBe(-3.5);
    expect(readMetric(parseMetric("check.canvas.finished", { ...doc, nodes: { ...doc.nodes, check: doc.nodes.show } }), { check: { canvas: { finished: true } } })).toBe(1);
    expect(() => readMetric(m, { score: { canvas: {} } })).toThrow(/the metric score.score: score has no "score" \(it has: canvas\)/);
    expect(() => readMetric(parseMetric("denoise.canvas", doc), { denoise: { canvas: { tokens: [] } } })).toThrow(/denoise.canvas is an object, not a number/);
  });

  it("the table: mean, min and max over the seeds per setting in the grid's order, failures counted; CSV quotes what needs it", () => {
    const axes = [parseVary("a.x=2,1"), parseVary("a.y=p,q")];
    const r = (index: number, x: number, y: string, seed: number, metric?: number): CellResult => ({
      id: String(index),
      index,
      setting: { "a.x": x, "a.y": y },
      seed,
      status: metric === undefined ? "error" : "ok",
      metric,
      forwards: x * 10,
      ms: 5,
      ...(metric === undefined ? { error: { nodeId: "a", input: null, message: 'bad, "quoted"' } } : {}),
    });
    const results = [r(0, 1, "p", 1, 3), r(1, 1, "p", 2, 5), r(2, 2, "q", 1), r(3, 2, "p", 1, 7)];
    expect(table(axes, results).map((t) => [t.setting, t.n, t.failed, t.mean, t.min, t.max, t.forwards])).toEqual([
      [{ "a.x": 2, "a.y": "p" }, 1, 0, 7, 7, 7, 20],
      [{ "a.x": 2, "a.y": "q" }, 0, 1, null, null, null, 20],
      [{ "a.x": 1, "a.y": "p" }, 2, 0, 4, 3, 5, 10],
    ]);
    expect(cellsCsv(axes, "m", results).split("\n")[3]).toBe('2,q,1,,20,5,error,"bad, ""quoted"""');
    // a dotted input name is not read as a nested field by Vega-Lite: the chart's data says "value"
    const spec = chartSpec(axes, results, { metric: "m" }) as { data: { values: Record<string, unknown>[] } };
    expect(spec.data.values[0]).toMatchObject({ value: 1, series: "p", metric: 3 });
  });
});

describe("maskflow sweep on the bundled model", () => {
  const out = join(dir, "s.csv");
  const plot = join(dir, "s.svg");
  const args = ["--vary", "schedule.steps=4,8", "--vary", "denoise.remasking=random,low_confidence", "--repeat", "denoise.seed=1..2", "--metric", "score.score", "--out", out, "--plot", plot, ...SMALL];

  it("runs the grid: one row per cell with its metric and forward passes (the steps, plus Score's two), the table and a chart", () => {
    const r = sweep([...args, "--json"]);
    expect(r.code, r.stderr).toBe(0);
    const summary = JSON.parse(r.stdout);
    expect(summary).toMatchObject({ cells: 8, ok: 8, failed: 0, skipped: 0, interrupted: false });
    expect(summary.table.map((t: { setting: unknown; n: number; forwards: number }) => [t.setting, t.n, t.forwards])).toEqual([
      [{ "schedule.steps": 4, "denoise.remasking": "random" }, 2, 6],
      [{ "schedule.steps": 4, "denoise.remasking": "low_confidence" }, 2, 6],
      [{ "schedule.steps": 8, "denoise.remasking": "random" }, 2, 10],
      [{ "schedule.steps": 8, "denoise.remasking": "low_confidence" }, 2, 10],
    ]);
    const rows = readFileSync(out, "utf8").trim().split("\n");
    expect(rows[0]).toBe("schedule.steps,denoise.remasking,seed,score.score,forwards,ms,status,error");
    expect(rows).toHaveLength(9);
    for (const row of rows.slice(1)) expect(row).toMatch(/^(4|8),(random|low_confidence),[12],-\d+\.\d+,(6|10),\d+,ok,$/);
    // different seeds give different text, so different scores
    expect(new Set(rows.slice(1).map((row) => row.split(",")[3])).size).toBe(8);
    const svg = readFileSync(plot, "utf8");
    expect(svg).toMatch(/^<svg/);
    for (const text of ["schedule.steps", "score.score", "low_confidence", "random", "Steps against likelihood"]) expect(svg).toContain(text);
    expect((svg.match(/<path[^>]+aria-roledescription="line mark"/g) ?? []).length).toBe(2);
  });

  it("a rerun resumes from the cells log: nothing runs again, the same table", () => {
    const before = readFileSync(out, "utf8");
    const r = sweep([...args, "--json"]);
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ cells: 8, ok: 0, skipped: 8 });
    expect(readFileSync(out, "utf8").replace(/,\d+,ok/g, ",ok")).toBe(before.replace(/,\d+,ok/g, ",ok"));
  });

  it("killed mid-sweep, loses no finished cell; the rerun runs only the rest", async () => {
    const killedOut = join(dir, "k.json");
    const grid = ["--vary", "schedule.steps=4,8,16", "--repeat", "denoise.seed=1..3", "--metric", "score.score", "--out", killedOut, ...SMALL];
    const child = spawn(process.execPath, [join(ROOT, "bin", "maskflow.js"), "sweep", WORKFLOW, ...grid], { cwd: dir, stdio: "ignore" });
    const log = `${killedOut}.cells.jsonl`;
    const lines = () => (existsSync(log) ? readFileSync(log, "utf8").split("\n").filter(Boolean).length : 0);
    const deadline = Date.now() + 60_000;
    while (lines() < 2 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    child.kill("SIGKILL");
    await new Promise((r) => child.once("exit", r));
    const finished = lines();
    expect(finished).toBeGreaterThanOrEqual(2);
    expect(finished).toBeLessThan(9);
    const r = sweep([...grid, "--json"]);
    expect(r.code, r.stderr).toBe(0);
    const summary = JSON.parse(r.stdout);
    expect(summary.skipped).toBeGreaterThanOrEqual(finished - 1); // the cell being written when killed may be torn
    expect(summary.ok + summary.skipped).toBe(9);
    const saved = JSON.parse(readFileSync(killedOut, "utf8"));
    expect(saved.cells.map((c: { index: number }) => c.index)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8]);
    expect(saved.table).toHaveLength(3);
  });

  it("refuses a bad grid before running anything (exit 2, the value named); a metric that is not a number fails each cell (exit 1)", () => {
    const missing = sweep(["--vary", "schedule.steps=4", "--metric", "nosuch.value"]);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toMatch(/--metric nosuch.value: the workflow has no node "nosuch"/);
    const range = sweep(["--vary", "schedule.steps=4,0", "--metric", "score.score", ...SMALL]);
    expect(range.code).toBe(2);
    expect(range.stderr).toMatch(/schedule.steps=0: .*schedule\.steps/);
    const input = sweep(["--vary", "schedule.nosuch=1", "--metric", "score.score"]);
    expect(input.code).toBe(2);
    expect(input.stderr).toMatch(/schedule.nosuch=1: .*nosuch/);
    const notNumber = sweep(["--vary", "schedule.steps=4", "--metric", "denoise.canvas", "--out", join(dir, "bad.csv"), ...SMALL]);
    expect(notNumber.code).toBe(1);
    expect(notNumber.stderr).toMatch(/denoise.canvas is an object, not a number/);
    expect(readFileSync(join(dir, "bad.csv"), "utf8")).toMatch(/\n4,,,\d+,\d+,error,"the metric denoise.canvas is an object, not a number"\n/);
  });
});

// A sweep's grid: the inputs varied (`--vary node.input=a,b,c`), the seeds repeated over
// (`--repeat seeds=1..8` or `--repeat node.input=1..8`), their cartesian product as cells of
// overrides, the metric each cell reads (`--metric node.output[.field...]`), and the table the
// cells make (one row per setting, the metric's mean over seeds with its spread).
import type { WorkflowDoc } from "../workflow/schema.js";

export interface Axis {
  key: string;
  values: unknown[];
}

export interface Repeat {
  /** the inputs set to each seed ("seeds": every input named seed) */
  keys: string[];
  seeds: number[];
}

/** Parses "a,b,c" (each JSON when it parses, else a string) and integer ranges "1..8". */
export function parseValues(text: string, flag: string): unknown[] {
  const range = /^(-?\d+)\.\.(-?\d+)$/.exec(text.trim());
  if (range) {
    const [from, to] = [Number(range[1]), Number(range[2])];
    if (to < from) throw new Error(`${flag}: the range ${text} is empty (write from..to with from <= to)`);
    if (to - from >= 10_000) throw new Error(`${flag}: the range ${text} has ${to - from + 1} values; a sweep takes at most 10000`);
    return Array.from({ length: to - from + 1 }, (_, i) => from + i);
  }
  const values = text.split(",").map((v) => {
    const raw = v.trim();
    try {
      return JSON.parse(raw) as unknown;
    } catch {
      return raw;
    }
  });
  if (values.some((v) => v === "")) throw new Error(`${flag}: an empty value in "${text}"`);
  return values;
}

function splitFlag(flag: string, name: string): [string, string] {
  const eq = flag.indexOf("=");
  if (eq <= 0 || eq === flag.length - 1) throw new Error(`${name} expects <nodeId>.<input>=<values>, got "${flag}"`);
  return [flag.slice(0, eq), flag.slice(eq + 1)];
}

export function parseVary(flag: string): Axis {
  const [key, text] = splitFlag(flag, "--vary");
  if (!/^[^.]+\.[^.]+$/.test(key)) throw new Error(`--vary ${flag}: the key must be <nodeId>.<input>`);
  const values = parseValues(text, `--vary ${key}`);
  if (new Set(values.map((v) => JSON.stringify(v))).size !== values.length) throw new Error(`--vary ${key}: a value is listed twice`);
  return { key, values };
}

/** `seeds=1..8`: every input named `seed` in the workflow; `node.input=1..8`: that one. */
export function parseRepeat(flag: string, doc: WorkflowDoc): Repeat {
  const [key, text] = splitFlag(flag, "--repeat");
  const seeds = parseValues(text, `--repeat ${key}`);
  if (!seeds.every((s) => Number.isSafeInteger(s) && (s as number) >= 0)) throw new Error(`--repeat ${key}: seeds must be whole numbers >= 0, got ${text}`);
  if (key === "seeds") {
    const keys = Object.entries(doc.nodes).flatMap(([id, node]) => ("seed" in (node.inputs ?? {}) ? [`${id}.seed`] : []));
    if (keys.length === 0) throw new Error(`--repeat seeds: the workflow sets no input named seed; name one (--repeat <nodeId>.<input>=${text})`);
    return { keys, seeds: seeds as number[] };
  }
  if (!/^[^.]+\.[^.]+$/.test(key)) throw new Error(`--repeat ${flag}: the key must be seeds or <nodeId>.<input>`);
  return { keys: [key], seeds: seeds as number[] };
}

export interface Cell {
  /** position in the grid */
  index: number;
  /** the varied inputs' values, by key */
  setting: Record<string, unknown>;
  seed: number | null;
  overrides: Record<string, unknown>;
  /** identifies the cell in a results log, whatever the grid's order */
  id: string;
}

export function cells(axes: Axis[], repeat: Repeat | null, fixed: Record<string, unknown> = {}): Cell[] {
  let settings: Record<string, unknown>[] = [{}];
  for (const axis of axes) settings = settings.flatMap((s) => axis.values.map((v) => ({ ...s, [axis.key]: v })));
  const seeds: (number | null)[] = repeat ? repeat.seeds : [null];
  const out: Cell[] = [];
  for (const setting of settings) {
    for (const seed of seeds) {
      const overrides = { ...fixed, ...setting, ...(seed === null ? {} : Object.fromEntries(repeat!.keys.map((k) => [k, seed]))) };
      out.push({ index: out.length, setting, seed, overrides, id: JSON.stringify(Object.entries(overrides).sort(([a], [b]) => (a < b ? -1 : 1))) });
    }
  }
  return out;
}

export interface Metric {
  nodeId: string;
  path: string[];
}

export function parseMetric(text: string, doc: WorkflowDoc): Metric {
  const [nodeId, ...path] = text.split(".");
  if (!nodeId || path.length === 0) throw new Error(`--metric expects <nodeId>.<output>[.<field>...], got "${text}"`);
  if (!(nodeId in doc.nodes)) throw new Error(`--metric ${text}: the workflow has no node "${nodeId}" (its nodes: ${Object.keys(doc.nodes).join(", ")})`);
  return { nodeId, path };
}

/** The metric's number in a run's outputs: numbers as they are, booleans as 1 / 0; anything else is an error naming what was there. */
export function readMetric(metric: Metric, outputs: Record<string, unknown>): number {
  let v: unknown = outputs[metric.nodeId];
  const walked = [metric.nodeId];
  for (const key of metric.path) {
    if (v === null || typeof v !== "object" || !(key in v)) {
      const keys = v !== null && typeof v === "object" ? Object.keys(v).slice(0, 12).join(", ") : typeof v;
      throw new Error(`the metric ${[metric.nodeId, ...metric.path].join(".")}: ${walked.join(".")} has no "${key}" (it has: ${keys})`);
    }
    v = (v as Record<string, unknown>)[key];
    walked.push(key);
  }
  if (typeof v === "boolean") return v ? 1 : 0;
  if (typeof v !== "number" || !Number.isFinite(v)) {
    const what = typeof v === "number" ? String(v) : v === null ? "null" : Array.isArray(v) ? "a list" : typeof v === "object" ? "an object" : `a ${typeof v}`;
    throw new Error(`the metric ${walked.join(".")} is ${what}, not a number`);
  }
  return v;
}

/** One finished cell, as the results log keeps it. */
export interface CellResult {
  id: string;
  index: number;
  setting: Record<string, unknown>;
  seed: number | null;
  status: "ok" | "error";
  metric?: number;
  forwards: number;
  ms: number;
  error?: { nodeId: string | null; input: string | null; message: string };
}

export interface TableRow {
  setting: Record<string, unknown>;
  /** cells with a metric, of the seeds run */
  n: number;
  failed: number;
  mean: number | null;
  min: number | null;
  max: number | null;
  forwards: number;
  ms: number;
}

/** One row per setting (in the grid's order): the metric over its seeds, and the mean forwards and wall time per run. */
export function table(axes: Axis[], results: CellResult[]): TableRow[] {
  const bySetting = new Map<string, CellResult[]>();
  const keyOf = (setting: Record<string, unknown>) => JSON.stringify(axes.map((a) => setting[a.key]));
  for (const r of results) bySetting.set(keyOf(r.setting), [...(bySetting.get(keyOf(r.setting)) ?? []), r]);
  const rows: TableRow[] = [];
  for (const rs of bySetting.values()) {
    const ok = rs.filter((r) => r.status === "ok" && r.metric !== undefined);
    const m = ok.map((r) => r.metric!);
    const mean = (xs: number[]) => (xs.length ? xs.reduce((a, b) => a + b, 0) / xs.length : 0);
    rows.push({
      setting: rs[0].setting,
      n: ok.length,
      failed: rs.length - ok.length,
      mean: m.length ? mean(m) : null,
      min: m.length ? Math.min(...m) : null,
      max: m.length ? Math.max(...m) : null,
      forwards: mean(rs.map((r) => r.forwards)),
      ms: mean(rs.map((r) => r.ms)),
    });
  }
  const order = (row: TableRow) => axes.map((a) => a.values.findIndex((v) => JSON.stringify(v) === JSON.stringify(row.setting[a.key])));
  return rows.sort((a, b) => {
    const [x, y] = [order(a), order(b)];
    for (let i = 0; i < x.length; i++) if (x[i] !== y[i]) return x[i] - y[i];
    return 0;
  });
}

function csvField(v: unknown): string {
  const s = v === null || v === undefined ? "" : typeof v === "string" ? v : JSON.stringify(v);
  return /[",\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

/** Every cell as a CSV row: the varied inputs, the seed, the metric, forwards, ms, status and error. */
export function cellsCsv(axes: Axis[], metricName: string, results: CellResult[]): string {
  const head = [...axes.map((a) => a.key), "seed", metricName, "forwards", "ms", "status", "error"];
  const rows = [...results].sort((a, b) => a.index - b.index).map((r) => [...axes.map((a) => r.setting[a.key]), r.seed, r.metric, r.forwards, r.ms, r.status, r.error?.message]);
  return [head, ...rows].map((row) => row.map(csvField).join(",")).join("\n") + "\n";
}

// A sweep's chart as a Vega-Lite spec (the editor renders the same spec in the browser) and as
// SVG rendered by Vega in Node. The x axis is the first varied input (or the forward passes or
// wall time each cell took); one line per combination of the other varied inputs, through the
// metric's mean over the seeds, with every seed's value as a faint point.
import type { Axis, CellResult } from "./grid.js";

export type XAxis = "setting" | "forwards" | "ms";

export interface ChartOptions {
  metric: string;
  title?: string;
  x?: XAxis;
}

const label = (v: unknown) => (typeof v === "string" ? v : JSON.stringify(v));

export function chartSpec(axes: Axis[], results: CellResult[], o: ChartOptions): Record<string, unknown> {
  const [first, ...rest] = axes;
  const x = o.x ?? "setting";
  // (field names with a dot would be read as nested fields: the varied input's value is "value")
  const xKey = "value";
  const xName = first?.key ?? "run";
  const seriesName = rest.map((a) => a.key).join(" · ") || "series";
  const values = results
    .filter((r) => r.status === "ok" && r.metric !== undefined)
    .sort((a, b) => a.index - b.index)
    .map((r) => ({
      [xKey]: first ? r.setting[first.key] : 0,
      series: rest.map((a) => label(r.setting[a.key])).join(" · ") || "all",
      seed: r.seed,
      metric: r.metric,
      forwards: r.forwards,
      ms: r.ms,
    }));
  const numeric = first ? first.values.every((v) => typeof v === "number") : true;
  const xField = x === "setting" ? xKey : x;
  const xTitle = x === "setting" ? xName : x === "forwards" ? "forward passes per run" : "wall time per run (ms)";
  const xEncoding =
    x === "setting" && !numeric
      ? { field: xField, type: "ordinal", title: xTitle, sort: first!.values.map(label) }
      : { field: xField, type: "quantitative", title: xTitle, scale: { zero: false } };
  const color = { field: "series", type: "nominal", title: seriesName, sort: null };
  const y = { field: "metric", type: "quantitative", title: o.metric, scale: { zero: false } };
  const tooltip = [
    { field: xKey, title: xName },
    { field: "series", title: seriesName },
    { field: "seed" },
    { field: "metric", title: o.metric, format: ".4g" },
    { field: "forwards" },
    { field: "ms", title: "ms" },
  ];
  const means = {
    transform: [
      { aggregate: [{ op: "mean", field: "metric", as: "metric" }, { op: "mean", field: "forwards", as: "forwards" }, { op: "mean", field: "ms", as: "ms" }, { op: "count", as: "seeds" }], groupby: [xKey, "series"] },
    ],
    mark: { type: "line", point: { size: 50 }, strokeWidth: 2 },
    encoding: {
      x: xEncoding,
      y,
      color,
      order: x === "setting" ? undefined : { field: xKey },
      tooltip: [{ field: xKey, title: xName }, { field: "series", title: seriesName }, { field: "metric", title: `mean ${o.metric}`, format: ".4g" }, { field: "seeds" }, { field: "forwards", format: ".1f" }, { field: "ms", format: ".0f" }],
    },
  };
  return {
    $schema: "https://vega.github.io/schema/vega-lite/v6.json",
    title: o.title ? { text: o.title, subtitle: `${o.metric} · mean over seeds (line), each seed (points)` } : undefined,
    width: 480,
    height: 300,
    background: "white",
    data: { values },
    layer: [
      { mark: { type: "point", opacity: 0.35, filled: true, size: 30 }, encoding: { x: xEncoding, y, color, tooltip } },
      means,
    ],
  };
}

/** The spec rendered to an SVG document by Vega (no browser, no canvas). */
export async function renderSvg(spec: Record<string, unknown>): Promise<string> {
  const [vega, vl] = await Promise.all([import("vega"), import("vega-lite")]);
  const view = new vega.View(vega.parse(vl.compile(spec as never).spec), { renderer: "none" });
  try {
    return await view.toSVG();
  } finally {
    view.finalize();
  }
}

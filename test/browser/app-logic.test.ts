// The editor's graph logic without a browser: file <-> graph round trip, connection rules,
// undo history, clipboard fragments, and folding run events into what the view shows.
import { describe, expect, it } from "vitest";
import type { WorkflowDoc } from "../../app/src/api/types.js";
import { copySelection, parseClipboard, pasteFragment } from "../../app/src/graph/clipboard.js";
import { checkConnection } from "../../app/src/graph/connect.js";
import { History } from "../../app/src/graph/history.js";
import { newNodeId } from "../../app/src/graph/ids.js";
import { defaultValues, docToGraph, graphToDoc, looksLikeWorkflow } from "../../app/src/graph/workflow.js";
import { applyEvent, mergeViews, outputText, runFromDetail, type RunView } from "../../app/src/run/runState.js";
import { searchCatalog } from "../../app/src/panels/search.js";
import { NodeRegistry, type RunEvent } from "../../engine/index.js";
import { builtinNodes } from "../../nodes/index.js";

const catalogList = new NodeRegistry(builtinNodes).catalog();
const catalog = new Map(catalogList.map((e) => [e.type, e]));

const doc: WorkflowDoc = {
  version: 1,
  name: "round trip",
  description: "kept",
  nodes: {
    a: { type: "Text", title: "Greeting", inputs: { value: "Hello," }, ui: { x: 10, y: 20, note: "extra ui field" } },
    b: { type: "Text", inputs: { value: "world" }, ui: { x: 10, y: 260, collapsed: true } },
    join: { type: "Concat", inputs: { a: { from: "a", output: "text" }, b: { from: "b", output: "text" }, separator: " " }, ui: { x: 340, y: 100, width: 300 } },
    show: { type: "ShowText", inputs: { value: { from: "join", output: "text" } }, ui: { x: 700, y: 100 } },
    orphan: { type: "ShowText", inputs: { value: { from: "gone", output: "text" } }, ui: { x: 700, y: 400 } },
    future: { type: "FromTheFuture", inputs: { x: 1 }, ui: { x: 0, y: 600 } },
  },
  ui: { viewport: { x: 5, y: 6, zoom: 0.75 } },
};

describe("file <-> graph", () => {
  it("round-trips every node, input, link, title and position, and unknown ui fields", () => {
    const graph = docToGraph(doc, catalog);
    expect(graph.edges.map((e) => e.id).sort()).toEqual(["a.text->join.a", "b.text->join.b", "join.text->show.value"]);
    expect(graph.edges.find((e) => e.id === "a.text->join.a")!.data!.socket).toBe("TEXT");
    expect(graph.viewport).toEqual({ x: 5, y: 6, zoom: 0.75 });
    const back = graphToDoc(graph, graph.meta, graph.viewport);
    expect(back).toEqual(doc);
  });

  it("lays out nodes that have no positions by depth", () => {
    const bare: WorkflowDoc = { version: 1, nodes: { s: { type: "ShowText", inputs: { value: { from: "t", output: "text" } } }, t: { type: "Text", inputs: {} } } };
    const graph = docToGraph(bare, catalog);
    const x = Object.fromEntries(graph.nodes.map((n) => [n.id, n.position.x]));
    expect(x.t).toBeLessThan(x.s);
  });

  it("recognises workflow documents", () => {
    expect(looksLikeWorkflow(doc)).toBe(true);
    expect(looksLikeWorkflow({ version: 2, nodes: {} })).toBe(false);
    expect(looksLikeWorkflow({ version: 1, nodes: [] })).toBe(false);
    expect(looksLikeWorkflow("x")).toBe(false);
  });

  it("fills a new node's widgets with the defaults", () => {
    expect(defaultValues(catalog.get("Concat")!)).toHaveProperty("separator");
    expect(defaultValues(catalog.get("LoadModel")!)).toMatchObject({ path: "models/default", device: "cpu" });
  });

  it("derives readable ids", () => {
    expect(newNodeId("ShowText", new Set())).toBe("show_text");
    expect(newNodeId("Text", new Set(["text", "text_2"]))).toBe("text_3");
  });
});

describe("connections", () => {
  const graph = docToGraph(doc, catalog);
  graph.nodes.push({ id: "model", type: "maskflow", position: { x: 0, y: 0 }, data: { type: "LoadModel", values: {} } });
  const check = (source: string, sourceHandle: string, target: string, targetHandle: string) =>
    checkConnection({ source, sourceHandle, target, targetHandle }, graph, catalog);

  it("accepts an output whose socket type the input takes", () => {
    expect(check("a", "text", "show", "value")).toEqual({ ok: true, socket: "TEXT" });
  });

  it("refuses a different socket type, saying what the input takes", () => {
    expect(check("model", "model", "join", "a")).toEqual({ ok: false, reason: "a takes TEXT, not MODEL" });
  });

  it("refuses cycles, self-links, widget-only inputs and unknown handles", () => {
    expect(check("show", "text", "a", "value")).toMatchObject({ ok: false });
    expect(check("join", "text", "a", "value")).toEqual({ ok: false, reason: "value takes a constant, not TEXT" });
    expect(check("join", "text", "join", "a")).toEqual({ ok: false, reason: "a node cannot feed itself" });
    const cyclic = docToGraph(
      { version: 1, nodes: { x: { type: "Concat", inputs: { a: { from: "y", output: "text" } } }, y: { type: "Concat", inputs: {} } } },
      catalog,
    );
    expect(checkConnection({ source: "x", sourceHandle: "text", target: "y", targetHandle: "a" }, cyclic, catalog)).toEqual({
      ok: false,
      reason: "that link would make a cycle",
    });
    expect(check("a", "nope", "show", "value")).toMatchObject({ ok: false });
  });
});

describe("history", () => {
  it("undoes and redoes, merging quick edits of one field", () => {
    const history = new History<number>();
    history.record(0, undefined, 0);
    history.record(1, "field", 100);
    history.record(2, "field", 500); // merged with the previous step
    history.record(3, "field", 5000); // too late: a new step
    expect(history.undo(4)).toBe(3);
    expect(history.undo(3)).toBe(1);
    expect(history.undo(1)).toBe(0);
    expect(history.undo(0)).toBeNull();
    expect(history.redo(0)).toBe(1);
    history.record(1, undefined, 6000);
    expect(history.canRedo).toBe(false);
  });
});

describe("clipboard", () => {
  it("copies a selection with its inner links and pastes it with fresh ids", () => {
    const graph = docToGraph(doc, catalog);
    const fragment = copySelection(graph, new Set(["a", "join"]))!;
    expect(Object.keys(fragment.nodes)).toEqual(["a", "join"]);
    expect(fragment.nodes.join.inputs).toEqual({ a: { from: "a", output: "text" }, separator: " " });
    const roundTrip = parseClipboard(JSON.stringify(fragment))!;
    const pasted = pasteFragment(roundTrip, graph, catalog, { x: 1000, y: 1000 });
    expect(pasted.nodes.map((n) => n.id)).toEqual(["text", "concat"]);
    expect(pasted.nodes[0].position).toEqual({ x: 1000, y: 1000 });
    expect(pasted.edges).toHaveLength(1);
    expect(pasted.edges[0]).toMatchObject({ source: "text", target: "concat", targetHandle: "a" });
    expect(parseClipboard("not json")).toBeNull();
    expect(copySelection(graph, new Set())).toBeNull();
  });
});

describe("search", () => {
  it("ranks title prefixes first and matches every word", () => {
    expect(searchCatalog(catalogList, "show")[0].type).toBe("ShowText");
    expect(searchCatalog(catalogList, "load model").map((e) => e.type)).toEqual(["LoadModel"]);
    expect(searchCatalog(catalogList, "zzz")).toEqual([]);
  });
});

describe("run events", () => {
  const canvas = (step: number, pieces: (string | null)[], beam?: number) => ({
    step,
    tokens: pieces.map((_, i) => i),
    pieces,
    confidence: pieces.map((p) => (p ? 0.5 : 0)),
    changed: [step - 1],
    ...(beam !== undefined ? { beam } : {}),
  });

  it("tracks each node's state and one lane per sampler and beam", () => {
    let view: RunView | undefined;
    const runId = "r1";
    const events: RunEvent[] = [
      { type: "run_queued", runId, nodes: ["m", "d", "s"] },
      { type: "run_started", runId, nodes: ["m", "d", "s"] },
      { type: "node_cached", runId, nodeId: "m", nodeType: "LoadModel" },
      { type: "node_finished", runId, nodeId: "m", nodeType: "LoadModel", ms: 0 },
      { type: "node_started", runId, nodeId: "d", nodeType: "Denoise" },
      { type: "progress", runId, nodeId: "d", step: 1, total: 2, canvas: canvas(1, ["a", null]) },
      { type: "progress", runId, nodeId: "d", step: 1, total: 2, canvas: canvas(1, ["x", null], 1) },
      { type: "progress", runId, nodeId: "d", step: 2, total: 2, canvas: canvas(2, ["a", "b"]) },
      { type: "node_finished", runId, nodeId: "d", nodeType: "Denoise", ms: 12 },
      { type: "node_finished", runId, nodeId: "s", nodeType: "ShowText", ms: 1, output: { text: ["ab", "xy"] } },
      { type: "run_finished", runId, ms: 20, outputs: { s: { text: ["ab", "xy"] } } },
    ];
    const seen: string[] = [];
    for (const event of events) {
      view = applyEvent(view, event);
      if (event.type === "progress") seen.push(view.nodes.d.status + view.nodes.d.step);
    }
    expect(seen).toEqual(["running1", "running1", "running2"]);
    expect(view!.status).toBe("finished");
    expect(view!.nodes).toMatchObject({ m: { status: "cached" }, d: { status: "done", ms: 12 }, s: { status: "done" } });
    expect(view!.laneOrder).toEqual(["d", "d#1"]);
    expect(view!.lanes.d.snapshots.map((s) => s.pieces)).toEqual([["a", null], ["a", "b"]]);
    expect(outputText(view!.outputs.s)).toEqual(["ab", "xy"]);
  });

  it("marks the failing node, and what was waiting when a run is cancelled", () => {
    let view = applyEvent(undefined, { type: "run_started", runId: "r", nodes: ["a", "b"] });
    view = applyEvent(view, { type: "failed", runId: "r", nodeId: "a", input: "path", message: "no such folder" });
    expect(view.nodes.a).toEqual({ status: "error", message: "no such folder", input: "path" });
    expect(view.status).toBe("failed");
    view = applyEvent(view, { type: "cancelled", runId: "r", nodeId: null });
    expect(view.nodes.b).toEqual({ status: "skipped", message: "cancelled" });
  });

  it("merges a run loaded from the server with live events that arrived meanwhile", () => {
    const runId = "m";
    const base: RunEvent[] = [
      { type: "run_started", runId, nodes: ["d"] },
      { type: "node_started", runId, nodeId: "d", nodeType: "Denoise" },
      { type: "progress", runId, nodeId: "d", step: 1, total: 4, canvas: canvas(1, ["a", null, null, null]) },
      { type: "progress", runId, nodeId: "d", step: 2, total: 4, canvas: canvas(2, ["a", "b", null, null]) },
    ];
    let loaded: RunView | undefined;
    for (const e of base) loaded = applyEvent(loaded, e);
    // Live: step 3 arrived while the log loaded, then the node finished.
    let live: RunView | undefined;
    for (const e of [
      { type: "progress", runId, nodeId: "d", step: 3, total: 4, canvas: canvas(3, ["a", "b", "c", null]) },
      { type: "node_finished", runId, nodeId: "d", nodeType: "Denoise", ms: 5 },
    ] as RunEvent[])
      live = applyEvent(live, e);
    const merged = mergeViews(loaded!, live!);
    expect(merged.lanes.d.snapshots.map((s) => s.step)).toEqual([1, 2, 3]);
    expect(merged.nodes.d.status).toBe("done");
    expect(merged.status).toBe("running");
  });

  it("rebuilds lanes from ShowText traces when the live events were missed", () => {
    const detail = {
      id: "r",
      name: null,
      status: "finished" as const,
      createdAt: "",
      startedAt: null,
      finishedAt: null,
      error: null,
      stats: null,
      workflow: {},
      overrides: {},
      graph: null,
      seeds: {},
      changes: [],
      warnings: 0,
      outputs: {
        one: { text: "ab", trace: [canvas(1, ["a", null]), canvas(2, ["a", "b"])] },
        beams: { text: ["x", "y"], candidates: [{ trace: [canvas(1, ["x"])] }, { trace: [canvas(1, ["y"])] }] },
      },
    };
    const view = runFromDetail(detail);
    expect(view.laneOrder).toEqual(["one", "beams#0", "beams#1"]);
    expect(view.lanes["beams#1"].snapshots[0].pieces).toEqual(["y"]);
  });
});

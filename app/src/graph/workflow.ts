// Conversion between the workflow file and the editor graph. The round trip file -> graph ->
// file keeps every node, input, link, title, mode and position, the links' reroute points
// (node ui.reroutes) and the groups and notes (workflow ui.groups, ui.notes).
import type { NodeCatalogEntry, WorkflowDoc, WorkflowLink, WorkflowNodeDoc } from "../api/types.js";
import { decorFromDoc, decorToDocUi, type DecorNode } from "./decor.js";
import { edgeId, type FlowEdge, type FlowNode, type Graph, type Point } from "./model.js";

export type Catalog = ReadonlyMap<string, NodeCatalogEntry>;

export interface Viewport {
  x: number;
  y: number;
  zoom: number;
}

export interface WorkflowMeta {
  name?: string;
  description?: string;
}

export function isLink(value: unknown): value is WorkflowLink {
  return (
    typeof value === "object" &&
    value !== null &&
    !Array.isArray(value) &&
    typeof (value as WorkflowLink).from === "string" &&
    typeof (value as WorkflowLink).output === "string"
  );
}

/** A quick shape check before a file is opened; the server reports the detailed problems. */
export function looksLikeWorkflow(json: unknown): json is WorkflowDoc {
  if (typeof json !== "object" || json === null || Array.isArray(json)) return false;
  const doc = json as Partial<WorkflowDoc>;
  return doc.version === 1 && typeof doc.nodes === "object" && doc.nodes !== null && !Array.isArray(doc.nodes);
}

/** Lays out nodes without positions in columns by depth (longest path from a source). */
function autoLayout(doc: WorkflowDoc): Map<string, { x: number; y: number }> {
  const ids = Object.keys(doc.nodes);
  const depth = new Map<string, number>();
  const visiting = new Set<string>();
  const depthOf = (id: string): number => {
    const known = depth.get(id);
    if (known !== undefined) return known;
    if (visiting.has(id)) return 0; // a cycle: the server reports it
    visiting.add(id);
    let d = 0;
    for (const value of Object.values(doc.nodes[id]?.inputs ?? {})) {
      if (isLink(value) && doc.nodes[value.from]) d = Math.max(d, depthOf(value.from) + 1);
    }
    visiting.delete(id);
    depth.set(id, d);
    return d;
  };
  const rows = new Map<number, number>();
  const positions = new Map<string, { x: number; y: number }>();
  for (const id of ids) {
    const d = depthOf(id);
    const row = rows.get(d) ?? 0;
    rows.set(d, row + 1);
    positions.set(id, { x: d * 340, y: row * 260 });
  }
  return positions;
}

/** A node's ui.reroutes: input name -> the points its link is drawn through. */
function readReroutes(raw: unknown): Record<string, Point[]> {
  if (typeof raw !== "object" || raw === null) return {};
  const out: Record<string, Point[]> = {};
  for (const [input, list] of Object.entries(raw)) {
    if (!Array.isArray(list)) continue;
    const points = list.filter((p): p is Point => typeof p?.x === "number" && typeof p?.y === "number").map((p) => ({ x: p.x, y: p.y }));
    if (points.length) out[input] = points;
  }
  return out;
}

export function docToGraph(doc: WorkflowDoc, catalog: Catalog): Graph & { viewport?: Viewport; meta: WorkflowMeta; decor: DecorNode[] } {
  const layout = autoLayout(doc);
  const nodes: FlowNode[] = [];
  const edges: FlowEdge[] = [];
  for (const [id, node] of Object.entries(doc.nodes)) {
    const { reroutes: rawReroutes, ...ui } = node.ui ?? ({} as NonNullable<WorkflowNodeDoc["ui"]>);
    const reroutes = readReroutes(rawReroutes);
    const values: Record<string, unknown> = {};
    for (const [input, value] of Object.entries(node.inputs ?? {})) {
      if (isLink(value) && doc.nodes[value.from]) {
        const sourceDef = catalog.get(doc.nodes[value.from].type);
        edges.push({
          id: edgeId(value.from, value.output, id, input),
          source: value.from,
          sourceHandle: value.output,
          target: id,
          targetHandle: input,
          data: { socket: sourceDef?.outputs[value.output]?.socket, ...(reroutes[input] ? { points: reroutes[input] } : {}) },
        });
      } else {
        values[input] = value;
      }
    }
    const { x, y, width, collapsed, ...uiExtra } = ui as NonNullable<WorkflowNodeDoc["ui"]>;
    const position = node.ui ? { x, y } : (layout.get(id) ?? { x: 0, y: 0 });
    nodes.push({
      id,
      type: "maskflow",
      position,
      ...(width !== undefined ? { width } : {}),
      data: {
        type: node.type,
        ...(node.title !== undefined ? { title: node.title } : {}),
        values,
        ...(collapsed ? { collapsed } : {}),
        ...(node.mode === "bypass" || node.mode === "mute" ? { mode: node.mode } : {}),
        ...(Object.keys(uiExtra).length ? { uiExtra } : {}),
      },
    });
  }
  const viewport = doc.ui?.viewport;
  return {
    nodes,
    edges,
    viewport: viewport && typeof viewport.zoom === "number" ? viewport : undefined,
    meta: { name: doc.name, description: doc.description },
    decor: decorFromDoc(doc),
  };
}

export function graphToDoc(graph: Graph, meta: WorkflowMeta = {}, viewport?: Viewport, decor: readonly DecorNode[] = []): WorkflowDoc {
  const nodes: Record<string, WorkflowNodeDoc> = {};
  for (const node of graph.nodes) {
    const inputs: Record<string, unknown> = { ...node.data.values };
    const ui: NonNullable<WorkflowNodeDoc["ui"]> = {
      ...node.data.uiExtra,
      x: Math.round(node.position.x),
      y: Math.round(node.position.y),
    };
    if (node.width !== undefined) ui.width = Math.round(node.width);
    if (node.data.collapsed) ui.collapsed = true;
    nodes[node.id] = {
      type: node.data.type,
      ...(node.data.title ? { title: node.data.title } : {}),
      ...(node.data.mode ? { mode: node.data.mode } : {}),
      inputs,
      ui,
    };
  }
  for (const edge of graph.edges) {
    const target = nodes[edge.target];
    if (!target || !nodes[edge.source] || !edge.targetHandle || !edge.sourceHandle) continue;
    target.inputs[edge.targetHandle] = { from: edge.source, output: edge.sourceHandle };
    const points = edge.data?.points;
    if (points?.length && target.ui) {
      const reroutes = (target.ui.reroutes ?? {}) as Record<string, Point[]>;
      target.ui.reroutes = { ...reroutes, [edge.targetHandle]: points.map((p) => ({ x: Math.round(p.x), y: Math.round(p.y) })) };
    }
  }
  const ui = {
    ...(viewport ? { viewport: { x: Math.round(viewport.x), y: Math.round(viewport.y), zoom: Math.round(viewport.zoom * 1000) / 1000 } } : {}),
    ...decorToDocUi(decor),
  };
  return {
    version: 1,
    ...(meta.name ? { name: meta.name } : {}),
    ...(meta.description ? { description: meta.description } : {}),
    nodes,
    ...(Object.keys(ui).length ? { ui } : {}),
  };
}

/** Default constant values for a new node of this type. */
export function defaultValues(def: NodeCatalogEntry): Record<string, unknown> {
  const values: Record<string, unknown> = {};
  for (const [name, input] of Object.entries(def.inputs)) {
    if (input.kind !== undefined && input.default !== undefined) values[name] = input.default;
  }
  return values;
}

// The graph edits behind the denoising view's token actions. Selected tokens of a sampler's lane
// become a Remask of those positions ("remask and regenerate"), a Remask of all the others
// ("keep"), or a ReplaceTokens of that span ("type over it"), followed by a Denoise that
// regenerates and a Show Text beside the original. An edit node of the same kind already after
// that sampler (with its Denoise) is updated instead, so trying again does not pile up nodes.
import { defaultValues, type Catalog } from "../graph/workflow.js";
import { newNodeId } from "../graph/ids.js";
import { edgeId, type FlowEdge, type FlowNode, type Graph } from "../graph/model.js";

export type TokenAction =
  | { kind: "remask"; positions: number[] }
  | { kind: "keep"; positions: number[]; length: number; fixed: number[] }
  | { kind: "replace"; positions: number[]; text: string };

/** `added`: the nodes created (none when an earlier edit was updated). */
export type TokenEditPlan = { ok: true; graph: Graph; edit: string; rewrite: string; added: string[] } | { ok: false; reason: string };

/** [2, 3, 4, 7] -> "2-4, 7" (Remask's positions syntax). */
export function positionSpec(positions: readonly number[]): string {
  const sorted = [...new Set(positions)].sort((a, b) => a - b);
  const parts: string[] = [];
  for (let i = 0; i < sorted.length; ) {
    let j = i;
    while (j + 1 < sorted.length && sorted[j + 1] === sorted[j] + 1) j++;
    parts.push(i === j ? `${sorted[i]}` : `${sorted[i]}-${sorted[j]}`);
    i = j + 1;
  }
  return parts.join(", ");
}

/** Inputs of the sampler that the regenerating Denoise takes over (not what defines a fresh canvas). */
const NOT_COPIED = new Set(["prompt", "gen_length", "length", "initial_length"]);

const ROW_GAP = 60;
const COLUMN = 340;
/** A node's height when React Flow has not measured it yet. */
const GUESSED_HEIGHT = 320;

function valuesFor(action: TokenAction): { type: string; values: Record<string, unknown> } {
  switch (action.kind) {
    case "remask":
      return { type: "Remask", values: { strategy: "positions", positions: positionSpec(action.positions) } };
    case "keep": {
      const kept = new Set([...action.positions, ...action.fixed]);
      const others = Array.from({ length: action.length }, (_, i) => i).filter((i) => !kept.has(i));
      return { type: "Remask", values: { strategy: "positions", positions: positionSpec(others) } };
    }
    case "replace":
      return {
        type: "ReplaceTokens",
        values: { positions: `${Math.min(...action.positions)}-${Math.max(...action.positions)}`, text: action.text },
      };
  }
}

export function planTokenEdit(graph: Graph, catalog: Catalog, samplerId: string, action: TokenAction): TokenEditPlan {
  const sampler = graph.nodes.find((n) => n.id === samplerId);
  const samplerDef = sampler && catalog.get(sampler.data.type);
  if (!sampler || samplerDef?.outputs.canvas?.socket !== "CANVAS") return { ok: false, reason: "these tokens do not come from a node of this graph with a canvas output" };
  if (action.positions.length === 0) return { ok: false, reason: "select some tokens first" };
  const { type, values } = valuesFor(action);
  const editDef = catalog.get(type);
  const denoiseDef = catalog.get("Denoise");
  const showDef = catalog.get("ShowText");
  if (!editDef || !denoiseDef || !showDef) return { ok: false, reason: `this engine has no ${type}, Denoise or ShowText node` };
  const model = graph.edges.find((e) => e.target === samplerId && e.targetHandle === "model");
  if (!model) return { ok: false, reason: `link a model to ${samplerId} first` };
  if (action.kind === "keep" && values.positions === "") return { ok: false, reason: "every token is kept: nothing to regenerate" };

  // An edit of the same kind already after this sampler, with the Denoise it feeds: update it.
  const canvasFrom = (id: string) => graph.edges.find((e) => e.target === id && e.targetHandle === "canvas")?.source;
  const existing = graph.nodes.find((n) => n.data.type === type && canvasFrom(n.id) === samplerId);
  const existingRewrite = existing && graph.nodes.find((n) => n.data.type === "Denoise" && canvasFrom(n.id) === existing.id);
  if (existing && existingRewrite) {
    const nodes = graph.nodes.map((n) => (n.id === existing.id ? { ...n, data: { ...n.data, values: { ...n.data.values, ...values } } } : n));
    return { ok: true, graph: { nodes, edges: graph.edges }, edit: existing.id, rewrite: existingRewrite.id, added: [] };
  }

  // New nodes, in a row under everything, starting below the sampler.
  const bottom = Math.max(...graph.nodes.map((n) => n.position.y + (n.measured?.height ?? n.height ?? GUESSED_HEIGHT)));
  const y = bottom + ROW_GAP;
  const taken = new Set(graph.nodes.map((n) => n.id));
  const id = (t: string) => {
    const fresh = newNodeId(t, taken);
    taken.add(fresh);
    return fresh;
  };
  const editId = id(type);
  const rewriteId = id("Denoise");
  const showId = id("ShowText");
  // The regenerating Denoise continues the canvas: what would define a fresh one stays unset.
  const kept = (values: Record<string, unknown>) => Object.fromEntries(Object.entries(values).filter(([name]) => !NOT_COPIED.has(name) && name in denoiseDef.inputs));
  const rewriteValues = { ...kept(defaultValues(denoiseDef)), ...kept(sampler.data.values) };
  const node = (nodeId: string, t: string, x: number, data: Record<string, unknown>): FlowNode => ({
    id: nodeId,
    type: "maskflow",
    position: { x, y },
    data: { type: t, values: data },
  });
  const nodes = [
    ...graph.nodes.map((n) => (n.selected ? { ...n, selected: false } : n)),
    node(editId, type, sampler.position.x, { ...defaultValues(editDef), ...values }),
    node(rewriteId, "Denoise", sampler.position.x + COLUMN, rewriteValues),
    node(showId, "ShowText", sampler.position.x + 2 * COLUMN, {}),
  ];
  const link = (source: string, sourceHandle: string, target: string, targetHandle: string, socket: string): FlowEdge => ({
    id: edgeId(source, sourceHandle, target, targetHandle),
    source,
    sourceHandle,
    target,
    targetHandle,
    data: { socket },
  });
  const edges = [
    ...graph.edges,
    link(samplerId, "canvas", editId, "canvas", "CANVAS"),
    link(model.source, model.sourceHandle!, editId, "model", "MODEL"),
    link(model.source, model.sourceHandle!, rewriteId, "model", "MODEL"),
    link(editId, "canvas", rewriteId, "canvas", "CANVAS"),
    link(rewriteId, "canvas", showId, "value", "CANVAS"),
  ];
  return { ok: true, graph: { nodes, edges }, edit: editId, rewrite: rewriteId, added: [editId, rewriteId, showId] };
}

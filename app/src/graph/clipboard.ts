// Copy and paste of node selections. The clipboard holds a small workflow document (the
// selected nodes and the links between them), so a selection pasted into another tab, or
// into a text file, is still a valid workflow.
import type { WorkflowDoc } from "../api/types.js";
import { newNodeId } from "./ids.js";
import { edgeId, type Graph } from "./model.js";
import { docToGraph, graphToDoc, looksLikeWorkflow, type Catalog } from "./workflow.js";

export function copySelection(graph: Graph, selected: ReadonlySet<string>): WorkflowDoc | null {
  if (selected.size === 0) return null;
  const nodes = graph.nodes.filter((n) => selected.has(n.id));
  const edges = graph.edges.filter((e) => selected.has(e.source) && selected.has(e.target));
  const doc = graphToDoc({ nodes, edges });
  // Links that leave the selection are not copied; neither are their placeholder values.
  for (const node of Object.values(doc.nodes)) {
    for (const [input, value] of Object.entries(node.inputs)) {
      const link = value as { from?: unknown };
      if (typeof link === "object" && link !== null && typeof link.from === "string" && !selected.has(link.from)) {
        delete node.inputs[input];
      }
    }
  }
  return doc;
}

export function parseClipboard(text: string): WorkflowDoc | null {
  try {
    const json: unknown = JSON.parse(text);
    return looksLikeWorkflow(json) ? json : null;
  } catch {
    return null;
  }
}

/**
 * Turns a copied fragment into new nodes (fresh ids, selected) placed with their top-left
 * corner at `at`, ready to be appended to `graph`.
 */
export function pasteFragment(fragment: WorkflowDoc, graph: Graph, catalog: Catalog, at: { x: number; y: number }): Graph {
  const pasted = docToGraph(fragment, catalog);
  const taken = new Set(graph.nodes.map((n) => n.id));
  const rename = new Map<string, string>();
  for (const node of pasted.nodes) {
    const id = newNodeId(node.data.type, taken);
    taken.add(id);
    rename.set(node.id, id);
  }
  const minX = Math.min(...pasted.nodes.map((n) => n.position.x));
  const minY = Math.min(...pasted.nodes.map((n) => n.position.y));
  return {
    nodes: pasted.nodes.map((node) => ({
      ...node,
      id: rename.get(node.id)!,
      position: { x: node.position.x - minX + at.x, y: node.position.y - minY + at.y },
      selected: true,
    })),
    edges: pasted.edges.map((edge) => {
      const source = rename.get(edge.source)!;
      const target = rename.get(edge.target)!;
      return { ...edge, id: edgeId(source, edge.sourceHandle!, target, edge.targetHandle!), source, target, selected: false };
    }),
  };
}

// The editor's graph: React Flow nodes and edges whose data is exactly what the workflow file
// stores (node type, title, constant input values); links are edges.
import type { Edge, Node } from "@xyflow/react";

export type FlowNodeData = {
  /** Node type in the catalog. */
  type: string;
  title?: string;
  /** Constant inputs. A link whose source node is missing stays here as `{from, output}` so nothing is lost. */
  values: Record<string, unknown>;
  collapsed?: boolean;
  /** Unknown `ui` fields from the file, written back unchanged. */
  uiExtra?: Record<string, unknown>;
};

export type FlowNode = Node<FlowNodeData, "maskflow">;

export type FlowEdgeData = {
  /** Socket type carried by the link (the source output's type). */
  socket?: string;
};

export type FlowEdge = Edge<FlowEdgeData>;

export interface Graph {
  nodes: FlowNode[];
  edges: FlowEdge[];
}

export function edgeId(source: string, output: string, target: string, input: string): string {
  return `${source}.${output}->${target}.${input}`;
}

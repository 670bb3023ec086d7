// The editor's graph: React Flow nodes and edges whose data is exactly what the workflow file
// stores (node type, title, mode, constant input values); links are edges. Groups and notes
// (decor.ts) are React Flow nodes too, but live in the file's `ui` and never reach the engine.
import type { Edge, Node } from "@xyflow/react";
import type { NodeMode } from "../api/types.js";

export type FlowNodeData = {
  /** Node type in the catalog. */
  type: string;
  title?: string;
  /** Constant inputs. A link whose source node is missing stays here as `{from, output}` so nothing is lost. */
  values: Record<string, unknown>;
  collapsed?: boolean;
  /** Bypass or mute (the workflow's node `mode`); absent: the node runs. */
  mode?: NodeMode;
  /** Unknown `ui` fields from the file, written back unchanged. */
  uiExtra?: Record<string, unknown>;
};

export type FlowNode = Node<FlowNodeData, "maskflow">;

export interface Point {
  x: number;
  y: number;
}

export type FlowEdgeData = {
  /** Socket type carried by the link (the source output's type). */
  socket?: string;
  /** Reroute points the link is drawn through, in flow coordinates (stored in the target node's ui.reroutes). */
  points?: Point[];
};

export type FlowEdge = Edge<FlowEdgeData>;

export interface Graph {
  nodes: FlowNode[];
  edges: FlowEdge[];
}

export function edgeId(source: string, output: string, target: string, input: string): string {
  return `${source}.${output}->${target}.${input}`;
}

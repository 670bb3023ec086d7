// Which connections the editor accepts: the output's socket type must be one the input takes,
// and a link may not close a cycle. The engine's compiler applies the same rules.
import type { Connection } from "@xyflow/react";
import type { Graph } from "./model.js";
import { acceptsSocket, inputSockets, socketWords } from "./sockets.js";
import type { Catalog } from "./workflow.js";

export type ConnectionCheck = { ok: true; socket: string } | { ok: false; reason: string };

export function checkConnection(connection: Connection, graph: Graph, catalog: Catalog): ConnectionCheck {
  const { source, target, sourceHandle, targetHandle } = connection;
  if (!sourceHandle || !targetHandle) return { ok: false, reason: "connect an output to an input" };
  if (source === target) return { ok: false, reason: "a node cannot feed itself" };
  const sourceNode = graph.nodes.find((n) => n.id === source);
  const targetNode = graph.nodes.find((n) => n.id === target);
  if (!sourceNode || !targetNode) return { ok: false, reason: "unknown node" };
  const output = catalog.get(sourceNode.data.type)?.outputs[sourceHandle];
  const input = catalog.get(targetNode.data.type)?.inputs[targetHandle];
  if (!output) return { ok: false, reason: `${sourceNode.data.type} has no output "${sourceHandle}"` };
  if (!input) return { ok: false, reason: `${targetNode.data.type} has no input "${targetHandle}"` };
  if (!acceptsSocket(input, output.socket)) {
    const wants = inputSockets(input).length ? socketWords(input) : "a constant";
    return { ok: false, reason: `${targetHandle} takes ${wants}, not ${output.socket}` };
  }
  if (reaches(graph, target, source)) return { ok: false, reason: "that link would make a cycle" };
  return { ok: true, socket: output.socket };
}

/** Whether `to` is downstream of `from` (so a link to -> from would close a loop). */
function reaches(graph: Graph, from: string, to: string): boolean {
  const downstream = new Map<string, string[]>();
  for (const edge of graph.edges) {
    const list = downstream.get(edge.source) ?? [];
    list.push(edge.target);
    downstream.set(edge.source, list);
  }
  const seen = new Set<string>();
  const stack = [from];
  while (stack.length) {
    const id = stack.pop()!;
    if (id === to) return true;
    if (seen.has(id)) continue;
    seen.add(id);
    stack.push(...(downstream.get(id) ?? []));
  }
  return false;
}

// Folds the engine's event stream into what the editor shows for one run: each node's state,
// and the denoising trace of every canvas lane (one lane per sampler node, or per beam).
import type { CanvasSnapshot, RunDetail, RunError, RunEvent, RunStatus } from "../api/types.js";

export type NodeStatus = "queued" | "running" | "cached" | "done" | "error" | "skipped";

export interface NodeRunState {
  status: NodeStatus;
  step?: number;
  total?: number;
  label?: string;
  ms?: number;
  message?: string;
  input?: string | null;
  /** What the node warned about (a Remask that matched nothing): it finished, but check it. */
  warnings?: string[];
}

export interface Lane {
  key: string;
  nodeId: string;
  beam?: number;
  /** Every step's snapshot, in order. */
  snapshots: CanvasSnapshot[];
  total?: number;
}

export interface RunView {
  runId: string;
  status: RunStatus;
  nodes: Record<string, NodeRunState>;
  lanes: Record<string, Lane>;
  laneOrder: string[];
  outputs: Record<string, unknown>;
  error?: RunError;
  ms?: number;
}

export function emptyRun(runId: string, status: RunStatus = "queued"): RunView {
  return { runId, status, nodes: {}, lanes: {}, laneOrder: [], outputs: {} };
}

function laneKey(nodeId: string, beam: number | undefined): string {
  return beam === undefined ? nodeId : `${nodeId}#${beam}`;
}

function addSnapshot(view: RunView, nodeId: string, snapshot: CanvasSnapshot, total?: number): RunView {
  const key = laneKey(nodeId, snapshot.beam);
  const lane = view.lanes[key] ?? { key, nodeId, beam: snapshot.beam, snapshots: [] };
  const snapshots = lane.snapshots;
  // A repeated step replaces the earlier one (e.g. after a reconnect replays the log).
  const last = snapshots[snapshots.length - 1];
  const next = last && last.step === snapshot.step ? [...snapshots.slice(0, -1), snapshot] : [...snapshots, snapshot];
  return {
    ...view,
    lanes: { ...view.lanes, [key]: { ...lane, snapshots: next, total: total ?? lane.total } },
    laneOrder: view.laneOrder.includes(key) ? view.laneOrder : [...view.laneOrder, key],
  };
}

function setNode(view: RunView, nodeId: string, state: NodeRunState): RunView {
  return { ...view, nodes: { ...view.nodes, [nodeId]: state } };
}

export function applyEvent(current: RunView | undefined, event: RunEvent): RunView {
  const view = current ?? emptyRun(event.runId);
  switch (event.type) {
    case "run_queued": {
      const nodes: Record<string, NodeRunState> = {};
      for (const id of event.nodes) nodes[id] = { status: "queued" };
      return { ...view, status: "queued", nodes };
    }
    case "run_started": {
      const nodes: Record<string, NodeRunState> = {};
      for (const id of event.nodes) nodes[id] = { status: "queued" };
      return { ...view, status: "running", nodes, lanes: {}, laneOrder: [], outputs: {}, error: undefined };
    }
    case "node_started":
      return setNode(view, event.nodeId, { status: "running" });
    case "node_cached":
      return setNode(view, event.nodeId, { status: "cached" });
    case "progress": {
      // A cached node's steps, shown again: the lane fills in, the node stays "cached".
      const before = view.nodes[event.nodeId];
      const next = event.replayed
        ? view
        : setNode(view, event.nodeId, { status: "running", step: event.step, total: event.total, label: event.label, warnings: before?.warnings });
      return event.canvas ? addSnapshot(next, event.nodeId, event.canvas, event.total) : next;
    }
    case "warning": {
      const before = view.nodes[event.nodeId] ?? { status: "running" as const };
      return setNode(view, event.nodeId, { ...before, warnings: [...(before.warnings ?? []), event.message] });
    }
    case "node_finished": {
      // A cached node also reports finishing; it stays "cached".
      const before = view.nodes[event.nodeId];
      const status = before?.status === "cached" ? "cached" : "done";
      const next = setNode(view, event.nodeId, { status, ms: event.ms, ...(before?.warnings ? { warnings: before.warnings } : {}) });
      return event.output === undefined ? next : { ...next, outputs: { ...next.outputs, [event.nodeId]: event.output } };
    }
    case "node_skipped":
      return setNode(view, event.nodeId, { status: "skipped", message: event.because });
    case "run_finished":
      return withOutputLanes({ ...view, status: "finished", ms: event.ms, outputs: { ...view.outputs, ...event.outputs } });
    case "failed": {
      const error = { nodeId: event.nodeId, input: event.input, message: event.message };
      const next = { ...view, status: "failed" as const, error };
      return event.nodeId ? setNode(next, event.nodeId, { status: "error", message: event.message, input: event.input }) : next;
    }
    case "cancelled": {
      // Whatever was still waiting will not run now.
      const nodes: Record<string, NodeRunState> = {};
      for (const [id, state] of Object.entries(view.nodes)) {
        nodes[id] = state.status === "queued" || state.status === "running" ? { status: "skipped", message: "cancelled" } : state;
      }
      return { ...view, status: "cancelled", nodes };
    }
  }
}

function isSnapshot(value: unknown): value is CanvasSnapshot {
  const s = value as CanvasSnapshot;
  return typeof s === "object" && s !== null && Array.isArray(s.pieces) && typeof s.step === "number";
}

/**
 * Output nodes that show a CANVAS return its per-step trace. When the live events were missed
 * (the page was opened after the run), the lanes are rebuilt from those traces.
 */
export function withOutputLanes(view: RunView): RunView {
  if (view.laneOrder.length > 0) return view;
  let next = view;
  for (const [nodeId, output] of Object.entries(view.outputs)) {
    const shown = output as { trace?: unknown; candidates?: { trace?: unknown }[] } | null;
    // ShowText of a CANVAS: {trace}; of CANVASES (beams): {candidates: [{trace}, ...]}.
    const traces: [number | undefined, unknown][] = Array.isArray(shown?.candidates)
      ? shown.candidates.map((c, beam) => [beam, c?.trace] as [number, unknown])
      : [[undefined, shown?.trace]];
    for (const [beam, trace] of traces) {
      if (!Array.isArray(trace)) continue;
      for (const snap of trace) {
        if (isSnapshot(snap)) next = addSnapshot(next, nodeId, beam === undefined ? snap : { ...snap, beam: snap.beam ?? beam });
      }
    }
  }
  return next;
}

export function runFromDetail(detail: RunDetail, events: RunEvent[] = []): RunView {
  let view = emptyRun(detail.id, detail.status);
  for (const event of events) view = applyEvent(view, event);
  view = {
    ...view,
    status: detail.status,
    outputs: { ...view.outputs, ...detail.outputs },
    error: detail.error ?? view.error,
  };
  return withOutputLanes(view);
}

/** Text an output node produced, for the preview on the node itself. */
export function outputText(output: unknown): string[] | null {
  if (typeof output === "string") return [output];
  const text = (output as { text?: unknown } | null)?.text;
  if (typeof text === "string") return [text];
  if (Array.isArray(text) && text.every((t) => typeof t === "string")) return text as string[];
  return null;
}

const NODE_RANK: Record<NodeStatus, number> = { queued: 0, running: 1, cached: 2, done: 2, skipped: 2, error: 2 };
const RUN_RANK: Record<RunView["status"], number> = { queued: 0, running: 1, finished: 2, failed: 2, cancelled: 2 };

/** Combines a run loaded from the server with what live events already told this page. */
export function mergeViews(loaded: RunView, live: RunView): RunView {
  const nodes = { ...loaded.nodes };
  for (const [id, state] of Object.entries(live.nodes)) {
    const other = nodes[id];
    if (!other || NODE_RANK[state.status] >= NODE_RANK[other.status]) nodes[id] = state;
  }
  const lanes = { ...loaded.lanes };
  const laneOrder = [...loaded.laneOrder];
  for (const key of live.laneOrder) {
    const liveLane = live.lanes[key];
    const loadedLane = lanes[key];
    if (!loadedLane) {
      lanes[key] = liveLane;
      laneOrder.push(key);
      continue;
    }
    const byStep = new Map(loadedLane.snapshots.map((snap) => [snap.step, snap]));
    for (const snap of liveLane.snapshots) byStep.set(snap.step, snap);
    lanes[key] = { ...loadedLane, total: liveLane.total ?? loadedLane.total, snapshots: [...byStep.values()].sort((a, b) => a.step - b.step) };
  }
  return {
    ...loaded,
    status: RUN_RANK[live.status] >= RUN_RANK[loaded.status] ? live.status : loaded.status,
    nodes,
    lanes,
    laneOrder,
    outputs: { ...loaded.outputs, ...live.outputs },
    error: live.error ?? loaded.error,
    ms: live.ms ?? loaded.ms,
  };
}

// A link drawn through reroute points (ComfyUI's reroutes): bezier segments from the output,
// through each point, to the input. The points are small handles on the canvas: drag one to move
// it, right-click it to remove it. Links without points look like React Flow's default bezier.
import { BaseEdge, EdgeLabelRenderer, getBezierPath, useReactFlow, type EdgeProps } from "@xyflow/react";
import { createContext, memo, useContext, type MouseEvent as ReactMouseEvent } from "react";
import type { FlowEdge, Point } from "../graph/model.js";

export interface RerouteActions {
  /** A drag of a point starts (record the graph for undo). */
  beginMove(): void;
  movePoint(edgeId: string, index: number, at: Point): void;
  pointMenu(event: ReactMouseEvent, edgeId: string, index: number): void;
}

export const RerouteContext = createContext<RerouteActions | null>(null);

function segment(a: Point, b: Point): string {
  const dx = Math.max(30, Math.abs(b.x - a.x) / 2);
  return `C ${a.x + dx},${a.y} ${b.x - dx},${b.y} ${b.x},${b.y}`;
}

export function routedPath(from: Point, points: readonly Point[], to: Point): string {
  const stops = [from, ...points, to];
  let d = `M ${from.x},${from.y}`;
  for (let i = 1; i < stops.length; i++) d += ` ${segment(stops[i - 1], stops[i])}`;
  return d;
}

export const RoutedEdge = memo(function RoutedEdge(props: EdgeProps<FlowEdge>) {
  const { id, sourceX, sourceY, targetX, targetY, sourcePosition, targetPosition, data, style, markerEnd, interactionWidth } = props;
  const actions = useContext(RerouteContext);
  const flow = useReactFlow();
  const points = data?.points ?? [];
  const path = points.length
    ? routedPath({ x: sourceX, y: sourceY }, points, { x: targetX, y: targetY })
    : getBezierPath({ sourceX, sourceY, targetX, targetY, sourcePosition, targetPosition })[0];
  return (
    <>
      <BaseEdge id={id} path={path} style={style} markerEnd={markerEnd} interactionWidth={interactionWidth ?? 18} />
      {points.length > 0 && actions && (
        <EdgeLabelRenderer>
          {points.map((p, i) => (
            <div
              key={i}
              className="mf-reroute nodrag nopan"
              data-testid="reroute"
              title="Reroute point: drag to move, right-click to remove"
              style={{ transform: `translate(-50%, -50%) translate(${p.x}px, ${p.y}px)`, borderColor: style?.stroke }}
              onPointerDown={(e) => {
                if (e.button !== 0) return;
                e.stopPropagation();
                (e.target as HTMLElement).setPointerCapture(e.pointerId);
                actions.beginMove();
              }}
              onPointerMove={(e) => {
                if (!(e.target as HTMLElement).hasPointerCapture(e.pointerId)) return;
                actions.movePoint(id, i, flow.screenToFlowPosition({ x: e.clientX, y: e.clientY }));
              }}
              onContextMenu={(e) => {
                e.preventDefault();
                e.stopPropagation();
                actions.pointMenu(e, id, i);
              }}
            />
          ))}
        </EdgeLabelRenderer>
      )}
    </>
  );
});

/** Where a new point goes in a link's list: the position that adds the least length. */
export function insertPoint(points: readonly Point[], from: Point, to: Point, at: Point): Point[] {
  const stops = [from, ...points, to];
  const dist = (a: Point, b: Point) => Math.hypot(a.x - b.x, a.y - b.y);
  let best = 0;
  let bestCost = Infinity;
  for (let i = 0; i < stops.length - 1; i++) {
    const cost = dist(stops[i], at) + dist(at, stops[i + 1]) - dist(stops[i], stops[i + 1]);
    if (cost < bestCost) [best, bestCost] = [i, cost];
  }
  return [...points.slice(0, best), at, ...points.slice(best)];
}

// Dragging a group moves the nodes inside it, as in ComfyUI: the nodes whose boxes lie in the
// group's box when the drag starts follow it by the same amount.
import { useCallback, useRef } from "react";
import type { Node } from "@xyflow/react";
import type { Point } from "../graph/model.js";

interface Box {
  x: number;
  y: number;
  w: number;
  h: number;
}

const boxOf = (n: Node): Box => ({ x: n.position.x, y: n.position.y, w: n.measured?.width ?? n.width ?? 0, h: n.measured?.height ?? n.height ?? 0 });
const inside = (a: Box, b: Box) => a.x >= b.x && a.y >= b.y && a.x + a.w <= b.x + b.w && a.y + a.h <= b.y + b.h;

export function useGroupDrag(allNodes: () => Node[], move: (positions: ReadonlyMap<string, Point>) => void) {
  const drag = useRef<{ group: string; start: Point; members: Map<string, Point> } | null>(null);

  const start = useCallback(
    (node: Node) => {
      if (node.type !== "group") return;
      const area = boxOf(node);
      const members = new Map<string, Point>();
      for (const n of allNodes()) if (n.id !== node.id && n.type !== "group" && inside(boxOf(n), area)) members.set(n.id, { ...n.position });
      drag.current = { group: node.id, start: { ...node.position }, members };
    },
    [allNodes],
  );

  const during = useCallback(
    (node: Node) => {
      const d = drag.current;
      if (!d || d.group !== node.id) return;
      const dx = node.position.x - d.start.x;
      const dy = node.position.y - d.start.y;
      move(new Map([...d.members].map(([id, p]) => [id, { x: p.x + dx, y: p.y + dy }])));
    },
    [move],
  );

  const stop = useCallback(() => {
    drag.current = null;
  }, []);

  return { start, during, stop };
}

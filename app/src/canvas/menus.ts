// The right-click menus of the canvas (ComfyUI's habit): on empty canvas, add a node, a note or
// a group, paste, select all, fit; on a node, rename, bypass, mute, collapse, duplicate, copy,
// delete; on a link, add a reroute point or delete it; on a reroute point, remove it.
import { useCallback, useState, type MouseEvent as ReactMouseEvent } from "react";
import type { Edge, Node } from "@xyflow/react";
import type { NodeMode } from "../api/types.js";
import type { Point } from "../graph/model.js";
import type { MenuEntry, MenuState } from "./ContextMenu.js";

export interface CanvasCommands {
  toFlow(screen: Point): Point;
  search(screen: Point): void;
  addNote(at: Point): void;
  addGroup(at: Point): void;
  canPaste(): boolean;
  paste(at: Point): void;
  selectAll(): void;
  fit(): void;
  /** Ids the node menu acts on: the selection when the node is part of it, else the node. */
  targets(nodeId: string): string[];
  rename(nodeId: string): void;
  setMode(ids: string[], mode: NodeMode): void;
  isMode(nodeId: string, mode: NodeMode): boolean;
  toggleCollapsed(nodeId: string): void;
  duplicate(ids: string[]): void;
  copy(ids: string[]): void;
  remove(ids: string[]): void;
  renameGroup(id: string): void;
  removeEdge(id: string): void;
  addReroute(edgeId: string, at: Point): void;
  removeReroute(edgeId: string, index: number): void;
}

export function useCanvasMenus(cmd: CanvasCommands) {
  const [menu, setMenu] = useState<MenuState | null>(null);
  const close = useCallback(() => setMenu(null), []);
  const open = (e: { clientX: number; clientY: number; preventDefault(): void }, title: string, items: MenuEntry[]) => {
    e.preventDefault();
    setMenu({ x: e.clientX, y: e.clientY, title, items });
  };

  const onPaneContextMenu = (e: ReactMouseEvent | MouseEvent) => {
    const screen = { x: e.clientX, y: e.clientY };
    const at = cmd.toFlow(screen);
    open(e, "Canvas", [
      { label: "Add node…", keys: "/", run: () => cmd.search(screen) },
      { label: "Add note", run: () => cmd.addNote(at) },
      { label: "Add group", run: () => cmd.addGroup(at) },
      "separator",
      { label: "Paste", keys: "Ctrl+V", disabled: !cmd.canPaste(), run: () => cmd.paste(at) },
      { label: "Select all", keys: "Ctrl+A", run: cmd.selectAll },
      { label: "Fit the graph in view", keys: "F", run: cmd.fit },
    ]);
  };

  const onNodeContextMenu = (e: ReactMouseEvent, node: Node) => {
    if (node.type === "group" || node.type === "note") {
      open(e, node.type === "group" ? "Group" : "Note", [
        ...(node.type === "group" ? [{ label: "Rename group", run: () => cmd.renameGroup(node.id) }] : []),
        { label: node.type === "group" ? "Remove group (keep its nodes)" : "Delete note", keys: "Delete", run: () => cmd.remove([node.id]) },
      ]);
      return;
    }
    const ids = cmd.targets(node.id);
    const many = ids.length > 1 ? ` (${ids.length} nodes)` : "";
    open(e, ids.length > 1 ? `${ids.length} nodes` : node.id, [
      ...(ids.length === 1 ? [{ label: "Rename", run: () => cmd.rename(node.id) }] : []),
      { label: `${cmd.isMode(node.id, "bypass") ? "Stop bypassing" : "Bypass"}${many}`, keys: "Ctrl+B", run: () => cmd.setMode(ids, "bypass") },
      { label: `${cmd.isMode(node.id, "mute") ? "Unmute" : "Mute"}${many}`, keys: "Ctrl+M", run: () => cmd.setMode(ids, "mute") },
      ...(ids.length === 1 ? [{ label: "Collapse / expand", run: () => cmd.toggleCollapsed(node.id) }] : []),
      "separator",
      { label: "Duplicate", keys: "Ctrl+D", run: () => cmd.duplicate(ids) },
      { label: "Copy", keys: "Ctrl+C", run: () => cmd.copy(ids) },
      { label: "Delete", keys: "Delete", run: () => cmd.remove(ids) },
    ]);
  };

  const onEdgeContextMenu = (e: ReactMouseEvent, edge: Edge) => {
    const at = cmd.toFlow({ x: e.clientX, y: e.clientY });
    open(e, `${edge.source}.${edge.sourceHandle} → ${edge.target}.${edge.targetHandle}`, [
      { label: "Add reroute point here", run: () => cmd.addReroute(edge.id, at) },
      { label: "Delete link", keys: "Delete", run: () => cmd.removeEdge(edge.id) },
    ]);
  };

  const onRerouteContextMenu = (e: ReactMouseEvent, edgeId: string, index: number) => {
    open(e, "Reroute point", [{ label: "Remove reroute point", run: () => cmd.removeReroute(edgeId, index) }]);
  };

  return { menu, close, onPaneContextMenu, onNodeContextMenu, onEdgeContextMenu, onRerouteContextMenu };
}

// Groups and notes: what a graph carries for the people reading it, not for the engine. They
// are React Flow nodes of their own types ("group", "note") in the editor, and lists under the
// file's `ui` ({ groups: [...], notes: [...] }), which the engine ignores.
import type { Node } from "@xyflow/react";
import type { WorkflowDoc } from "../api/types.js";

export type GroupNode = Node<{ title: string; color?: string }, "group">;
export type NoteNode = Node<{ text: string }, "note">;
export type DecorNode = GroupNode | NoteNode;

interface Box {
  id: string;
  x: number;
  y: number;
  width: number;
  height: number;
}

export interface GroupDoc extends Box {
  title: string;
  color?: string;
}

export interface NoteDoc extends Box {
  text: string;
}

export const GROUP_SIZE = { width: 420, height: 300 };
export const NOTE_SIZE = { width: 240, height: 120 };

/** Decor ids never clash with node ids: node ids use letters, digits, _ . - only. */
export const isDecorId = (id: string): boolean => id.startsWith("group:") || id.startsWith("note:");

export function newDecorId(kind: "group" | "note", taken: readonly { id: string }[]): string {
  for (let n = 1; ; n++) {
    const id = `${kind}:${n}`;
    if (!taken.some((d) => d.id === id)) return id;
  }
}

const num = (v: unknown, fallback: number): number => (typeof v === "number" && Number.isFinite(v) ? v : fallback);

export function decorFromDoc(doc: WorkflowDoc): DecorNode[] {
  const ui = (doc.ui ?? {}) as { groups?: unknown; notes?: unknown };
  const list = (v: unknown): Record<string, unknown>[] => (Array.isArray(v) ? v.filter((x) => typeof x === "object" && x !== null) : []);
  const out: DecorNode[] = [];
  for (const g of list(ui.groups)) {
    out.push({
      id: typeof g.id === "string" && isDecorId(g.id) ? g.id : newDecorId("group", out),
      type: "group",
      position: { x: num(g.x, 0), y: num(g.y, 0) },
      width: num(g.width, GROUP_SIZE.width),
      height: num(g.height, GROUP_SIZE.height),
      zIndex: -1,
      data: { title: typeof g.title === "string" ? g.title : "Group", ...(typeof g.color === "string" ? { color: g.color } : {}) },
    });
  }
  for (const n of list(ui.notes)) {
    out.push({
      id: typeof n.id === "string" && isDecorId(n.id) ? n.id : newDecorId("note", out),
      type: "note",
      position: { x: num(n.x, 0), y: num(n.y, 0) },
      width: num(n.width, NOTE_SIZE.width),
      height: num(n.height, NOTE_SIZE.height),
      data: { text: typeof n.text === "string" ? n.text : "" },
    });
  }
  return out;
}

/** The `ui` fields for decor; empty when there is none, so files without decor stay as they were. */
export function decorToDocUi(decor: readonly DecorNode[]): { groups?: GroupDoc[]; notes?: NoteDoc[] } {
  const box = (d: DecorNode, size: { width: number; height: number }): Box => ({
    id: d.id,
    x: Math.round(d.position.x),
    y: Math.round(d.position.y),
    width: Math.round(d.width ?? d.measured?.width ?? size.width),
    height: Math.round(d.height ?? d.measured?.height ?? size.height),
  });
  const groups = decor.flatMap((d) => (d.type === "group" ? [{ ...box(d, GROUP_SIZE), title: d.data.title, ...(d.data.color ? { color: d.data.color } : {}) }] : []));
  const notes = decor.flatMap((d) => (d.type === "note" ? [{ ...box(d, NOTE_SIZE), text: d.data.text }] : []));
  return { ...(groups.length ? { groups } : {}), ...(notes.length ? { notes } : {}) };
}

// Socket types and their colours. Known types get fixed colours; a type added later gets a
// stable colour derived from its name, so new node types need no editor change.
import type { InputDef } from "../api/types.js";

const SOCKET_COLORS: Record<string, string> = {
  MODEL: "#a78bfa",
  TEXT: "#34d399",
  SCHEDULE: "#fbbf24",
  CANVAS: "#60a5fa",
  CANVASES: "#22d3ee",
  NUMBER: "#fb923c",
};

export function socketColor(socket: string | undefined): string {
  if (!socket || socket === ANY) return "#94a3b8";
  const known = SOCKET_COLORS[socket];
  if (known) return known;
  let hash = 0;
  for (const char of socket) hash = (hash * 31 + char.charCodeAt(0)) >>> 0;
  return `hsl(${hash % 360} 70% 62%)`;
}

/** An input whose socket is "*" takes a link from any output (Show Text). */
export const ANY = "*";

/** The socket types an input accepts ("*": any); empty for widget-only inputs. */
export function inputSockets(def: InputDef): string[] {
  if (def.socket === undefined) return [];
  return Array.isArray(def.socket) ? [...def.socket] : [def.socket];
}

/** Whether an input takes a link from an output of this socket type. */
export function acceptsSocket(def: InputDef, socket: string): boolean {
  const accepted = inputSockets(def);
  return accepted.includes(ANY) || accepted.includes(socket);
}

/** "TEXT or CANVAS", "any" for "*": what an input takes, in words. */
export function socketWords(def: InputDef): string {
  const accepted = inputSockets(def);
  return accepted.includes(ANY) ? "any" : accepted.join(" or ");
}

/** Inputs that can take a constant get a widget; `kind` says the constant's JSON type. */
export function hasWidget(def: InputDef): boolean {
  return def.kind !== undefined;
}

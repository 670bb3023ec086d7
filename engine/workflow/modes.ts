// Bypass and mute, ComfyUI's node modes, applied to a checked graph before it is ordered.
//
// - A muted node does not run. A node whose required input comes from it does not run either
//   (it has nothing to work on), and so on downstream; an optional input from it is left unset.
// - A bypassed node does not run: each of its outputs passes on the first of its inputs that
//   carries the same socket type (a linked one first, then a constant), so a bypassed Remask
//   hands its canvas straight to the next Denoise. An output with no such input is a problem on
//   the input that reads it, unless that input is optional.
//
// Only socket types decide what passes through: the engine knows no node by name here.
import type { NodeDefinition, NodeMode, SocketType } from "../types.js";
import { acceptsSocket, type CompiledNode } from "./compile.js";
import type { Issue } from "./issues.js";
import { isLink, type Link } from "./schema.js";

/** A node compiled with its mode (muted nodes are not compiled at all). */
export type ModedNode = CompiledNode & { mode?: NodeMode };

export interface ModeResult {
  /** The nodes that will run, with links resolved through bypassed nodes. */
  active: Map<string, CompiledNode>;
  /** Nodes that will not run, and why (in the document's order). */
  skipped: { nodeId: string; because: string }[];
  issues: Issue[];
}

type Value = Link | { value: unknown };
/** What a link delivers once modes are applied: a value, nothing (and why), or a stop (and why). */
type Delivered = { value: Value } | { none: string } | { off: string };

export function applyModes(
  compiled: ReadonlyMap<string, ModedNode>,
  muted: ReadonlySet<string>,
  /** The definition of any node in the document (muted ones included), for its outputs' socket types. */
  defOf: (id: string) => NodeDefinition | undefined,
  /** Every node id, each after the nodes it reads from. */
  order: readonly string[],
): ModeResult {
  const issues: Issue[] = [];
  const off = new Map<string, string>();
  const active = new Map<string, CompiledNode>();
  for (const id of muted) off.set(id, "muted");
  // Output names are data: "constructor" must not find Object's.
  const socketOf = (link: Link): SocketType | undefined => {
    const outputs = defOf(link.from)?.outputs;
    return outputs && Object.hasOwn(outputs, link.output) ? outputs[link.output].socket : undefined;
  };

  // Follows a link through bypassed nodes (a loop, not recursion: a long chain of bypassed nodes
  // must not overflow the call stack).
  const deliver = (start: Link): Delivered => {
    const seen = new Set<string>();
    let link = start;
    for (;;) {
      const stop = off.get(link.from);
      if (stop !== undefined) return { off: `${link.from}, which ${stop === "muted" ? "is muted" : "does not run"}` };
      const source = compiled.get(link.from);
      if (source?.mode !== "bypass") return { value: link };
      if (seen.has(link.from)) return { none: `${link.from} is bypassed in a loop` };
      seen.add(link.from);
      const socket = socketOf(link);
      const inputs = Object.entries(source.inputs);
      // A linked input of the output's type first (what the node would have worked on), then a constant.
      const through = inputs.find(([, value]) => isLink(value) && socketOf(value) === socket)?.[1] as Link | undefined;
      if (through) {
        link = through;
        continue;
      }
      for (const [name, value] of inputs) {
        if (!isLink(value) && socket && source.def.inputs[name].kind !== undefined && acceptsSocket(source.def.inputs[name], socket)) return { value };
      }
      return { none: `${link.from} is bypassed and has no ${socket ?? "matching"} input to pass on` };
    }
  };

  for (const id of order) {
    const node = compiled.get(id);
    if (!node || off.has(id)) continue;
    if (node.mode === "bypass") continue; // resolved where its outputs are read
    const inputs: CompiledNode["inputs"] = {};
    let stopped: string | null = null;
    for (const [name, value] of Object.entries(node.inputs)) {
      if (!isLink(value)) {
        inputs[name] = value;
        continue;
      }
      const got = deliver(value);
      if ("value" in got) {
        inputs[name] = got.value;
        continue;
      }
      const def = node.def.inputs[name];
      if (def.optional || def.default !== undefined) {
        if (def.default !== undefined) inputs[name] = { value: def.default };
        continue;
      }
      if ("none" in got) issues.push({ nodeId: id, input: name, code: "bypass", message: got.none });
      else stopped ??= `${name} comes from ${got.off}`;
    }
    if (stopped !== null) off.set(id, stopped);
    else active.set(id, { id, def: node.def, inputs });
  }
  const because = (id: string) => off.get(id) ?? (compiled.get(id)?.mode === "bypass" ? "bypassed" : undefined);
  const skipped = order.flatMap((id) => {
    const why = because(id);
    return why === undefined ? [] : [{ nodeId: id, because: why }];
  });
  return { active, skipped, issues };
}

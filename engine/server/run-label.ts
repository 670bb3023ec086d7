// What tells queue entries apart when the same workflow is queued again and again: its seeds (the
// inputs whose widget is "seed") and which inputs differ from the run before it of the same graph.
import type { NodeRegistry } from "../registry.js";
import { isLink, type WorkflowDoc } from "../workflow/schema.js";

/** Longest value shown in a change ("prompt.text "The man…" → "She…""). */
const VALUE_CHARS = 24;
/** Changes listed per run; past that, "and N more". */
const MAX_CHANGES = 6;

/** `{"<nodeId>.<input>": seed}` for every constant seed input of the run. */
export function seedsOf(doc: WorkflowDoc, registry: NodeRegistry): Record<string, number> {
  const seeds: Record<string, number> = {};
  for (const [id, node] of Object.entries(doc.nodes)) {
    if (node.mode === "mute") continue;
    const def = registry.get(node.type);
    for (const [name, input] of Object.entries(def?.inputs ?? {})) {
      if (input.widget !== "seed") continue;
      const value = node.inputs[name] ?? input.default;
      if (typeof value === "number") seeds[`${id}.${name}`] = value;
    }
  }
  return seeds;
}

function show(value: unknown): string {
  if (value === undefined) return "unset";
  if (isLink(value)) return `${value.from}.${value.output}`;
  const text = JSON.stringify(value) ?? String(value);
  return text.length > VALUE_CHARS ? `${text.slice(0, VALUE_CHARS - 1)}…${typeof value === "string" ? '"' : ""}` : text;
}

/** What differs from `previous` (the earlier run of the same graph): inputs, added and removed nodes, modes. */
export function changesFrom(previous: WorkflowDoc | null, doc: WorkflowDoc): string[] {
  if (!previous) return [];
  const out: string[] = [];
  for (const [id, node] of Object.entries(doc.nodes)) {
    const before = previous.nodes[id];
    if (!before || before.type !== node.type) {
      out.push(`+${id}`);
      continue;
    }
    if ((before.mode ?? "") !== (node.mode ?? "")) out.push(`${id} ${node.mode ?? "on"}`);
    for (const name of new Set([...Object.keys(before.inputs), ...Object.keys(node.inputs)])) {
      const a = before.inputs[name];
      const b = node.inputs[name];
      if (JSON.stringify(a) !== JSON.stringify(b)) out.push(`${id}.${name} ${show(a)} → ${show(b)}`);
    }
  }
  for (const id of Object.keys(previous.nodes)) if (!(id in doc.nodes)) out.push(`−${id}`);
  return out.length > MAX_CHANGES ? [...out.slice(0, MAX_CHANGES - 1), `and ${out.length - MAX_CHANGES + 1} more`] : out;
}

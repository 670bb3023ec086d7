import type { WorkflowDoc } from "../workflow/schema.js";

/** Human-readable outputs: each output node's text under its title. */
export function printOutputs(outputs: Record<string, unknown>, doc: WorkflowDoc, out: NodeJS.WritableStream = process.stdout): void {
  const entries = Object.entries(outputs);
  for (const [nodeId, value] of entries) {
    const title = doc.nodes[nodeId]?.title ?? nodeId;
    const text = (value as { text?: unknown } | null)?.text;
    if (entries.length > 1) out.write(`== ${title}\n`);
    if (Array.isArray(text)) text.forEach((t, i) => out.write(`[${i + 1}] ${String(t)}\n`));
    else if (typeof text === "string") out.write(text + "\n");
    else out.write(JSON.stringify(value, null, 2) + "\n");
  }
}

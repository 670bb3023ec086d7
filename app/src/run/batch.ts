// Batch count: one press of Run queues N runs. Identical runs would only come from the cache,
// so each run's seed inputs (widget "seed") go up by one: run i uses seed + i, wrapping at the
// input's max. The overrides travel with the run (as `maskflow run --set`), the graph is untouched.
import type { WorkflowDoc } from "../api/types.js";
import { isLink, type Catalog } from "../graph/workflow.js";

export function batchOverrides(doc: WorkflowDoc, catalog: Catalog, count: number): Record<string, unknown>[] {
  const seeds: { key: string; value: number; min: number; max: number }[] = [];
  for (const [id, node] of Object.entries(doc.nodes)) {
    if (node.mode) continue;
    for (const [name, input] of Object.entries(catalog.get(node.type)?.inputs ?? {})) {
      if (input.widget !== "seed") continue;
      const value = node.inputs[name] ?? input.default;
      if (typeof value !== "number" || isLink(value)) continue;
      seeds.push({ key: `${id}.${name}`, value, min: input.min ?? 0, max: input.max ?? Number.MAX_SAFE_INTEGER });
    }
  }
  return Array.from({ length: count }, (_, i) =>
    Object.fromEntries(i === 0 ? [] : seeds.map((s) => [s.key, s.value + i > s.max ? s.min + (s.value + i - s.max - 1) : s.value + i])),
  );
}

import type { NodeCatalogEntry } from "../api/types.js";

/** Ranks node types for a query: title prefix, then word prefix, then anywhere (title, type, category, description). */
export function searchCatalog(entries: readonly NodeCatalogEntry[], query: string): NodeCatalogEntry[] {
  const q = query.trim().toLowerCase();
  if (!q) return [...entries].sort((a, b) => a.category.localeCompare(b.category) || a.title.localeCompare(b.title));
  const words = q.split(/\s+/);
  const scored: { entry: NodeCatalogEntry; score: number }[] = [];
  for (const entry of entries) {
    const title = entry.title.toLowerCase();
    const hay = `${title} ${entry.type.toLowerCase()} ${entry.category.toLowerCase()} ${entry.description.toLowerCase()} ${entry.source?.package.toLowerCase() ?? ""}`;
    if (!words.every((w) => hay.includes(w))) continue;
    let score = 3;
    if (title.startsWith(q) || entry.type.toLowerCase().startsWith(q)) score = 0;
    else if (title.split(/\s+/).some((w) => w.startsWith(words[0]))) score = 1;
    else if (title.includes(q)) score = 2;
    scored.push({ entry, score });
  }
  return scored.sort((a, b) => a.score - b.score || a.entry.title.localeCompare(b.entry.title)).map((s) => s.entry);
}

export function groupByCategory(entries: readonly NodeCatalogEntry[]): [string, NodeCatalogEntry[]][] {
  const groups = new Map<string, NodeCatalogEntry[]>();
  for (const entry of entries) {
    const list = groups.get(entry.category) ?? [];
    list.push(entry);
    groups.set(entry.category, list);
  }
  return [...groups.entries()]
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([category, list]) => [category, list.sort((a, b) => a.title.localeCompare(b.title))]);
}

/** A readable, unused node id derived from the node type: `denoise`, `denoise_2`, ... */
export function newNodeId(type: string, taken: ReadonlySet<string>): string {
  const base = type.replace(/([a-z0-9])([A-Z])/g, "$1_$2").toLowerCase().replace(/[^a-z0-9_.-]/g, "") || "node";
  if (!taken.has(base)) return base;
  for (let n = 2; ; n++) {
    const candidate = `${base}_${n}`;
    if (!taken.has(candidate)) return candidate;
  }
}

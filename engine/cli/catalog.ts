// `maskflow nodes`: the catalog grouped by where each node comes from (built in, or a node
// package with its path), then the packages that were skipped and why.
import type { PackageProblem } from "../plugins/index.js";
import type { NodeCatalogEntry } from "../types.js";

function describe(def: NodeCatalogEntry): string {
  const ins = Object.entries(def.inputs).map(([n, d]) => `${n}${d.optional ? "?" : ""}: ${d.socket ? [d.socket].flat().join("|") : d.kind}`);
  const outs = Object.entries(def.outputs).map(([n, d]) => `${n}: ${d.socket}`);
  return `  ${def.type.padEnd(14)} [${def.category}] ${def.description}\n  ${" ".repeat(15)}(${ins.join(", ")}) -> (${outs.join(", ") || "output"})\n`;
}

export function printCatalog(catalog: NodeCatalogEntry[], skipped: PackageProblem[], out: NodeJS.WritableStream): void {
  const groups = new Map<string, NodeCatalogEntry[]>();
  for (const def of catalog) {
    const heading = def.source ? `from ${def.source.package} (${def.source.path})` : "built in";
    groups.set(heading, [...(groups.get(heading) ?? []), def]);
  }
  let first = true;
  for (const [heading, defs] of groups) {
    out.write(`${first ? "" : "\n"}${heading}:\n${defs.map(describe).join("")}`);
    first = false;
  }
  for (const s of skipped) out.write(`\nskipped ${s.name} (${s.path}):\n${s.problems.map((p) => `  ${p}\n`).join("")}`);
}

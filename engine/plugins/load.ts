// Imports one node package and takes the node definitions it exports, or says why it cannot:
// a syntax error, a throw on import, no definitions, an invalid definition. Never throws.
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { extname } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import type { NodeDefinition } from "../types.js";
import { definitionProblems } from "./definition.js";
import type { PackageCandidate } from "./find.js";

export type LoadResult = { ok: true; definitions: NodeDefinition[] } | { ok: false; problems: string[] };

/**
 * Where a module's syntax error is ("/a/b.js:3"). Node's ESM loader keeps the location out of the
 * error it throws (it only prints it for an uncaught one), so ask `node --check`, which prints it
 * first; this costs a process start, paid only for a package that is broken anyway.
 */
function syntaxErrorLocation(entry: string): string | null {
  // In the desktop app process.execPath is Electron, which runs as plain Node only when told to.
  const env = { ...process.env, ELECTRON_RUN_AS_NODE: "1" };
  const check = spawnSync(process.execPath, ["--check", entry], { encoding: "utf8", timeout: 10_000, env });
  const first = (check.stderr ?? "").split("\n")[0].trim();
  const match = /^(.+):(\d+)$/.exec(first);
  if (!match) return null;
  const file = match[1].startsWith("file://") ? fileURLToPath(match[1]) : match[1];
  return `${file}:${match[2]}`;
}

function importProblem(entry: string, err: unknown): string {
  if (!(err instanceof Error)) return `importing ${entry} threw ${JSON.stringify(err)}`;
  if ((err as NodeJS.ErrnoException).code === "ERR_UNKNOWN_FILE_EXTENSION" && extname(entry) === ".ts") {
    return `${entry} is TypeScript, which this Node cannot import: point the package at built JavaScript`;
  }
  if (err instanceof SyntaxError) return `syntax error in ${syntaxErrorLocation(entry) ?? entry}: ${err.message}`;
  return `importing ${entry} threw: ${err.message}`;
}

/**
 * The definitions a module exports, in today's format (what nodes/*.ts export): a default export
 * that is one definition or a list of them, and/or a named export `nodes` that is a list.
 */
function exportedDefinitions(mod: Record<string, unknown>): unknown[] | null {
  const found: unknown[] = [];
  const take = (value: unknown) => found.push(...(Array.isArray(value) ? value : [value]));
  if (mod.default !== undefined) take(mod.default);
  if (mod.nodes !== undefined) take(mod.nodes);
  return found.length ? [...new Set(found)] : null;
}

export async function loadPackage(candidate: PackageCandidate): Promise<LoadResult> {
  if (!existsSync(candidate.path)) return { ok: false, problems: ["no such file or folder"] };
  if (!candidate.entry) {
    return { ok: false, problems: ["no module to load: give package.json a \"maskflow\": { \"nodes\": \"./index.js\" } field (or \"main\"), or add an index.js"] };
  }
  let mod: Record<string, unknown>;
  try {
    mod = (await import(pathToFileURL(candidate.entry).href)) as Record<string, unknown>;
  } catch (err) {
    return { ok: false, problems: [importProblem(candidate.entry, err)] };
  }
  const exported = exportedDefinitions(mod);
  if (!exported) {
    return { ok: false, problems: [`${candidate.entry} exports no node definitions: export default a definition or a list of them, or export const nodes = [...]`] };
  }
  const problems: string[] = [];
  exported.forEach((value, i) => {
    const label = typeof (value as { type?: unknown })?.type === "string" ? `node "${(value as { type: string }).type}"` : `definition #${i + 1}`;
    for (const problem of definitionProblems(value)) problems.push(`${label}: ${problem}`);
  });
  return problems.length ? { ok: false, problems } : { ok: true, definitions: exported as NodeDefinition[] };
}

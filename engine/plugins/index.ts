// Node packages: finding them (MASKFLOW_NODES, the user nodes folder, installed npm packages),
// loading them, and assembling a registry of the built-in nodes plus theirs. The engine knows no
// node by name: the CLI, the server and the desktop shell call assembleRegistry with the built-in
// definitions. A broken package is reported with its path and skipped, whole: start-up never
// fails because of one, and half a package (a node whose helper node failed) is never loaded.
import { NodeRegistry } from "../registry.js";
import type { NodeDefinition, NodeSource } from "../types.js";
import { findPackages, type PackageCandidate, type PackageOrigin, type SearchOptions } from "./find.js";
import { loadPackage } from "./load.js";

export { defaultUserNodesDir, findPackages, foldersFromEnv, type PackageCandidate, type PackageOrigin, type SearchOptions } from "./find.js";
export { definitionProblems } from "./definition.js";

export interface LoadedPackage {
  name: string;
  path: string;
  origin: PackageOrigin;
  /** The node types it added. */
  types: string[];
}

export interface PackageProblem {
  name: string;
  path: string;
  origin: PackageOrigin;
  /** Plain words, one problem each. */
  problems: string[];
}

export interface AssembledRegistry {
  registry: NodeRegistry;
  packages: LoadedPackage[];
  /** Packages that were skipped, and why. */
  skipped: PackageProblem[];
}

/** One line per problem, each naming the package's path: what the CLI prints and the server logs. */
export function formatSkipped(skipped: PackageProblem): string {
  return `node package ${skipped.name} (${skipped.path}) skipped: ${skipped.problems.join("; ")}`;
}

/** Why a package's types cannot be added, given those already registered (and by whom). */
function clashes(definitions: NodeDefinition[], owners: Map<string, string>): string[] {
  const problems: string[] = [];
  const own = new Set<string>();
  for (const def of definitions) {
    if (own.has(def.type)) problems.push(`node type "${def.type}" is defined twice in this package`);
    else if (owners.has(def.type)) problems.push(`node type "${def.type}" is already taken by ${owners.get(def.type)}`);
    own.add(def.type);
  }
  return problems;
}

/** The built-in nodes plus every package that loads; the others are reported in `skipped`. */
export async function assembleRegistry(builtins: readonly NodeDefinition[], options: SearchOptions = {}): Promise<AssembledRegistry> {
  const registry = new NodeRegistry(builtins);
  const owners = new Map<string, string>(builtins.map((def) => [def.type, "a built-in node"]));
  const packages: LoadedPackage[] = [];
  const skipped: PackageProblem[] = [];
  const skip = (c: PackageCandidate, problems: string[]) => skipped.push({ name: c.name, path: c.path, origin: c.origin, problems });

  for (const candidate of findPackages(options)) {
    const result = await loadPackage(candidate);
    if (!result.ok) {
      skip(candidate, result.problems);
      continue;
    }
    const problems = clashes(result.definitions, owners);
    if (problems.length) {
      skip(candidate, problems);
      continue;
    }
    const source: NodeSource = { package: candidate.name, path: candidate.path };
    for (const def of result.definitions) {
      registry.register(def, source);
      owners.set(def.type, `package ${candidate.name} (${candidate.path})`);
    }
    packages.push({ name: candidate.name, path: candidate.path, origin: candidate.origin, types: result.definitions.map((d) => d.type) });
  }
  return { registry, packages, skipped };
}

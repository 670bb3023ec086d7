// Where node packages are looked for, and how a folder, a file or an npm package becomes a
// candidate with a name and an entry module. Reading only: nothing here imports a package.
import { existsSync, readdirSync, readFileSync, realpathSync, statSync } from "node:fs";
import { homedir } from "node:os";
import { basename, delimiter, dirname, extname, join, resolve } from "node:path";
import { PACKAGE_ROOT } from "../paths.js";

/** How a package was found: it decides nothing but is shown by `maskflow nodes`. */
export type PackageOrigin = "MASKFLOW_NODES" | "user" | "npm";

export interface PackageCandidate {
  /** package.json "name", else the folder's (or file's) name. */
  name: string;
  /** The package's folder, or the file for a one-file package. */
  path: string;
  origin: PackageOrigin;
  /** The module to import; null when none could be found (reported as a problem). */
  entry: string | null;
}

export interface SearchOptions {
  /** Package folders (default: MASKFLOW_NODES, split on the platform's path delimiter). */
  folders?: string[];
  /** A folder whose every subfolder (or .js/.mjs file) is a package; null for none. */
  userDir?: string | null;
  /** node_modules folders to search for installed packages. */
  npmRoots?: string[];
}

/** `~/.maskflow/nodes`, or MASKFLOW_NODES_DIR. */
export function defaultUserNodesDir(): string {
  return process.env.MASKFLOW_NODES_DIR || join(homedir(), ".maskflow", "nodes");
}

/** The folders named by MASKFLOW_NODES. */
export function foldersFromEnv(value = process.env.MASKFLOW_NODES ?? ""): string[] {
  return value.split(delimiter).map((s) => s.trim()).filter(Boolean).map((s) => resolve(s));
}

/**
 * node_modules folders where installed packages live: the working directory's (a project that
 * depends on Maskflow), Maskflow's own (a checkout), and the one Maskflow itself is installed in
 * (a dependency's siblings, or a global install beside `npm install -g maskflow-nodes-x`).
 */
export function defaultNpmRoots(): string[] {
  const roots = [join(process.cwd(), "node_modules"), join(PACKAGE_ROOT, "node_modules")];
  if (basename(dirname(PACKAGE_ROOT)) === "node_modules") roots.push(dirname(PACKAGE_ROOT));
  return roots;
}

const ENTRY_FILES = ["index.js", "index.mjs", "index.ts"];
const MODULE_EXTENSIONS = new Set([".js", ".mjs", ".ts"]);

interface PackageJson {
  name?: unknown;
  main?: unknown;
  exports?: unknown;
  maskflow?: unknown;
}

function readPackageJson(dir: string): PackageJson | null {
  try {
    return JSON.parse(readFileSync(join(dir, "package.json"), "utf8")) as PackageJson;
  } catch {
    return null;
  }
}

/** The module a package.json points at: maskflow.nodes, then exports["."], then main. */
function declaredEntry(pkg: PackageJson): string | undefined {
  const fromMaskflow = typeof pkg.maskflow === "object" && pkg.maskflow !== null ? (pkg.maskflow as { nodes?: unknown }).nodes : undefined;
  if (typeof fromMaskflow === "string") return fromMaskflow;
  let exp = pkg.exports;
  if (typeof exp === "object" && exp !== null && "." in exp) exp = (exp as Record<string, unknown>)["."];
  if (typeof exp === "object" && exp !== null) exp = (exp as Record<string, unknown>).import ?? (exp as Record<string, unknown>).default;
  if (typeof exp === "string") return exp;
  return typeof pkg.main === "string" ? pkg.main : undefined;
}

/** A package folder as a candidate (whether or not it has a package.json). */
export function folderCandidate(dir: string, origin: PackageOrigin, pkg = readPackageJson(dir)): PackageCandidate {
  const name = typeof pkg?.name === "string" && pkg.name ? pkg.name : basename(dir);
  const declared = pkg ? declaredEntry(pkg) : undefined;
  const entry = declared !== undefined ? resolve(dir, declared) : ENTRY_FILES.map((f) => join(dir, f)).find((f) => existsSync(f));
  return { name, path: dir, origin, entry: entry && existsSync(entry) ? entry : null };
}

function isDirectory(path: string): boolean {
  try {
    return statSync(path).isDirectory();
  } catch {
    return false;
  }
}

function listDir(dir: string): string[] {
  try {
    return readdirSync(dir).filter((n) => !n.startsWith("."));
  } catch {
    return [];
  }
}

/**
 * The packages of a node_modules folder worth reading: every one named maskflow-nodes-*, and those
 * that could declare a "maskflow" field. When the folder belongs to a project (its parent has a
 * package.json), those are the project's own dependencies: reading every transitive dependency's
 * package.json (hundreds in a Maskflow checkout) would cost each CLI start ~20 ms. A folder
 * without one (a global install's) is read whole.
 */
function npmDirs(root: string): string[] {
  const all = listDir(root).flatMap((name) => (name.startsWith("@") ? listDir(join(root, name)).map((n) => `${name}/${n}`) : [name]));
  const named = all.filter((name) => /^(@[^/]+\/)?maskflow-nodes-/.test(name));
  const owner = readPackageJson(dirname(root)) as (PackageJson & Record<string, unknown>) | null;
  if (!owner) return all.map((name) => join(root, name));
  const declared = ["dependencies", "devDependencies", "optionalDependencies", "peerDependencies"].flatMap((key) =>
    typeof owner[key] === "object" && owner[key] !== null ? Object.keys(owner[key] as object) : [],
  );
  const present = new Set(all);
  return [...new Set([...named, ...declared.filter((name) => present.has(name))])].map((name) => join(root, name));
}

/** Installed npm packages named maskflow-nodes-* (scoped too) or declaring a "maskflow" field. */
function npmCandidates(root: string): PackageCandidate[] {
  const out: PackageCandidate[] = [];
  for (const dir of npmDirs(root)) {
    const pkg = readPackageJson(dir);
    if (!pkg || pkg.name === "maskflow") continue;
    if (/^maskflow-nodes-/.test(basename(dir)) || pkg.maskflow !== undefined) out.push(folderCandidate(dir, "npm", pkg));
  }
  return out;
}

/** Each subfolder, and each .js/.mjs/.ts file, of the user nodes folder. */
function userCandidates(dir: string): PackageCandidate[] {
  return listDir(dir).flatMap((name): PackageCandidate[] => {
    const path = join(dir, name);
    if (isDirectory(path)) return [folderCandidate(path, "user")];
    if (MODULE_EXTENSIONS.has(extname(name))) return [{ name: basename(name, extname(name)), path, origin: "user", entry: path }];
    return [];
  });
}

function realpath(path: string): string {
  try {
    return realpathSync(path);
  } catch {
    return path;
  }
}

/** Every candidate, in load order (MASKFLOW_NODES, the user folder, npm), each folder once. */
export function findPackages(options: SearchOptions = {}): PackageCandidate[] {
  const folders = options.folders ?? foldersFromEnv();
  const userDir = options.userDir === undefined ? defaultUserNodesDir() : options.userDir;
  const npmRoots = options.npmRoots ?? defaultNpmRoots();
  const all = [
    ...folders.map((dir) => folderCandidate(dir, "MASKFLOW_NODES")),
    ...(userDir ? userCandidates(userDir) : []),
    ...[...new Set(npmRoots.map(realpath))].flatMap(npmCandidates),
  ];
  const seen = new Set<string>();
  return all.filter((c) => {
    const key = realpath(c.path);
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}

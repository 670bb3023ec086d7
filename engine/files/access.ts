// Which files a node may read, and how paths appear in what it says. The CLI runs the user's own
// workflows with the user's own rights: any path. A served instance runs workflows that anyone
// with the token (or, without one, any local process) sends: models and adapters load only from
// its configured roots, a path outside them is refused with the same words whether or not it
// exists, and absolute paths are taken out of messages and events.
import { realpathSync } from "node:fs";
import { realpath } from "node:fs/promises";
import { isAbsolute, relative, resolve, sep } from "node:path";
import { PACKAGE_ROOT, resolveResource } from "../paths.js";
import { NodeInputError } from "../run/errors.js";
import type { InspectFiles, NodeFiles } from "../types.js";

/** A folder a served instance loads from; `shown` replaces its absolute path in messages. */
export interface FileRoot {
  path: string;
  /** What a path inside it is shown as, e.g. "models/" for the bundled folder: shown + the relative path. */
  shown: string;
  /** Named in the refusal, e.g. "the bundled models", "--models". */
  label: string;
}

export interface FileAccess {
  /**
   * The absolute path a node's input names (relative paths as the node documents them). Confined:
   * the real path (symlinks followed), refused unless it lies inside a root. Throws PathRefused.
   */
  resolve(path: string): Promise<string>;
  /**
   * resolve() for nodes' static checks (NodeDefinition.inspect), which run synchronously while a
   * workflow is validated: the same rules, the same refusals.
   */
  resolveSync(path: string): string;
  /** The real root folders that every file read must stay inside; null when unrestricted. */
  readonly roots: readonly string[] | null;
  /** A message or log line as a client may see it: absolute paths replaced (confined) or as it is. */
  redact(text: string): string;
}

/** A path outside the roots (or one that does not exist there); the executor names the input. */
export class PathRefused extends Error {
  constructor(message: string) {
    super(message);
    this.name = "PathRefused";
  }
}

/** The CLI's access: any path, messages as they are. */
export const unrestrictedFiles: FileAccess = {
  resolve: async (path) => resolveResource(path),
  resolveSync: (path) => resolveResource(path),
  roots: null,
  redact: (text) => text,
};

/** What a node sees of an access (ctx.files): refusals become NodeInputErrors naming the input. */
export function nodeFiles(access: FileAccess): NodeFiles {
  return {
    roots: access.roots,
    async resolve(input, path) {
      try {
        return await access.resolve(path);
      } catch (err) {
        if (err instanceof PathRefused) throw new NodeInputError(input, err.message);
        throw err;
      }
    },
  };
}

/**
 * What a node's inspect() sees of an access: a path it may read, or null (refused, or not there:
 * inspect says nothing then, and the run reports it), and messages as a client may see them.
 */
export function inspectFiles(access: FileAccess): InspectFiles {
  return {
    roots: access.roots,
    resolve(path) {
      try {
        return access.resolveSync(path);
      } catch (err) {
        if (err instanceof PathRefused) return null;
        throw err;
      }
    },
  };
}

function realOrResolved(path: string): string {
  try {
    return realpathSync(path);
  } catch {
    return resolve(path); // not there (yet): nothing inside it can be loaded until it is
  }
}

export function isInside(root: string, path: string): boolean {
  const rel = relative(root, path);
  return rel === "" || (!rel.startsWith("..") && !isAbsolute(rel));
}

/** Confined to `roots` (which need not exist yet); `holder` is who refuses ("this server", "this worker"). */
export function confinedFiles(roots: FileRoot[], holder = "this server"): FileAccess {
  const real = roots.map((r) => ({ ...r, real: realOrResolved(r.path), given: resolve(r.path) }));
  const realRoots = [...new Set(real.map((r) => r.real))];
  const labels = [...new Set(real.map((r) => r.label))].join(", ");
  // Longest first, so a root inside another is shown by its own name.
  const byLength = real.flatMap((r) => [{ from: r.real, to: r.shown }, { from: r.given, to: r.shown }]).sort((a, b) => b.from.length - a.from.length);
  const extraPrefixes = [PACKAGE_ROOT.replace(/[\\/]+$/, ""), process.env.HOME, process.env.USERPROFILE].filter((p): p is string => Boolean(p && p.length > 1));

  const refusal = (path: string) => new PathRefused(`"${clip(path)}" is not a model or adapter in the folders ${holder} loads from (${labels}); its operator can add one with --models`);
  // Relative paths are looked up in each root, then in the package (so "models/default" works).
  const candidatesOf = (path: string): string[] => {
    if (path.includes("\0") || path.trim() === "") throw refusal(path);
    return isAbsolute(path) ? [path] : [...real.map((r) => resolve(r.real, path)), resolve(PACKAGE_ROOT, path)];
  };
  const allowed = (target: string) => realRoots.some((root) => isInside(root, target));

  return {
    roots: realRoots,
    async resolve(path) {
      for (const candidate of candidatesOf(path)) {
        let target: string;
        try {
          target = await realpath(candidate);
        } catch {
          continue;
        }
        if (allowed(target)) return target;
      }
      throw refusal(path);
    },
    resolveSync(path) {
      for (const candidate of candidatesOf(path)) {
        let target: string;
        try {
          target = realpathSync(candidate);
        } catch {
          continue;
        }
        if (allowed(target)) return target;
      }
      throw refusal(path);
    },
    redact(text) {
      let out = text;
      for (const { from, to } of byLength) out = out.split(from + sep).join(to).split(from).join(to.replace(/\/$/, "") || ".");
      for (const prefix of extraPrefixes) out = out.split(prefix).join("…");
      // Whatever absolute path is left (a temp folder, a system file): its last part only.
      return out.replace(/(^|[\s"'(=:])(\/(?:[^\s"'/)]+\/)+)([^\s"'/)]*)/g, (_m, lead: string, _dir: string, last: string) => `${lead}…/${last}`);
    },
  };
}

function clip(text: string): string {
  return text.length > 120 ? `${text.slice(0, 120)}…` : text;
}

// What a worker changes in a job's workflow before running it. Anyone who can write to the
// queue can hand workers a workflow, so the paths it names are not trusted: every file input
// (a node input declared `file: true`, such as Load Model's path or Apply LoRA's adapter) must
// resolve inside one of the worker's model folders (--models), and is replaced by that absolute,
// symlink-free path. The worker's --device, when given, replaces every `device` input.
import { existsSync, realpathSync } from "node:fs";
import { isAbsolute, join, relative, resolve, sep } from "node:path";
import { PACKAGE_ROOT, resourceRoots, userModelsDir } from "../paths.js";
import type { NodeRegistry } from "../registry.js";
import { NodeError } from "../run/errors.js";
import { isLink, type WorkflowDoc } from "../workflow/schema.js";

/** The folders a worker loads from: --models, else the bundled models/ and the user models folder. */
export function modelRoots(dirs: string[]): string[] {
  const chosen = dirs.length ? dirs.map((d) => resolve(d)) : [join(PACKAGE_ROOT, "models"), userModelsDir()];
  return chosen.filter((d) => existsSync(d)).map((d) => realpathSync(d));
}

function inside(path: string, root: string): boolean {
  const rel = relative(root, path);
  return rel === "" || (!rel.startsWith(".." + sep) && rel !== ".." && !isAbsolute(rel));
}

/**
 * A path as a workflow names it, resolved for a worker: relative paths are looked up in each model
 * folder, then where `maskflow run` looks (so "models/default" still names the bundled model);
 * the first that exists and lies inside a model folder wins. Otherwise, why not.
 */
export function confinedPath(path: string, roots: string[]): { path: string } | { refused: string } {
  const candidates = isAbsolute(path) ? [path] : [...roots.map((r) => resolve(r, path)), ...resourceRoots().map((r) => resolve(r, path))];
  let outside = false;
  for (const candidate of candidates) {
    if (!existsSync(candidate)) continue;
    const real = realpathSync(candidate);
    if (roots.some((root) => inside(real, root))) return { path: real };
    outside = true;
  }
  const where = `this worker's model folders (${roots.join(", ") || "none"})`;
  return { refused: outside ? `"${path}" is outside ${where}; workers load only from their --models folders` : `"${path}" is not in ${where}` };
}

export interface WorkerRules {
  roots: string[];
  device?: string;
}

/** The workflow as this worker runs it; a refused path throws a NodeError naming node and input. */
export function forWorker(doc: WorkflowDoc, registry: NodeRegistry, rules: WorkerRules): WorkflowDoc {
  const nodes = structuredClone(doc.nodes);
  for (const [nodeId, node] of Object.entries(nodes)) {
    const def = registry.get(node.type);
    if (!def) continue; // the executor reports unknown types
    for (const [name, input] of Object.entries(def.inputs)) {
      const value = node.inputs[name] ?? input.default;
      if (input.file && value !== undefined) {
        if (isLink(value) || typeof value !== "string") throw new NodeError(nodeId, name, "on a queue worker a file input must be a constant path");
        const found = confinedPath(value, rules.roots);
        if ("refused" in found) throw new NodeError(nodeId, name, found.refused);
        node.inputs[name] = found.path;
      }
      if (name === "device" && rules.device !== undefined && !input.socket) {
        if (input.options && !input.options.includes(rules.device)) {
          throw new NodeError(nodeId, name, `this worker runs on --device ${rules.device}, which ${node.type} does not offer (${input.options.join(", ")})`);
        }
        node.inputs[name] = rules.device;
      }
    }
  }
  return { ...doc, nodes };
}

// What a worker loads, and where. Anyone who can write to the queue can hand workers a workflow,
// so workers run with a served instance's file access (engine/files/access.ts): every model and
// adapter must resolve inside the worker's model folders (--models; by default the bundled
// models/ and the user models folder), symlinks followed, and paths are taken out of what the
// job reports. The worker's --device, when given, replaces every `device` input.
import { join, resolve } from "node:path";
import { confinedFiles, type FileAccess, type FileRoot } from "../files/access.js";
import { PACKAGE_ROOT, userModelsDir } from "../paths.js";
import type { NodeRegistry } from "../registry.js";
import { NodeError } from "../run/errors.js";
import type { WorkflowDoc } from "../workflow/schema.js";

/** The folders a worker loads from: only its --models when given. */
export function workerRoots(dirs: string[]): FileRoot[] {
  if (dirs.length) return dirs.map((path) => ({ path: resolve(path), shown: "", label: "--models" }));
  return [
    { path: join(PACKAGE_ROOT, "models"), shown: "models/", label: "the bundled models/" },
    { path: userModelsDir(), shown: "", label: "the user models folder (MASKFLOW_MODELS)" },
  ];
}

export function workerFiles(dirs: string[]): FileAccess {
  return confinedFiles(workerRoots(dirs), "this worker");
}

/** The workflow with every `device` input set to the worker's device; one its node does not offer is a NodeError. */
export function withDevice(doc: WorkflowDoc, registry: NodeRegistry, device: string | undefined): WorkflowDoc {
  if (device === undefined) return doc;
  const nodes = structuredClone(doc.nodes);
  for (const [nodeId, node] of Object.entries(nodes)) {
    const input = registry.get(node.type)?.inputs.device;
    if (!input || input.socket) continue;
    if (input.options && !input.options.includes(device)) {
      throw new NodeError(nodeId, "device", `this worker runs on --device ${device}, which ${node.type} does not offer (${input.options.join(", ")})`);
    }
    node.inputs.device = device;
  }
  return { ...doc, nodes };
}

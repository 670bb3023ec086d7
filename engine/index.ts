// The engine's public API: what the CLI, the server, the editor's tests and node files import.
import { builtinNodes } from "../nodes/index.js";
import { NodeRegistry } from "./registry.js";

export * from "./types.js";
export { NodeRegistry } from "./registry.js";
export { Executor, type ExecutorOptions, type RunOptions, type RunResult, type RunStats } from "./run/executor.js";
export { NodeError, NodeInputError, CancelledError } from "./run/errors.js";
export { parseWorkflow, loadWorkflowFile, migrate, type ParseResult } from "./workflow/load.js";
export { validateWorkflow, compileWorkflow, type CompiledGraph } from "./workflow/compile.js";
export { applyOverrides, parseSetFlag } from "./workflow/overrides.js";
export { WorkflowError, formatIssue, type Issue } from "./workflow/issues.js";
export { workflowSchema, workflowJsonSchema, isLink, WORKFLOW_VERSION, type WorkflowDoc, type WorkflowNode, type Link } from "./workflow/schema.js";
export { listExampleWorkflows, readExampleWorkflow } from "./workflow/examples.js";
export { PACKAGE_ROOT, resolveResource, fingerprint, userModelsDir } from "./paths.js";
export { confinedFiles, nodeFiles, unrestrictedFiles, type FileAccess, type FileRoot } from "./files/access.js";
export { DEFAULT_LIMITS, LIMIT_NAMES, resolveLimits, type Limits } from "./limits.js";

/** A registry holding every built-in node type. */
export function createDefaultRegistry(): NodeRegistry {
  return new NodeRegistry(builtinNodes);
}

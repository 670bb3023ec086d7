// The engine's public API: what the CLI, the server, the editor's tests and node files import.
// It knows no node by name: registries are assembled by the CLI, the server and the desktop shell
// from the built-in nodes (nodes/) plus node packages (plugins/).

export * from "./types.js";
export { NodeRegistry } from "./registry.js";
export { Executor, type ExecutorOptions, type RunOptions, type RunResult, type RunStats } from "./run/executor.js";
export { NodeError, NodeInputError, CancelledError } from "./run/errors.js";
export { parseWorkflow, loadWorkflowFile, readWorkflowJson, migrate, type ParseResult } from "./workflow/load.js";
export { checkWorkflow, type CheckResult } from "./workflow/check.js";
export { validateWorkflow, compileWorkflow, type CompiledGraph } from "./workflow/compile.js";
export { applyOverrides, parseSetFlag } from "./workflow/overrides.js";
export { WorkflowError, formatIssue, type Issue } from "./workflow/issues.js";
export { workflowSchema, workflowJsonSchema, isLink, WORKFLOW_VERSION, type WorkflowDoc, type WorkflowNode, type Link } from "./workflow/schema.js";
export { listExampleWorkflows, readExampleWorkflow } from "./workflow/examples.js";
export { PACKAGE_ROOT, resolveResource, fingerprint, userModelsDir } from "./paths.js";
export { confinedFiles, nodeFiles, unrestrictedFiles, type FileAccess, type FileRoot } from "./files/access.js";
export { DEFAULT_LIMITS, LIMIT_NAMES, resolveLimits, type Limits } from "./limits.js";
export {
  assembleRegistry,
  formatSkipped,
  definitionProblems,
  defaultUserNodesDir,
  type AssembledRegistry,
  type LoadedPackage,
  type PackageProblem,
  type SearchOptions,
} from "./plugins/index.js";

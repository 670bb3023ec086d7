/** One problem with a workflow, reported before anything runs. */
export interface Issue {
  nodeId: string | null;
  input: string | null;
  code:
    | "bad_json"
    | "schema"
    | "version"
    | "unknown_type"
    | "unknown_input"
    | "missing_input"
    | "missing_node"
    | "missing_output"
    | "type_mismatch"
    | "wrong_type"
    | "out_of_range"
    | "not_an_option"
    | "cycle"
    | "no_output_node"
    | "bypass"
    | "bad_override"
    /** A size limit (engine/limits.ts): too many nodes, too deep, too long. */
    | "limit";
  message: string;
}

export function formatIssue(issue: Issue): string {
  const where = issue.nodeId === null ? "workflow" : issue.input ? `${issue.nodeId}.${issue.input}` : issue.nodeId;
  return `${where}: ${issue.message}`;
}

/**
 * At most `max` issues, the last one saying how many more there were: a hostile graph can have an
 * issue per node, and the answer should not be bigger than the question.
 */
export function capIssues(issues: Issue[], max: number): Issue[] {
  if (issues.length <= max) return issues;
  const rest = issues.length - max + 1;
  return [
    ...issues.slice(0, max - 1),
    { nodeId: null, input: null, code: issues[max - 1].code, message: `and ${rest} more problem${rest === 1 ? "" : "s"} (only the first ${max - 1} are listed)` },
  ];
}

/** Thrown with every issue at once; the CLI exits 2 and the API answers 400. */
export class WorkflowError extends Error {
  constructor(readonly issues: Issue[]) {
    super(issues.map(formatIssue).join("\n"));
    this.name = "WorkflowError";
  }
}

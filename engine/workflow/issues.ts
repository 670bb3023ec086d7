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
    | "bad_override";
  message: string;
}

export function formatIssue(issue: Issue): string {
  const where = issue.nodeId === null ? "workflow" : issue.input ? `${issue.nodeId}.${issue.input}` : issue.nodeId;
  return `${where}: ${issue.message}`;
}

/** Thrown with every issue at once; the CLI exits 2 and the API answers 400. */
export class WorkflowError extends Error {
  constructor(readonly issues: Issue[]) {
    super(issues.map(formatIssue).join("\n"));
    this.name = "WorkflowError";
  }
}

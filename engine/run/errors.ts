/** A node's failure, naming the node and (where it applies) the input. */
export class NodeError extends Error {
  constructor(
    readonly nodeId: string,
    readonly input: string | null,
    message: string,
  ) {
    super(message);
    this.name = "NodeError";
  }
}

/** Thrown by `ctx.fail(input, message)`; the executor adds the node id. */
export class NodeInputError extends Error {
  constructor(
    readonly input: string | null,
    message: string,
  ) {
    super(message);
    this.name = "NodeInputError";
  }
}

export class CancelledError extends Error {
  constructor(message = "cancelled") {
    super(message);
    this.name = "AbortError";
  }
}

export function isAbort(err: unknown, signal?: AbortSignal): boolean {
  return (signal?.aborted ?? false) || (err instanceof Error && err.name === "AbortError");
}

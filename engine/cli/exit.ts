export const EXIT = { OK: 0, FAILED: 1, INVALID: 2, INTERRUPTED: 130 } as const;

/** A bad flag or argument: exit 2 with the message, no stack trace. */
export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "UsageError";
  }
}

// What the fuzz tests count as a defect in an answer: a raw stack trace, a JavaScript error that
// escaped (TypeError, a stack overflow...), an "internal error", a native abort, or a secret
// quoted from a file. Returned as a list of findings, so one run reports all of them at once.

const INTERNAL = /\bTypeError\b|\bRangeError\b|\bReferenceError\b|Cannot read propert|is not a function|is not iterable|Maximum call stack|internal error|terminate called|Napi::Error|core dumped/;
const STACK = /\n\s+at [^\n]*[:(]\d+/;

export class Findings {
  readonly list: string[] = [];

  /** Records `what` if `text` shows a defect. */
  text(what: string, text: string): void {
    if (STACK.test(text)) this.list.push(`${what}: a stack trace: ${text.slice(0, 300)}`);
    else if (INTERNAL.test(text)) this.list.push(`${what}: an internal error: ${text.slice(0, 300)}`);
    if (text.includes("TOPSECRET")) this.list.push(`${what}: quotes a file's content: ${text.slice(0, 300)}`);
  }

  add(finding: string): void {
    this.list.push(finding);
  }

  /** The first few, for an assertion message. */
  summary(): string {
    return `${this.list.length} finding(s):\n${this.list.slice(0, 20).join("\n")}`;
  }
}

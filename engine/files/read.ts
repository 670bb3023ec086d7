// Reading the small files of a model or adapter folder (JSON manifests, tokenizers) when the folder
// was named by a workflow: a regular file only (a FIFO would block the thread forever, a device
// never ends), of bounded size, inside the allowed roots when the instance is served (a symlink in
// an allowed folder may not lead out of it), and with errors that never quote the file's content
// (V8's JSON errors show its first characters: a link to a secret would print the secret).
import { closeSync, constants, fstatSync, openSync, readSync, realpathSync } from "node:fs";
import { isInside } from "./access.js";

export interface ReadOptions {
  /** What the file is, for messages: "the model manifest". */
  what: string;
  maxBytes: number;
  /** Real root folders the file's real path must lie in; null or absent: anywhere. */
  within?: readonly string[] | null;
}

/** Throws if `path` is outside `within` (after following symlinks). */
export function assertWithin(path: string, within: readonly string[] | null | undefined, what: string): void {
  if (!within) return;
  let real: string;
  try {
    real = realpathSync(path);
  } catch {
    return; // missing: the read reports it
  }
  if (!within.some((root) => isInside(root, real))) throw new Error(`${path}: ${what} links outside the folders this server loads from`);
}

/** The whole file as UTF-8, under the rules above. Errors name the path and say why. */
export function readSmallFile(path: string, { what, maxBytes, within }: ReadOptions): string {
  assertWithin(path, within, what);
  let fd: number;
  try {
    fd = openSync(path, constants.O_RDONLY | (constants.O_NONBLOCK ?? 0));
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new Error(`${path}: cannot read ${what}${code === "ENOENT" ? ": no such file" : code ? ` (${code})` : ""}`);
  }
  try {
    const st = fstatSync(fd);
    if (!st.isFile()) throw new Error(`${path}: ${what} is not a regular file`);
    if (st.size > maxBytes) throw new Error(`${path}: ${what} is ${st.size} bytes, more than the ${maxBytes} Maskflow reads for it`);
    const buffer = Buffer.alloc(st.size);
    let at = 0;
    while (at < st.size) {
      const n = readSync(fd, buffer, at, st.size - at, at);
      if (n === 0) break;
      at += n;
    }
    return buffer.subarray(0, at).toString("utf8");
  } finally {
    closeSync(fd);
  }
}

/** Why `text` is not JSON, by position only: the message V8 gives quotes the text. */
export function jsonProblem(err: unknown): string {
  const message = err instanceof Error ? err.message : String(err);
  const at = /position (\d+)/.exec(message);
  if (/Unexpected end of JSON input/.test(message)) return "it ends too early";
  return at ? `a syntax error at byte ${at[1]}` : "a syntax error";
}

/** Parses JSON with an error that names the file and the position, never the content. */
export function parseJsonText(text: string, path: string, what: string): unknown {
  try {
    return JSON.parse(text);
  } catch (err) {
    throw new Error(`${path}: ${what} is not valid JSON (${jsonProblem(err)})`);
  }
}

/** readSmallFile + parseJsonText. */
export function readJsonFile(path: string, options: ReadOptions): unknown {
  return parseJsonText(readSmallFile(path, options), path, options.what);
}

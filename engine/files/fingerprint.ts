// Content fingerprints of the files a node reads (a model folder, an adapter), for the executor's
// cache key. A workflow names the path, so the walk is bounded in every way a path can be hostile:
// asynchronous (the server keeps answering while it runs), at most so many files, so deep and so
// many bytes hashed; devices, FIFOs and sockets are never opened (a FIFO would block the read
// forever, /dev/zero would never end); a symlink is followed, but one that leads back into a folder
// being walked (a loop) is refused.
import { createHash } from "node:crypto";
import { constants, createReadStream } from "node:fs";
import { opendir, open, stat } from "node:fs/promises";
import { join } from "node:path";
import type { Stats } from "node:fs";

export interface FingerprintLimits {
  maxFingerprintFiles: number;
  maxFingerprintDepth: number;
  maxFingerprintBytes: number;
}

/** A path the fingerprint refused; the message names the limit or the kind of file. */
export class FingerprintError extends Error {
  constructor(
    message: string,
    /** The limit it hit, when one did. */
    readonly limit: keyof FingerprintLimits | null = null,
  ) {
    super(message);
    this.name = "FingerprintError";
  }
}

/**
 * Files above this size are fingerprinted by size and mtime instead of content: a content hash of a
 * model's weights (27 MB for the bundled one) costs a CLI run ~0.2 s of reading and hashing, and a
 * process's memo is keyed by size and mtime anyway, so it would see no change the cheap key misses.
 */
const HASH_LIMIT = 1024 * 1024;

/** Content hashes by path, size and mtime; cleared when it grows past MEMO_MAX (a server sees many paths). */
const memo = new Map<string, { size: number; mtimeMs: number; hash: string }>();
const MEMO_MAX = 20_000;

function kindOf(st: Stats): string {
  if (st.isFIFO()) return "FIFO (named pipe)";
  if (st.isSocket()) return "socket";
  if (st.isCharacterDevice()) return "character device";
  if (st.isBlockDevice()) return "block device";
  return "special file";
}

interface Walk {
  limits: FingerprintLimits;
  files: number;
  hashed: number;
  /** dev:ino of the folders on the current path, to detect symlink loops. */
  open: Set<string>;
  /** How a path is shown in errors (the server hides absolute paths). */
  show: (path: string) => string;
}

/**
 * A fingerprint of a file or folder (recursively): the content's sha256 for small files, size and
 * mtime for large ones, so the cache key of a node that reads it changes when it does. "missing"
 * for a path that does not exist (the node reports that). Throws FingerprintError past a limit,
 * on a symlink loop, and for a path that is itself a device, FIFO or socket.
 */
export async function fingerprint(abs: string, limits: FingerprintLimits, show: (path: string) => string = (p) => p): Promise<string> {
  let st: Stats;
  try {
    st = await stat(abs);
  } catch {
    return "missing";
  }
  if (!st.isFile() && !st.isDirectory()) throw new FingerprintError(`${show(abs)} is a ${kindOf(st)}, not a file or folder`);
  return visit(abs, st, 0, { limits, files: 0, hashed: 0, open: new Set(), show });
}

async function visit(path: string, st: Stats, depth: number, walk: Walk): Promise<string> {
  if (++walk.files > walk.limits.maxFingerprintFiles) {
    throw new FingerprintError(`${walk.show(path)}: more than ${walk.limits.maxFingerprintFiles} files to fingerprint`, "maxFingerprintFiles");
  }
  if (st.isFile()) {
    if (st.size > HASH_LIMIT || walk.hashed + st.size > walk.limits.maxFingerprintBytes) return `size:${st.size}:mtime:${st.mtimeMs}`;
    walk.hashed += st.size;
    return `sha256:${await hashFile(path, st)}`;
  }
  if (!st.isDirectory()) return `special:${kindOf(st)}`; // inside a folder: named, never opened
  const id = `${st.dev}:${st.ino}`;
  if (walk.open.has(id)) throw new FingerprintError(`${walk.show(path)}: a symlink loop (it leads back into a folder that contains it)`);
  if (depth >= walk.limits.maxFingerprintDepth) {
    throw new FingerprintError(`${walk.show(path)}: folders nested more than ${walk.limits.maxFingerprintDepth} deep`, "maxFingerprintDepth");
  }
  walk.open.add(id);
  try {
    const names = await listFolder(path, walk);
    const h = createHash("sha256");
    for (const name of names) {
      const child = join(path, name);
      let childStat: Stats | null;
      try {
        childStat = await stat(child);
      } catch {
        childStat = null; // a dangling symlink, or gone meanwhile
      }
      h.update(name + "\0" + (childStat ? await visit(child, childStat, depth + 1, walk) : "missing") + "\0");
    }
    return `dir:${h.digest("hex")}`;
  } finally {
    walk.open.delete(id);
  }
}

/** A folder's names, sorted; reads no more than the file limit allows (a folder of a million files stops early). */
async function listFolder(path: string, walk: Walk): Promise<string[]> {
  const room = walk.limits.maxFingerprintFiles - walk.files;
  const names: string[] = [];
  const dir = await opendir(path);
  try {
    for await (const entry of dir) {
      names.push(entry.name);
      if (names.length > room) {
        throw new FingerprintError(`${walk.show(path)}: more than ${walk.limits.maxFingerprintFiles} files to fingerprint`, "maxFingerprintFiles");
      }
    }
  } finally {
    await dir.close().catch(() => undefined); // closed already when the iteration finished
  }
  return names.sort();
}

/** The sha256 of a regular file, read in chunks (the event loop runs between them); memoised by path, size and mtime. */
async function hashFile(path: string, st: Stats): Promise<string> {
  const hit = memo.get(path);
  if (hit && hit.size === st.size && hit.mtimeMs === st.mtimeMs) return hit.hash;
  const hash = await sha256Stream(path, st.size);
  if (memo.size >= MEMO_MAX) memo.clear();
  memo.set(path, { size: st.size, mtimeMs: st.mtimeMs, hash });
  return hash;
}

/**
 * Hashes at most `maxBytes` of a regular file. Opened non-blocking and checked after opening, so a
 * path swapped for a FIFO or a device between stat and open is refused, not read.
 */
async function sha256Stream(path: string, maxBytes: number): Promise<string> {
  const handle = await open(path, constants.O_RDONLY | (constants.O_NONBLOCK ?? 0));
  try {
    const st = await handle.stat();
    if (!st.isFile()) throw new FingerprintError(`${path} changed into a ${kindOf(st)} while being read`);
    const h = createHash("sha256");
    const stream = createReadStream("", { fd: handle.fd, autoClose: false, start: 0, end: Math.max(0, maxBytes - 1), highWaterMark: 64 * 1024 });
    if (maxBytes > 0) for await (const chunk of stream) h.update(chunk as Buffer);
    return h.digest("hex");
  } finally {
    await handle.close();
  }
}

/** The sha256 of a whole regular file (hex), memoised by path, size and mtime; read in chunks. */
export async function sha256File(path: string): Promise<string> {
  const st = await stat(path);
  if (!st.isFile()) throw new FingerprintError(`${path} is a ${kindOf(st)}, not a file`);
  return hashFile(path, st);
}

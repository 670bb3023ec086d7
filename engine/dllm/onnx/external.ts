// External data (ONNX's way past the 2 GB protobuf limit): a tensor's bytes live in a file next
// to the .onnx, found through `external_data` entries {location, offset, length}. Locations are
// relative to the model's folder and may not leave it: ONNX Runtime refuses absolute paths and
// paths (symlinks included) that resolve outside the folder, and so do we.
import { closeSync, copyFileSync, existsSync, linkSync, mkdirSync, openSync, readSync, statSync, writeSync } from "node:fs";
import { dirname, isAbsolute, relative, resolve, sep } from "node:path";
import type { StringStringEntryProto, TensorProto } from "./proto.js";

export interface ExternalRef {
  location: string;
  offset: number;
  /** Absent in the file means "up to the tensor's size"; filled in by `externalRef`. */
  length: number | null;
}

function parseCount(tensor: string, key: string, value: string): number {
  if (!/^\d+$/.test(value)) throw new Error(`initializer "${tensor}": external_data ${key} "${value}" is not a non-negative integer`);
  const n = Number(value);
  if (!Number.isSafeInteger(n)) throw new Error(`initializer "${tensor}": external_data ${key} ${value} is too large`);
  return n;
}

/** The {location, offset, length} of an external tensor. */
export function externalRef(t: TensorProto): ExternalRef {
  const entries = t.externalData ?? [];
  const get = (key: string): string | undefined => entries.find((e) => e.key === key)?.value;
  const location = get("location");
  if (!location) throw new Error(`initializer "${t.name}" is stored externally but has no external_data location`);
  const offset = get("offset");
  const length = get("length");
  return {
    location,
    offset: offset === undefined ? 0 : parseCount(t.name, "offset", offset),
    length: length === undefined ? null : parseCount(t.name, "length", length),
  };
}

export function externalEntries(ref: { location: string; offset: number; length: number }): StringStringEntryProto[] {
  return [
    { key: "location", value: ref.location },
    { key: "offset", value: String(ref.offset) },
    { key: "length", value: String(ref.length) },
  ];
}

/** `location` resolved inside `dir`; throws for absolute paths and paths that leave the folder. */
export function resolveInside(dir: string, location: string, what: string): string {
  if (location.includes("\0") || isAbsolute(location) || /^[a-zA-Z]:/.test(location)) {
    throw new Error(`${what}: external data location "${location}" must be a relative path inside the model folder`);
  }
  const full = resolve(dir, location);
  const rel = relative(dir, full);
  if (rel === "" || rel === ".." || rel.startsWith(`..${sep}`) || isAbsolute(rel)) {
    throw new Error(`${what}: external data location "${location}" leaves the model folder ${dir}`);
  }
  return full;
}

/** Reads `length` bytes at `offset` of a file (any size: only the range is read). */
export function readRange(file: string, offset: number, length: number, what: string): Uint8Array {
  let fd: number;
  try {
    fd = openSync(file, "r");
  } catch (err) {
    throw new Error(`${what}: cannot open external data file ${file}: ${(err as Error).message}`);
  }
  try {
    const size = statSync(file).size;
    if (offset + length > size) {
      throw new Error(`${what}: external data file ${file} is truncated: needs bytes ${offset}..${offset + length} but has ${size}`);
    }
    const out = Buffer.allocUnsafe(length);
    let done = 0;
    while (done < length) {
      const n = readSync(fd, out, done, Math.min(length - done, 1 << 30), offset + done);
      if (n === 0) throw new Error(`${what}: unexpected end of ${file} at byte ${offset + done}`);
      done += n;
    }
    return out;
  } finally {
    closeSync(fd);
  }
}

/** Appends tensors to one external data file, each at an aligned offset (ONNX Runtime can then map them). */
export class ExternalDataWriter {
  readonly path: string;
  private fd: number | null;
  private offset = 0;

  constructor(
    readonly dir: string,
    readonly location: string,
    private readonly align = 4096,
  ) {
    this.path = resolveInside(dir, location, "external data writer");
    mkdirSync(dirname(this.path), { recursive: true });
    this.fd = openSync(this.path, "w");
  }

  append(bytes: Uint8Array): { location: string; offset: number; length: number } {
    if (this.fd === null) throw new Error(`${this.path} is already closed`);
    const pad = (this.align - (this.offset % this.align)) % this.align;
    if (pad) {
      writeSync(this.fd, new Uint8Array(pad));
      this.offset += pad;
    }
    const offset = this.offset;
    let done = 0;
    while (done < bytes.byteLength) done += writeSync(this.fd, bytes, done, bytes.byteLength - done);
    this.offset += bytes.byteLength;
    return { location: this.location, offset, length: bytes.byteLength };
  }

  close(): void {
    if (this.fd !== null) closeSync(this.fd);
    this.fd = null;
  }
}

/**
 * Makes `src` available as `dst`: a hard link when both are on one file system (free, and ONNX
 * Runtime accepts it, unlike a symlink that points outside the folder), else a copy.
 * Returns how it was done.
 */
export function linkOrCopy(src: string, dst: string, mode: "link" | "copy"): "linked" | "copied" | "present" {
  if (existsSync(dst)) {
    const a = statSync(src);
    const b = statSync(dst);
    if (a.ino === b.ino && a.dev === b.dev) return "present";
    throw new Error(`cannot place external data file ${src} at ${dst}: a different file is already there`);
  }
  mkdirSync(dirname(dst), { recursive: true });
  if (mode === "link") {
    try {
      linkSync(src, dst);
      return "linked";
    } catch {
      // EXDEV (another file system), EPERM (no hard links here): fall back to a copy
    }
  }
  copyFileSync(src, dst);
  return "copied";
}

// safetensors (huggingface/safetensors): an 8-byte little-endian header length N, N bytes of
// JSON {name: {dtype, shape, data_offsets: [begin, end]}, "__metadata__"?: {string: string}},
// then the tensors' raw little-endian bytes, offsets relative to the end of the header.
//
// The header is untrusted input. Checked here, as the reference implementation does: the length
// fits the file and a sane bound, the header is UTF-8 JSON with an object at the top, every entry
// has a known dtype, a shape of non-negative integers and offsets within the data whose span is
// exactly product(shape) * dtype size, the tensors do not overlap and cover the data with no gaps.
// Only the header is read up front; tensors are read one by one, so the file can be of any size.
import { closeSync, constants, fstatSync, openSync, readSync } from "node:fs";
import { jsonProblem } from "../../files/read.js";
import { bf16ToFloat, floatToBf16, floatToHalf, halfToFloat } from "../onnx/dtypes.js";

/** The reference implementation's bound on the header (100 MB). */
export const MAX_HEADER_BYTES = 100_000_000;

/** Every dtype safetensors defines, with its element size. */
export const SAFETENSORS_DTYPES: Record<string, number> = {
  BOOL: 1, U8: 1, I8: 1, F8_E5M2: 1, F8_E4M3: 1, I16: 2, U16: 2, F16: 2, BF16: 2,
  I32: 4, U32: 4, F32: 4, I64: 8, U64: 8, F64: 8,
};

/** The dtypes Maskflow converts to float32. */
export const FLOAT_DTYPES = ["F32", "F16", "BF16"] as const;
export type FloatDtype = (typeof FLOAT_DTYPES)[number];

export interface SafetensorsEntry {
  name: string;
  dtype: string;
  shape: number[];
  /** Absolute byte range in the file. */
  begin: number;
  end: number;
}

export class SafetensorsError extends Error {}

export interface SafetensorsHeader {
  path: string;
  metadata: Record<string, string>;
  tensors: Map<string, SafetensorsEntry>;
  /** Where tensor data starts (8 + header length). */
  dataStart: number;
  fileSize: number;
}

function readExactly(fd: number, length: number, position: number): Buffer {
  const out = Buffer.alloc(length);
  let done = 0;
  while (done < length) {
    const n = readSync(fd, out, done, length - done, position + done);
    if (n === 0) break;
    done += n;
  }
  return done === length ? out : out.subarray(0, done);
}

/** Parses and validates the header of `bytes` (the whole file, or at least its header part) of a file of `fileSize` bytes. */
export function parseHeader(prefix: Uint8Array, fileSize: number, path: string): { headerLength: number; parse(json: Uint8Array): SafetensorsHeader } {
  const fail = (msg: string): never => {
    throw new SafetensorsError(`${path}: ${msg}`);
  };
  if (fileSize < 8) fail(`truncated safetensors file: ${fileSize} bytes, too short for the 8-byte header length`);
  const view = new DataView(prefix.buffer, prefix.byteOffset, prefix.byteLength);
  const n64 = view.getBigUint64(0, true);
  if (n64 > BigInt(MAX_HEADER_BYTES)) fail(`corrupt safetensors file: header length ${n64} exceeds the ${MAX_HEADER_BYTES}-byte limit`);
  const n = Number(n64);
  if (n < 2) fail(`corrupt safetensors file: header length ${n} is too small for a JSON object`);
  if (8 + n > fileSize) fail(`truncated safetensors file: the header says ${n} bytes of JSON but the file has ${fileSize - 8} after the length`);
  return {
    headerLength: n,
    parse: (jsonBytes) => validateHeader(jsonBytes, 8 + n, fileSize, path),
  };
}

function validateHeader(jsonBytes: Uint8Array, dataStart: number, fileSize: number, path: string): SafetensorsHeader {
  const fail = (msg: string): never => {
    throw new SafetensorsError(`${path}: ${msg}`);
  };
  let text: string;
  try {
    text = new TextDecoder("utf-8", { fatal: true }).decode(jsonBytes);
  } catch {
    return fail("corrupt safetensors file: the header is not valid UTF-8");
  }
  let header: unknown;
  try {
    header = JSON.parse(text);
  } catch (err) {
    return fail(`corrupt safetensors file: the header is not valid JSON (${jsonProblem(err)})`);
  }
  if (typeof header !== "object" || header === null || Array.isArray(header)) fail("corrupt safetensors file: the header is not a JSON object");
  const dataLength = fileSize - dataStart;
  const tensors = new Map<string, SafetensorsEntry>();
  let metadata: Record<string, string> = {};
  for (const [name, raw] of Object.entries(header as Record<string, unknown>)) {
    if (name === "__metadata__") {
      if (typeof raw !== "object" || raw === null || Array.isArray(raw) || Object.values(raw).some((v) => typeof v !== "string")) {
        fail(`corrupt safetensors file: __metadata__ must be an object of strings`);
      }
      metadata = raw as Record<string, string>;
      continue;
    }
    const where = `tensor "${name}"`;
    if (typeof raw !== "object" || raw === null || Array.isArray(raw)) fail(`corrupt safetensors file: ${where} is not an object`);
    const e = raw as { dtype?: unknown; shape?: unknown; data_offsets?: unknown };
    if (typeof e.dtype !== "string") fail(`corrupt safetensors file: ${where} has no dtype`);
    const size = SAFETENSORS_DTYPES[e.dtype as string];
    if (size === undefined) fail(`${where} has unknown dtype "${e.dtype}" (safetensors dtypes: ${Object.keys(SAFETENSORS_DTYPES).join(", ")})`);
    if (!Array.isArray(e.shape) || !e.shape.every((d) => Number.isSafeInteger(d) && d >= 0)) {
      fail(`corrupt safetensors file: ${where} shape ${JSON.stringify(e.shape)} is not a list of non-negative integers`);
    }
    const shape = e.shape as number[];
    const offs = e.data_offsets;
    if (!Array.isArray(offs) || offs.length !== 2 || !offs.every((o) => Number.isSafeInteger(o) && o >= 0)) {
      fail(`corrupt safetensors file: ${where} data_offsets ${JSON.stringify(offs)} is not [begin, end]`);
    }
    const [begin, end] = offs as [number, number];
    if (begin > end) fail(`corrupt safetensors file: ${where} data_offsets [${begin}, ${end}] end before they begin`);
    if (end > dataLength) {
      fail(`truncated or corrupt safetensors file: ${where} needs data bytes ${begin}..${end} but the file has ${dataLength} bytes of data`);
    }
    let numel = 1n;
    for (const d of shape) numel *= BigInt(d);
    const expected = numel * BigInt(size);
    if (expected !== BigInt(end - begin)) {
      fail(`corrupt safetensors file: ${where} is ${e.dtype} [${shape.join(", ")}], ${expected} bytes, but data_offsets span ${end - begin}`);
    }
    tensors.set(name, { name, dtype: e.dtype as string, shape, begin: dataStart + begin, end: dataStart + end });
  }
  // Non-overlapping and gap-free, as the reference implementation requires.
  const sorted = [...tensors.values()].sort((a, b) => a.begin - b.begin || a.end - b.end);
  let at = dataStart;
  for (const t of sorted) {
    if (t.begin < at) fail(`corrupt safetensors file: tensor "${t.name}" overlaps the tensor before it (data_offsets)`);
    if (t.begin > at) fail(`corrupt safetensors file: ${t.begin - at} unused bytes before tensor "${t.name}"`);
    at = Math.max(at, t.end);
  }
  if (at !== fileSize) {
    fail(at < fileSize ? `corrupt safetensors file: ${fileSize - at} bytes after the last tensor` : `truncated safetensors file`);
  }
  return { path, metadata, tensors, dataStart, fileSize };
}

/** An open safetensors file: the validated header, and tensors read on demand. */
export class SafetensorsFile {
  protected constructor(readonly header: SafetensorsHeader) {}

  static open(path: string): SafetensorsFile {
    let fd: number;
    try {
      // Non-blocking: opening a FIFO for reading would otherwise wait for a writer forever.
      fd = openSync(path, constants.O_RDONLY | (constants.O_NONBLOCK ?? 0));
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      throw new SafetensorsError(`cannot open ${path}${code ? ` (${code})` : ""}`);
    }
    try {
      const st = fstatSync(fd);
      if (!st.isFile()) throw new SafetensorsError(`${path} is not a regular file`);
      const size = st.size;
      const prefix = readExactly(fd, 8, 0);
      const { headerLength, parse } = parseHeader(prefix, Math.max(size, prefix.length), path);
      const json = readExactly(fd, headerLength, 8);
      if (json.length < headerLength) throw new SafetensorsError(`${path}: truncated safetensors file (header)`);
      return new SafetensorsFile(parse(json));
    } finally {
      closeSync(fd);
    }
  }

  /** Parses a whole file held in memory. */
  static fromBytes(bytes: Uint8Array, path = "safetensors bytes"): SafetensorsFileInMemory {
    const { headerLength, parse } = parseHeader(bytes.subarray(0, Math.min(8, bytes.byteLength)), bytes.byteLength, path);
    return new SafetensorsFileInMemory(parse(bytes.subarray(8, 8 + headerLength)), bytes);
  }

  get path(): string {
    return this.header.path;
  }

  get metadata(): Record<string, string> {
    return this.header.metadata;
  }

  names(): string[] {
    return [...this.header.tensors.keys()];
  }

  entry(name: string): SafetensorsEntry {
    const e = this.header.tensors.get(name);
    if (!e) throw new SafetensorsError(`${this.path} has no tensor "${name}"`);
    return e;
  }

  protected bytes(e: SafetensorsEntry): Uint8Array {
    const fd = openSync(this.path, "r");
    try {
      const out = readExactly(fd, e.end - e.begin, e.begin);
      if (out.length !== e.end - e.begin) throw new SafetensorsError(`${this.path}: truncated while reading tensor "${e.name}"`);
      return out;
    } finally {
      closeSync(fd);
    }
  }

  /** A tensor's values as float32 (F32, F16 and BF16 tensors). */
  readFloat32(name: string): Float32Array {
    const e = this.entry(name);
    if (!(FLOAT_DTYPES as readonly string[]).includes(e.dtype)) {
      throw new SafetensorsError(`${this.path}: tensor "${name}" has dtype ${e.dtype}; supported: ${FLOAT_DTYPES.join(", ")}`);
    }
    return toFloat32(this.bytes(e), e.dtype as FloatDtype);
  }
}

export class SafetensorsFileInMemory extends SafetensorsFile {
  constructor(
    header: SafetensorsHeader,
    private readonly data: Uint8Array,
  ) {
    super(header);
  }

  protected override bytes(e: SafetensorsEntry): Uint8Array {
    return this.data.subarray(e.begin, e.end);
  }
}

function toFloat32(bytes: Uint8Array, dtype: FloatDtype): Float32Array {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const size = SAFETENSORS_DTYPES[dtype];
  const n = bytes.byteLength / size;
  const out = new Float32Array(n);
  if (dtype === "F32") for (let i = 0; i < n; i++) out[i] = view.getFloat32(i * 4, true);
  else if (dtype === "F16") for (let i = 0; i < n; i++) out[i] = halfToFloat(view.getUint16(i * 2, true));
  else for (let i = 0; i < n; i++) out[i] = bf16ToFloat(view.getUint16(i * 2, true));
  return out;
}

/** Writes tensors as a safetensors file's bytes (F32, F16 or BF16), header padded to 8 bytes as the reference does. */
export function encodeSafetensors(
  tensors: Record<string, { dtype: FloatDtype; shape: number[]; data: ArrayLike<number> }>,
  metadata?: Record<string, string>,
): Uint8Array {
  const names = Object.keys(tensors).sort();
  const header: Record<string, unknown> = {};
  const chunks: Uint8Array[] = [];
  let offset = 0;
  for (const name of names) {
    const t = tensors[name];
    const numel = t.shape.reduce((a, b) => a * b, 1);
    if (numel !== t.data.length) throw new Error(`tensor "${name}": shape [${t.shape}] needs ${numel} values, got ${t.data.length}`);
    const size = SAFETENSORS_DTYPES[t.dtype];
    const bytes = new Uint8Array(numel * size);
    const view = new DataView(bytes.buffer);
    for (let i = 0; i < numel; i++) {
      const v = t.data[i];
      if (t.dtype === "F32") view.setFloat32(i * 4, v, true);
      else if (t.dtype === "F16") view.setUint16(i * 2, floatToHalf(v), true);
      else view.setUint16(i * 2, floatToBf16(v), true);
    }
    header[name] = { dtype: t.dtype, shape: t.shape, data_offsets: [offset, offset + bytes.byteLength] };
    chunks.push(bytes);
    offset += bytes.byteLength;
  }
  if (metadata) header.__metadata__ = metadata;
  let json = JSON.stringify(header);
  json += " ".repeat((8 - (Buffer.byteLength(json) % 8)) % 8);
  const jsonBytes = new TextEncoder().encode(json);
  const out = new Uint8Array(8 + jsonBytes.byteLength + offset);
  new DataView(out.buffer).setBigUint64(0, BigInt(jsonBytes.byteLength), true);
  out.set(jsonBytes, 8);
  let at = 8 + jsonBytes.byteLength;
  for (const c of chunks) {
    out.set(c, at);
    at += c.byteLength;
  }
  return out;
}

// An ONNX model opened for editing: read from a file or bytes, list its initializers with
// their dims and storage, read one as bytes or float32, replace its data, and write the model
// back (as bytes for an in-memory session, or to a folder, with external data). Graph surgery
// can work on `model.proto` directly; see proto.ts for the message shapes.
//
// Memory: decoding keeps the file's bytes alive (inline tensors are views into them); external
// tensors are read one range at a time, on demand, so a model with external data of any size
// can be inspected and edited tensor by tensor.
import { readFileSync, writeFileSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { DataType, assertLittleEndian, bytesToFloat32, dataTypeName, dataTypeSize, float32ToBytes, isFloatType } from "./dtypes.js";
import { ExternalDataWriter, externalEntries, externalRef, linkOrCopy, readRange, resolveInside } from "./external.js";
import { TensorDataLocation, decodeModel, encodeModel, has, toNumber, type GraphProto, type ModelProto, type TensorProto } from "./proto.js";

/** Protobuf messages cannot exceed 2 GiB; bigger models must keep weights in external data. */
export const PROTOBUF_LIMIT = 2 ** 31 - 1;

export interface InitializerInfo {
  name: string;
  dims: number[];
  dataType: number;
  /** ONNX element type name: FLOAT, FLOAT16, BFLOAT16, ... */
  dtype: string;
  numel: number;
  /** numel * element size (undefined for STRING tensors). */
  byteLength: number | undefined;
  /** raw: inline raw_data; typed: inline float_data/int32_data/...; external: in a data file. */
  storage: "raw" | "typed" | "external";
  /** For external tensors: the data file (absolute), offset and length. */
  external?: { file: string; location: string; offset: number; length: number };
}

export interface SaveOptions {
  /**
   * Move inline tensors of at least `threshold` bytes (default 1024) into this data file, relative
   * to the saved model's folder. Without it, inline tensors stay inline.
   */
  externalData?: { location: string; threshold?: number; align?: number };
  /**
   * Tensors whose external data file is in another folder (the source model's, when saving
   * elsewhere): "link" hard-links each such file into the new folder (copying when a link is
   * impossible), "copy" copies it, "inline" reads the tensors into the model (then `externalData`
   * applies to them). Default "link".
   */
  foreignData?: "link" | "copy" | "inline";
}

export class OnnxModel {
  private readonly byName = new Map<string, TensorProto>();
  /** Folder each external tensor's location is relative to (the model's folder unless moved). */
  private readonly extDirs = new Map<TensorProto, string>();

  private constructor(
    readonly proto: ModelProto,
    /** The folder external data locations are resolved against (null for bytes with no folder). */
    private dir: string | null,
    /** Where the model came from, for error messages. */
    readonly source: string,
  ) {
    assertLittleEndian();
    if (!proto.graph) throw new Error(`${source}: not an ONNX model (no graph)`);
    for (const t of proto.graph.initializer) {
      if (this.byName.has(t.name)) throw new Error(`${source}: initializer "${t.name}" appears twice`);
      this.byName.set(t.name, t);
    }
  }

  /** Reads and decodes a .onnx file; external data is resolved next to it. */
  static read(path: string): OnnxModel {
    const abs = resolve(path);
    let bytes: Buffer;
    try {
      bytes = readFileSync(abs);
    } catch (err) {
      throw new Error(`cannot read ONNX model ${abs}: ${(err as Error).message}`);
    }
    return OnnxModel.decode(bytes, { dir: dirname(abs), source: abs });
  }

  /** Decodes ONNX bytes; `dir` is where external data files are looked up. */
  static decode(bytes: Uint8Array, { dir = null, source = "ONNX bytes" }: { dir?: string | null; source?: string } = {}): OnnxModel {
    let proto: ModelProto;
    try {
      proto = decodeModel(bytes);
    } catch (err) {
      throw new Error(`${source}: not a valid ONNX protobuf: ${(err as Error).message}`);
    }
    return new OnnxModel(proto, dir, source);
  }

  get graph(): GraphProto {
    return this.proto.graph;
  }

  /** The folder external data is resolved against. */
  get folder(): string | null {
    return this.dir;
  }

  has(name: string): boolean {
    return this.byName.has(name);
  }

  tensor(name: string): TensorProto {
    const t = this.byName.get(name);
    if (!t) throw new Error(`${this.source} has no initializer "${name}"`);
    return t;
  }

  initializerNames(): string[] {
    return [...this.byName.keys()];
  }

  initializers(): InitializerInfo[] {
    return this.proto.graph.initializer.map((t) => this.info(t.name));
  }

  info(name: string): InitializerInfo {
    const t = this.tensor(name);
    const dims = t.dims.map((d) => toNumber(d));
    const numel = dims.reduce((a, b) => a * b, 1);
    const size = dataTypeSize(t.dataType);
    const info: InitializerInfo = {
      name,
      dims,
      dataType: t.dataType,
      dtype: dataTypeName(t.dataType),
      numel,
      byteLength: size === undefined ? undefined : numel * size,
      storage: this.isExternal(t) ? "external" : has(t, "rawData") ? "raw" : "typed",
    };
    if (info.storage === "external") {
      const ref = externalRef(t);
      info.external = { file: this.externalFile(t, ref.location), location: ref.location, offset: ref.offset, length: ref.length ?? info.byteLength ?? 0 };
    }
    return info;
  }

  private isExternal(t: TensorProto): boolean {
    return t.dataLocation === TensorDataLocation.EXTERNAL;
  }

  private externalFile(t: TensorProto, location: string): string {
    const dir = this.extDirs.get(t) ?? this.dir;
    if (dir === null) throw new Error(`${this.source}: initializer "${t.name}" is in external data file "${location}" but the model has no folder to find it in`);
    return resolveInside(dir, location, `${this.source}: initializer "${t.name}"`);
  }

  /** Whether any initializer keeps its data in an external file. */
  hasExternalData(): boolean {
    return this.proto.graph.initializer.some((t) => this.isExternal(t));
  }

  /** The absolute paths of the external data files the initializers use. */
  externalFiles(): string[] {
    const files = new Set<string>();
    for (const t of this.proto.graph.initializer) if (this.isExternal(t)) files.add(this.externalFile(t, externalRef(t).location));
    return [...files];
  }

  /** Bytes of all initializers (inline and external). */
  weightBytes(): number {
    let n = 0;
    for (const t of this.proto.graph.initializer) n += this.info(t.name).byteLength ?? 0;
    return n;
  }

  /**
   * The tensor's data as little-endian bytes of its element type. Inline raw_data is returned as
   * a view (do not mutate it); typed fields and external data are copied out.
   */
  readBytes(name: string): Uint8Array {
    const t = this.tensor(name);
    const info = this.info(name);
    const what = `${this.source}: initializer "${name}"`;
    if (info.byteLength === undefined) throw new Error(`${what} is ${info.dtype}; only numeric tensors have bytes`);
    if (info.storage === "external") {
      const ext = info.external!;
      if (ext.length !== info.byteLength) {
        throw new Error(`${what}: external_data length ${ext.length} does not match its shape [${info.dims}] of ${info.dtype} (${info.byteLength} bytes)`);
      }
      return readRange(ext.file, ext.offset, ext.length, what);
    }
    if (info.storage === "raw") {
      const raw = t.rawData!;
      if (raw.byteLength !== info.byteLength) {
        throw new Error(`${what}: raw_data has ${raw.byteLength} bytes but shape [${info.dims}] of ${info.dtype} needs ${info.byteLength}`);
      }
      return raw;
    }
    return typedToBytes(t, info, what);
  }

  /**
   * The tensor's values as float32 (FLOAT, FLOAT16, BFLOAT16 and DOUBLE tensors). A copy, unless
   * `view` is set and the tensor is inline float32 raw_data at an aligned offset: then a view
   * into the model (writes to it change the model).
   */
  readFloat32(name: string, { view = false }: { view?: boolean } = {}): Float32Array {
    const t = this.tensor(name);
    if (!isFloatType(t.dataType)) throw new Error(`${this.source}: initializer "${name}" is ${dataTypeName(t.dataType)}, not a float tensor`);
    const bytes = this.readBytes(name);
    const numel = this.info(name).numel;
    if (view && t.dataType === DataType.FLOAT && bytes === t.rawData && bytes.byteOffset % 4 === 0) {
      return new Float32Array(bytes.buffer, bytes.byteOffset, numel);
    }
    return bytesToFloat32(bytes, t.dataType, numel);
  }

  /** Replaces the tensor's data with inline raw_data (same dims and type); drops any external reference. */
  writeBytes(name: string, bytes: Uint8Array): void {
    const t = this.tensor(name);
    const info = this.info(name);
    if (bytes.byteLength !== info.byteLength) {
      throw new Error(`${this.source}: initializer "${name}" [${info.dims}] ${info.dtype} needs ${info.byteLength} bytes, got ${bytes.byteLength}`);
    }
    clearData(t);
    t.rawData = bytes;
    this.extDirs.delete(t);
  }

  /** Replaces a float tensor's values, converting to its element type (round to nearest even). */
  writeFloat32(name: string, values: Float32Array | Float64Array): void {
    const t = this.tensor(name);
    if (!isFloatType(t.dataType)) throw new Error(`${this.source}: initializer "${name}" is ${dataTypeName(t.dataType)}, not a float tensor`);
    const numel = this.info(name).numel;
    if (values.length !== numel) throw new Error(`${this.source}: initializer "${name}" has ${numel} values, got ${values.length}`);
    this.writeBytes(name, float32ToBytes(values, t.dataType));
  }

  /** Writes the tensor's new data to an external data file and points the tensor at it. */
  writeExternal(name: string, bytes: Uint8Array, writer: ExternalDataWriter): void {
    const t = this.tensor(name);
    const info = this.info(name);
    if (bytes.byteLength !== info.byteLength) {
      throw new Error(`${this.source}: initializer "${name}" [${info.dims}] ${info.dtype} needs ${info.byteLength} bytes, got ${bytes.byteLength}`);
    }
    const ref = writer.append(bytes);
    clearData(t);
    t.externalData = externalEntries(ref);
    t.dataLocation = TensorDataLocation.EXTERNAL;
    this.extDirs.set(t, writer.dir);
  }

  /** Reads every external tensor into the model (memory: all of its weights). */
  inlineExternalData(): void {
    for (const t of this.proto.graph.initializer) {
      if (this.isExternal(t)) this.writeBytes(t.name, Uint8Array.from(this.readBytes(t.name)));
    }
  }

  /** The model as protobuf bytes. External tensors stay external (resolved by whoever loads the bytes). */
  encode(): Uint8Array {
    let inline = 0;
    for (const t of this.proto.graph.initializer) if (!this.isExternal(t)) inline += this.info(t.name).byteLength ?? 0;
    if (inline > PROTOBUF_LIMIT) {
      throw new Error(`${this.source}: ${inline} bytes of inline weights exceed protobuf's 2 GiB limit; save it with external data instead`);
    }
    return encodeModel(this.proto);
  }

  /**
   * Writes the model to `path` (its folder is created). After saving, this object describes the
   * saved copy: its external tensors point at files in the new folder.
   */
  save(path: string, { externalData, foreignData = "link" }: SaveOptions = {}): void {
    const abs = resolve(path);
    const dir = dirname(abs);
    const placed = new Map<string, string>();
    for (const t of this.proto.graph.initializer) {
      if (!this.isExternal(t)) continue;
      const location = externalRef(t).location;
      const src = this.externalFile(t, location);
      const dst = resolveInside(dir, location, `${abs}: initializer "${t.name}"`);
      if (src === dst) continue;
      if (foreignData === "inline") {
        this.writeBytes(t.name, Uint8Array.from(this.readBytes(t.name)));
        continue;
      }
      if (!placed.has(dst)) {
        linkOrCopy(src, dst, foreignData);
        placed.set(dst, src);
      } else if (placed.get(dst) !== src) {
        throw new Error(`${abs}: two external data files would both be saved as ${dst}`);
      }
      this.extDirs.set(t, dir);
    }
    if (externalData) {
      const threshold = externalData.threshold ?? 1024;
      const target = resolveInside(dir, externalData.location, abs);
      if (this.externalFiles().includes(target)) {
        throw new Error(`${abs}: cannot write external data to ${target}: tensors are still read from it`);
      }
      const writer = new ExternalDataWriter(dir, externalData.location, externalData.align);
      try {
        for (const t of this.proto.graph.initializer) {
          if (this.isExternal(t) || (this.info(t.name).byteLength ?? 0) < threshold) continue;
          this.writeExternal(t.name, Uint8Array.from(this.readBytes(t.name)), writer);
        }
      } finally {
        writer.close();
      }
    }
    writeFileSync(abs, this.encode());
    for (const t of this.proto.graph.initializer) if (this.isExternal(t)) this.extDirs.set(t, dir);
    this.dir = dir;
  }
}

function clearData(t: TensorProto): void {
  t.rawData = null;
  t.floatData = [];
  t.int32Data = [];
  t.int64Data = [];
  t.doubleData = [];
  t.uint64Data = [];
  t.externalData = [];
  t.dataLocation = null;
}

/** Inline typed fields (float_data, int32_data, ...) -> little-endian bytes, as ONNX defines them. */
function typedToBytes(t: TensorProto, info: InitializerInfo, what: string): Uint8Array {
  const n = info.numel;
  const out = new Uint8Array(info.byteLength!);
  const view = new DataView(out.buffer);
  const need = (field: string, arr: unknown[] | null | undefined): unknown[] => {
    const a = arr ?? [];
    if (a.length !== n) throw new Error(`${what}: ${field} has ${a.length} values but shape [${info.dims}] needs ${n}`);
    return a;
  };
  switch (t.dataType) {
    case DataType.FLOAT:
      need("float_data", t.floatData).forEach((v, i) => view.setFloat32(i * 4, v as number, true));
      break;
    case DataType.DOUBLE:
      need("double_data", t.doubleData).forEach((v, i) => view.setFloat64(i * 8, v as number, true));
      break;
    case DataType.INT64:
      need("int64_data", t.int64Data).forEach((v, i) => view.setBigInt64(i * 8, longToBigInt(v), true));
      break;
    case DataType.UINT32:
    case DataType.UINT64:
      need("uint64_data", t.uint64Data).forEach((v, i) =>
        t.dataType === DataType.UINT32 ? view.setUint32(i * 4, toNumber(v as number), true) : view.setBigUint64(i * 8, BigInt.asUintN(64, longToBigInt(v)), true),
      );
      break;
    case DataType.INT32:
      need("int32_data", t.int32Data).forEach((v, i) => view.setInt32(i * 4, v as number, true));
      break;
    case DataType.FLOAT16:
    case DataType.BFLOAT16:
    case DataType.UINT16:
    case DataType.INT16:
      need("int32_data", t.int32Data).forEach((v, i) => view.setUint16(i * 2, (v as number) & 0xffff, true));
      break;
    case DataType.UINT8:
    case DataType.INT8:
    case DataType.BOOL:
      need("int32_data", t.int32Data).forEach((v, i) => view.setUint8(i, (v as number) & 0xff));
      break;
    default:
      throw new Error(`${what}: cannot read ${info.dtype} typed data`);
  }
  return out;
}

function longToBigInt(v: unknown): bigint {
  if (typeof v === "number") return BigInt(v);
  const l = v as { low: number; high: number };
  return (BigInt(l.high) << 32n) | BigInt(l.low >>> 0);
}

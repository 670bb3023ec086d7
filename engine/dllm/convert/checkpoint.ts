// A Hugging Face checkpoint folder, read tensor by tensor: config.json, then either one
// model.safetensors or shards listed by model.safetensors.index.json's weight_map (followed as
// written: real checkpoints scatter one layer over several shards). Only the safetensors headers
// are read up front; a tensor's bytes are read when asked for, so memory holds one tensor at a time.
// Every error names the file, and the tensor where there is one.
import { closeSync, existsSync, openSync, readFileSync, readSync, readdirSync, statSync } from "node:fs";
import { join, resolve } from "node:path";
import { SafetensorsFile, type SafetensorsEntry } from "../lora/safetensors.js";

export class CheckpointError extends Error {}

export interface TensorInfo {
  name: string;
  dtype: string;
  shape: number[];
  file: string;
}

const FLOAT_DTYPES = new Set(["F32", "F16", "BF16"]);

export class Checkpoint {
  private constructor(
    readonly dir: string,
    readonly config: Record<string, unknown>,
    private readonly tensors: Map<string, { file: SafetensorsFile; entry: SafetensorsEntry }>,
    /** The safetensors files, in the order they are listed. */
    readonly files: string[],
  ) {}

  static open(path: string): Checkpoint {
    const dir = resolve(path);
    if (!existsSync(dir)) throw new CheckpointError(`checkpoint folder not found: ${dir}`);
    if (!statSync(dir).isDirectory()) throw new CheckpointError(`${dir} is not a folder: a checkpoint is a folder with config.json and *.safetensors`);
    const config = readJsonObject(join(dir, "config.json"), "the model config");

    const indexPath = join(dir, "model.safetensors.index.json");
    const byFile = new Map<string, string[]>();
    if (existsSync(indexPath)) {
      const index = readJsonObject(indexPath, "the shard index");
      const map = index.weight_map;
      if (typeof map !== "object" || map === null || Array.isArray(map)) throw new CheckpointError(`${indexPath}: no "weight_map" object`);
      for (const [tensor, file] of Object.entries(map as Record<string, unknown>)) {
        if (typeof file !== "string" || file.includes("/") || file.includes("\\") || file.startsWith(".")) {
          throw new CheckpointError(`${indexPath}: weight_map["${tensor}"] is ${JSON.stringify(file)}, not a file name in the folder`);
        }
        byFile.set(file, [...(byFile.get(file) ?? []), tensor]);
      }
      if (byFile.size === 0) throw new CheckpointError(`${indexPath}: weight_map is empty`);
    } else {
      const files = readdirSync(dir).filter((f) => f.endsWith(".safetensors")).sort();
      if (files.length === 0) {
        const bins = readdirSync(dir).filter((f) => f.endsWith(".bin") || f.endsWith(".pt") || f.endsWith(".pth"));
        throw new CheckpointError(
          `${dir} has no *.safetensors weights` + (bins.length ? ` (it has ${bins.slice(0, 3).join(", ")}: PyTorch pickles are not read, for safety; convert them to safetensors first)` : ""),
        );
      }
      if (files.length > 1) throw new CheckpointError(`${dir} has ${files.length} safetensors files but no model.safetensors.index.json to say which tensor is where`);
      byFile.set(files[0], []);
    }

    const tensors = new Map<string, { file: SafetensorsFile; entry: SafetensorsEntry }>();
    for (const [name, listed] of byFile) {
      const path = join(dir, name);
      if (!existsSync(path)) {
        const some = listed.slice(0, 3).join(", ") + (listed.length > 3 ? `, … (${listed.length} tensors)` : "");
        throw new CheckpointError(`missing shard ${path}: model.safetensors.index.json puts ${some} there`);
      }
      let file: SafetensorsFile;
      try {
        file = SafetensorsFile.open(path);
      } catch (err) {
        throw new CheckpointError((err as Error).message);
      }
      for (const tensor of listed) {
        if (!file.header.tensors.has(tensor)) throw new CheckpointError(`${path} has no tensor "${tensor}", which model.safetensors.index.json says is there`);
      }
      const names = listed.length ? listed : file.names();
      for (const tensor of names) tensors.set(tensor, { file, entry: file.entry(tensor) });
    }
    return new Checkpoint(dir, config, tensors, [...byFile.keys()]);
  }

  has(name: string): boolean {
    return this.tensors.has(name);
  }

  names(): string[] {
    return [...this.tensors.keys()];
  }

  info(name: string): TensorInfo {
    const t = this.tensors.get(name);
    if (!t) throw new CheckpointError(`${this.dir}: the checkpoint has no tensor "${name}"${this.nearest(name)}`);
    return { name, dtype: t.entry.dtype, shape: t.entry.shape, file: t.file.path };
  }

  /** Bytes of every tensor on disk. */
  totalBytes(): number {
    let n = 0;
    for (const { entry } of this.tensors.values()) n += entry.end - entry.begin;
    return n;
  }

  /** Checks a tensor's shape (and that it is a float tensor) without reading it. */
  expect(name: string, shape: number[]): TensorInfo {
    const info = this.info(name);
    if (!FLOAT_DTYPES.has(info.dtype)) {
      throw new CheckpointError(`${info.file}: tensor "${name}" has dtype ${info.dtype}; the converter reads F32, F16 and BF16 weights`);
    }
    if (info.shape.join(",") !== shape.join(",")) {
      throw new CheckpointError(`${info.file}: tensor "${name}" has shape [${info.shape.join(", ")}], but config.json implies [${shape.join(", ")}]`);
    }
    return info;
  }

  /**
   * A float tensor as float32, after checking its shape. `name[i]` reads only entry i along the
   * first axis (one expert of a stacked [experts, ...] tensor), `shape` being that entry's shape:
   * memory then holds one expert, not the layer's whole stack.
   */
  read(name: string, shape: number[]): Float32Array {
    const slice = /^(.*)\[(\d+)\]$/.exec(name);
    if (slice && !this.tensors.has(name)) return this.readEntry(slice[1], Number(slice[2]), shape);
    const info = this.expect(name, shape);
    const { entry } = this.tensors.get(name)!;
    const bytes = readBytes(info.file, entry.begin, entry.end - entry.begin, name);
    const values = toFloat32(bytes, info.dtype);
    if (values === null) throw new CheckpointError(`${info.file}: tensor "${name}" holds NaN or infinite values`);
    return values;
  }

  private readEntry(name: string, index: number, shape: number[]): Float32Array {
    const info = this.info(name);
    const count = info.shape[0];
    if (!FLOAT_DTYPES.has(info.dtype)) throw new CheckpointError(`${info.file}: tensor "${name}" has dtype ${info.dtype}; the converter reads F32, F16 and BF16 weights`);
    if (info.shape.slice(1).join(",") !== shape.join(",") || !(index < count)) {
      throw new CheckpointError(`${info.file}: tensor "${name}" has shape [${info.shape.join(", ")}], but config.json implies [${[Math.max(count, index + 1), ...shape].join(", ")}]`);
    }
    const { entry } = this.tensors.get(name)!;
    const size = (entry.end - entry.begin) / count;
    const bytes = readBytes(info.file, entry.begin + index * size, size, `${name}[${index}]`);
    const values = toFloat32(bytes, info.dtype);
    if (values === null) throw new CheckpointError(`${info.file}: tensor "${name}" holds NaN or infinite values (entry ${index})`);
    return values;
  }

  private nearest(name: string): string {
    const stem = name.split(".").slice(-2).join(".");
    const similar = this.names().filter((n) => n.endsWith(stem)).slice(0, 3);
    return similar.length ? ` (it has ${similar.join(", ")})` : "";
  }
}

function readJsonObject(path: string, what: string): Record<string, unknown> {
  if (!existsSync(path)) throw new CheckpointError(`${path} is missing: a checkpoint needs ${what}`);
  let value: unknown;
  try {
    value = JSON.parse(readFileSync(path, "utf8"));
  } catch (err) {
    throw new CheckpointError(`${path}: ${what} is not valid JSON: ${(err as Error).message}`);
  }
  if (typeof value !== "object" || value === null || Array.isArray(value)) throw new CheckpointError(`${path}: ${what} is not a JSON object`);
  return value as Record<string, unknown>;
}

function readBytes(file: string, offset: number, length: number, tensor: string): Uint8Array {
  // 8-byte aligned, so the float views below need no copy
  const out = new Uint8Array(new ArrayBuffer(length + (8 - (length % 8)) % 8), 0, length);
  const fd = openSync(file, "r");
  try {
    let done = 0;
    while (done < length) {
      const n = readSync(fd, out, done, Math.min(length - done, 1 << 30), offset + done);
      if (n === 0) throw new CheckpointError(`${file}: truncated while reading tensor "${tensor}" (byte ${offset + done} of ${offset + length})`);
      done += n;
    }
  } finally {
    closeSync(fd);
  }
  return out;
}

/**
 * A float tensor's bytes as float32, or null when a value is NaN or infinite (checked on the way,
 * on the exponent bits: all ones). bf16 is the top half of a float32: a shift per value; f16 goes
 * through a 64k-entry table.
 */
function toFloat32(bytes: Uint8Array, dtype: string): Float32Array | null {
  let bad = 0;
  if (dtype === "F32") {
    const bits = new Uint32Array(bytes.buffer, bytes.byteOffset, bytes.byteLength / 4);
    for (let i = 0; i < bits.length; i++) bad |= +((bits[i] & 0x7f800000) === 0x7f800000);
    return bad ? null : new Float32Array(bytes.buffer, bytes.byteOffset, bytes.byteLength / 4);
  }
  const src = new Uint16Array(bytes.buffer, bytes.byteOffset, bytes.byteLength / 2);
  const out = new Float32Array(src.length);
  if (dtype === "BF16") {
    const bits = new Uint32Array(out.buffer);
    for (let i = 0; i < src.length; i++) {
      const b = src[i];
      bad |= +((b & 0x7f80) === 0x7f80);
      bits[i] = b << 16;
    }
    return bad ? null : out;
  }
  const table = halfTable();
  for (let i = 0; i < src.length; i++) {
    const h = src[i];
    bad |= +((h & 0x7c00) === 0x7c00);
    out[i] = table[h];
  }
  return bad ? null : out;
}

let HALF: Float32Array | null = null;
function halfTable(): Float32Array {
  if (HALF) return HALF;
  HALF = new Float32Array(65536);
  for (let h = 0; h < 65536; h++) {
    const sign = h & 0x8000 ? -1 : 1;
    const exp = (h >> 10) & 0x1f;
    const frac = h & 0x3ff;
    HALF[h] = exp === 0 ? sign * frac * 2 ** -24 : exp === 0x1f ? (frac ? NaN : sign * Infinity) : sign * (1 + frac / 1024) * 2 ** (exp - 15);
  }
  return HALF;
}

import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { SafetensorsError, SafetensorsFile, encodeSafetensors } from "../../engine/dllm/lora/safetensors.js";
import { tempDir } from "./helpers.js";

const tmp = tempDir();
afterAll(() => tmp.cleanup());

/** A file from a header object and a data section, with the real 8-byte length prefix. */
function fileWith(header: unknown, data: Uint8Array = new Uint8Array(0), headerText?: string | Uint8Array): string {
  const json = headerText instanceof Uint8Array ? headerText : new TextEncoder().encode(headerText ?? JSON.stringify(header));
  const out = new Uint8Array(8 + json.byteLength + data.byteLength);
  new DataView(out.buffer).setBigUint64(0, BigInt(json.byteLength), true);
  out.set(json, 8);
  out.set(data, 8 + json.byteLength);
  return write(out);
}

let n = 0;
function write(bytes: Uint8Array): string {
  const path = join(tmp.dir, `t${n++}.safetensors`);
  writeFileSync(path, bytes);
  return path;
}

function openError(path: string): string {
  try {
    SafetensorsFile.open(path);
  } catch (err) {
    expect(err).toBeInstanceOf(SafetensorsError);
    return (err as Error).message;
  }
  throw new Error("expected the file to be refused");
}

describe("safetensors", () => {
  it("round-trips F32, F16 and BF16 tensors and metadata", () => {
    const values = [0, 1, -2.5, 0.333333, 65504, 1e-5, -0.0001];
    const path = write(
      encodeSafetensors(
        {
          f32: { dtype: "F32", shape: [7], data: values },
          f16: { dtype: "F16", shape: [7, 1], data: values },
          bf16: { dtype: "BF16", shape: [1, 7], data: values },
        },
        { format: "pt" },
      ),
    );
    const f = SafetensorsFile.open(path);
    expect(f.metadata).toEqual({ format: "pt" });
    expect(f.names().sort()).toEqual(["bf16", "f16", "f32"]);
    expect(f.entry("f16").shape).toEqual([7, 1]);
    expect([...f.readFloat32("f32")]).toEqual([...Float32Array.from(values)]);
    const f16 = f.readFloat32("f16");
    const bf16 = f.readFloat32("bf16");
    values.forEach((v, i) => {
      expect(Math.abs(f16[i] - v)).toBeLessThanOrEqual(Math.abs(v) * 2 ** -11 + 2 ** -24);
      expect(Math.abs(bf16[i] - v)).toBeLessThanOrEqual(Math.abs(v) * 2 ** -8);
    });
  });

  it("reads a file written by the Python writer (fixture) the same way in memory and from disk", () => {
    const path = join(import.meta.dirname, "..", "fixtures", "lora", "adapter-b", "adapter_model.safetensors");
    const disk = SafetensorsFile.open(path);
    expect(disk.entry(disk.names()[0]).dtype).toBe("BF16");
    const mem = SafetensorsFile.fromBytes(new Uint8Array(readFileSync(path)), path);
    for (const name of disk.names()) expect(mem.readFloat32(name)).toEqual(disk.readFloat32(name));
  });

  it("accepts an empty tensor and a file with no tensors", () => {
    expect(SafetensorsFile.open(fileWith({ e: { dtype: "F32", shape: [0, 4], data_offsets: [0, 0] } })).readFloat32("e").length).toBe(0);
    expect(SafetensorsFile.open(fileWith({ __metadata__: { a: "b" } })).names()).toEqual([]);
  });

  const f32 = (n: number) => new Uint8Array(n * 4);

  it.each([
    ["a file shorter than the length prefix", () => write(new Uint8Array(5)), /truncated safetensors file: 5 bytes/],
    ["a header length past the end of the file", () => {
      const b = new Uint8Array(16);
      new DataView(b.buffer).setBigUint64(0, 100n, true);
      return write(b);
    }, /truncated safetensors file: the header says 100 bytes/],
    ["an absurd header length", () => {
      const b = new Uint8Array(16);
      new DataView(b.buffer).setBigUint64(0, 2n ** 63n, true);
      return write(b);
    }, /exceeds the 100000000-byte limit/],
    ["a header that is not UTF-8", () => fileWith(null, undefined, new Uint8Array([0x7b, 0xff, 0xfe, 0x7d])), /not valid UTF-8/],
    ["a header that is not JSON", () => fileWith(null, undefined, "{not json"), /not valid JSON/],
    ["a header that is an array", () => fileWith([1, 2]), /not a JSON object/],
    ["metadata that is not strings", () => fileWith({ __metadata__: { a: 1 } }), /__metadata__ must be an object of strings/],
    ["a tensor without dtype", () => fileWith({ t: { shape: [1], data_offsets: [0, 4] } }, f32(1)), /tensor "t" has no dtype/],
    ["an unknown dtype", () => fileWith({ t: { dtype: "F128", shape: [1], data_offsets: [0, 16] } }, f32(4)), /unknown dtype "F128"/],
    ["a negative dimension", () => fileWith({ t: { dtype: "F32", shape: [-1], data_offsets: [0, 4] } }, f32(1)), /shape \[-1\] is not a list of non-negative integers/],
    ["a fractional dimension", () => fileWith({ t: { dtype: "F32", shape: [1.5], data_offsets: [0, 4] } }, f32(1)), /not a list of non-negative integers/],
    ["offsets that are not a pair", () => fileWith({ t: { dtype: "F32", shape: [1], data_offsets: [0] } }, f32(1)), /data_offsets \[0\] is not \[begin, end\]/],
    ["offsets that end before they begin", () => fileWith({ t: { dtype: "F32", shape: [0], data_offsets: [4, 0] } }, f32(1)), /end before they begin/],
    ["offsets past the data (truncated data)", () => fileWith({ t: { dtype: "F32", shape: [4], data_offsets: [0, 16] } }, f32(2)), /needs data bytes 0..16 but the file has 8 bytes of data/],
    ["a size that disagrees with the shape", () => fileWith({ t: { dtype: "F32", shape: [3], data_offsets: [0, 8] } }, f32(2)), /F32 \[3\], 12 bytes, but data_offsets span 8/],
    ["a shape whose size overflows", () => fileWith({ t: { dtype: "F32", shape: [2 ** 40, 2 ** 40], data_offsets: [0, 8] } }, f32(2)), /but data_offsets span 8/],
    ["overlapping tensors", () => fileWith({ a: { dtype: "F32", shape: [2], data_offsets: [0, 8] }, b: { dtype: "F32", shape: [2], data_offsets: [4, 12] } }, f32(3)), /overlaps/],
    ["a gap between tensors", () => fileWith({ a: { dtype: "F32", shape: [1], data_offsets: [0, 4] }, b: { dtype: "F32", shape: [1], data_offsets: [8, 12] } }, f32(3)), /4 unused bytes before tensor "b"/],
    ["bytes after the last tensor", () => fileWith({ a: { dtype: "F32", shape: [1], data_offsets: [0, 4] } }, f32(2)), /4 bytes after the last tensor/],
  ])("refuses %s", (_what, make, message) => {
    expect(openError(make())).toMatch(message);
  });

  it("names the dtype when a tensor is not F32/F16/BF16", () => {
    const path = fileWith({ t: { dtype: "I8", shape: [4], data_offsets: [0, 4] } }, new Uint8Array(4));
    expect(() => SafetensorsFile.open(path).readFloat32("t")).toThrow(/dtype I8; supported: F32, F16, BF16/);
  });
});

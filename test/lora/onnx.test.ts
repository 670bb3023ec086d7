// The ONNX editing helpers on real models: the tiny fixture model and the bundled default model,
// run in onnxruntime-node directly (no Maskflow runtime involved).
import { existsSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import ort from "onnxruntime-node";
import { afterAll, describe, expect, it } from "vitest";
import {
  DataType,
  OnnxModel,
  bf16ToFloat,
  float32ToBytes,
  floatToBf16,
  floatToHalf,
  halfToFloat,
  bytesToFloat32,
} from "../../engine/dllm/onnx/index.js";
import { DEFAULT_MODEL, FIXTURES, tempDir } from "./helpers.js";

const tmp = tempDir();
afterAll(() => tmp.cleanup());

const TINY = join(FIXTURES, "tiny", "model.onnx");
const Q0 = "model.transformer.blocks.0.q_proj.weight";

async function logits(source: string | Uint8Array, ids: number[]): Promise<Float32Array> {
  const session = typeof source === "string" ? await ort.InferenceSession.create(source) : await ort.InferenceSession.create(source);
  try {
    const input = new ort.Tensor("int64", BigInt64Array.from(ids.map(BigInt)), [1, ids.length]);
    const out = await session.run({ [session.inputNames[0]]: input });
    return out[session.outputNames[0]].data as Float32Array;
  } finally {
    await session.release();
  }
}

describe("OnnxModel", () => {
  it("lists initializers with dims, types and storage, and reads them as float32", () => {
    const m = OnnxModel.read(TINY);
    const q = m.initializers().find((i) => i.name === Q0)!;
    expect(q).toMatchObject({ dims: [16, 16], dtype: "FLOAT", dataType: DataType.FLOAT, numel: 256, byteLength: 1024, storage: "raw" });
    const w = m.readFloat32(Q0);
    expect(w.length).toBe(256);
    const view = m.readFloat32(Q0, { view: true });
    expect([...view]).toEqual([...w]);
    expect(m.hasExternalData()).toBe(false);
    expect(() => m.readFloat32("nope")).toThrow(/has no initializer "nope"/);
  });

  it("re-encodes a model unchanged: same outputs in onnxruntime", async () => {
    const m = OnnxModel.read(TINY);
    const ids = [3, 5, 7, 11, 1, 1];
    expect(await logits(m.encode(), ids)).toEqual(await logits(TINY, ids));
  });

  it("writes an initializer's data: the session sees the change", async () => {
    const m = OnnxModel.read(TINY);
    const name = "model.transformer.ff_out.weight"; // the LM head, [vocab, d]
    const w = m.readFloat32(name);
    const d = m.info(name).dims[1];
    for (let i = 0; i < d; i++) w[5 * d + i] = 0; // token 5's logit becomes 0
    m.writeFloat32(name, w);
    const out = await logits(m.encode(), [3, 4]);
    const V = m.info(name).dims[0];
    expect(out[5]).toBe(0);
    expect(out[V + 5]).toBe(0);
    expect(() => m.writeFloat32(name, new Float32Array(3))).toThrow(/has \d+ values, got 3/);
  });

  it("saves to external data and reads it back tensor by tensor; sessions agree", async () => {
    const m = OnnxModel.read(TINY);
    const before = m.readFloat32(Q0);
    const dir = join(tmp.dir, "ext");
    m.save(join(dir, "model.onnx"), { externalData: { location: "model.onnx.data", threshold: 256 } });
    expect(statSync(join(dir, "model.onnx")).size).toBeLessThan(statSync(TINY).size - 10_000);
    const back = OnnxModel.read(join(dir, "model.onnx"));
    expect(back.hasExternalData()).toBe(true);
    expect(back.externalFiles()).toEqual([join(dir, "model.onnx.data")]);
    const info = back.info(Q0);
    expect(info.storage).toBe("external");
    expect(info.external!.offset % 4096).toBe(0);
    expect(back.readFloat32(Q0)).toEqual(before);
    const ids = [9, 8, 7];
    expect(await logits(join(dir, "model.onnx"), ids)).toEqual(await logits(TINY, ids));

    // Saved elsewhere, the external file is hard-linked (or copied) next to the new .onnx.
    back.save(join(tmp.dir, "moved", "model.onnx"));
    expect(existsSync(join(tmp.dir, "moved", "model.onnx.data"))).toBe(true);
    expect(await logits(join(tmp.dir, "moved", "model.onnx"), ids)).toEqual(await logits(TINY, ids));

    // inlined again, it runs from bytes with no folder
    const again = OnnxModel.read(join(dir, "model.onnx"));
    again.inlineExternalData();
    expect(again.hasExternalData()).toBe(false);
    expect(await logits(again.encode(), ids)).toEqual(await logits(TINY, ids));
  });

  it("refuses external data locations outside the model folder", () => {
    const dir = join(tmp.dir, "escape");
    const m = OnnxModel.read(TINY);
    m.save(join(dir, "model.onnx"), { externalData: { location: "w.data" } });
    const bytes = readFileSync(join(dir, "model.onnx"));
    const evil = OnnxModel.decode(bytes, { dir, source: "evil.onnx" });
    const t = evil.tensor(Q0);
    t.externalData = t.externalData!.map((e) => (e.key === "location" ? { key: "location", value: "../../etc/passwd" } : e));
    expect(() => evil.readFloat32(Q0)).toThrow(/leaves the model folder/);
    t.externalData = t.externalData.map((e) => (e.key === "location" ? { key: "location", value: "/etc/passwd" } : e));
    expect(() => evil.readFloat32(Q0)).toThrow(/must be a relative path/);
    t.externalData = t.externalData.map((e) => (e.key === "location" ? { key: "location", value: "w.data" } : e.key === "offset" ? { key: "offset", value: "999999999" } : e));
    expect(() => evil.readFloat32(Q0)).toThrow(/is truncated/);
  });

  it("refuses a file that is not ONNX", () => {
    const path = join(tmp.dir, "junk.onnx");
    writeFileSync(path, "this is not a protobuf at all, just text\n".repeat(4));
    expect(() => OnnxModel.read(path)).toThrow(/junk.onnx: not (a valid ONNX protobuf|an ONNX model)/);
  });

  it("edits the default model (27 MB) in well under a few seconds", () => {
    const t0 = performance.now();
    const m = OnnxModel.read(join(DEFAULT_MODEL, "model.onnx"));
    const w = m.readFloat32(Q0);
    w[0] += 1;
    m.writeFloat32(Q0, w);
    const bytes = m.encode();
    expect(bytes.byteLength).toBeGreaterThan(1e6);
    expect(performance.now() - t0).toBeLessThan(20_000);
  });
});

describe("float conversions", () => {
  it("float16: every half value survives half -> float -> half", () => {
    const wrong: number[] = [];
    for (let h = 0; h < 0x10000; h++) {
      const f = halfToFloat(h);
      if (!Number.isNaN(f) && floatToHalf(f) !== h) wrong.push(h);
    }
    expect(wrong).toEqual([]);
  });

  it("float16 rounds to nearest even, overflows to infinity, underflows to zero", () => {
    expect(halfToFloat(floatToHalf(1 + 2 ** -11))).toBe(1); // tie -> even
    expect(halfToFloat(floatToHalf(1 + 3 * 2 ** -11))).toBe(1 + 2 ** -9); // tie -> even (up)
    expect(halfToFloat(floatToHalf(70000))).toBe(Infinity);
    expect(halfToFloat(floatToHalf(2 ** -26))).toBe(0);
    expect(halfToFloat(floatToHalf(3 * 2 ** -25))).toBe(2 ** -23); // subnormal rounding
  });

  it("bfloat16 is the top half of float32, rounded to nearest even", () => {
    expect(bf16ToFloat(floatToBf16(1))).toBe(1);
    expect(bf16ToFloat(floatToBf16(1 + 2 ** -8))).toBe(1); // tie -> even
    expect(bf16ToFloat(floatToBf16(1 + 3 * 2 ** -8))).toBe(1 + 2 ** -6);
    expect(bf16ToFloat(floatToBf16(-3.140625))).toBe(-3.140625);
  });

  it("bytes round-trip for FLOAT16, BFLOAT16 and DOUBLE tensors", () => {
    const v = [0.5, -2, 3.25, 1024];
    for (const t of [DataType.FLOAT, DataType.FLOAT16, DataType.BFLOAT16, DataType.DOUBLE]) {
      expect([...bytesToFloat32(float32ToBytes(v, t), t, v.length)]).toEqual(v);
    }
  });
});

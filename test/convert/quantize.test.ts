// Block quantisation in MatMulNBits' layout, and onnxruntime's reading of it: MatMulNBits and
// GatherBlockQuantized on our bytes give what dequantizeRows says the bytes mean.
import ort from "onnxruntime-node";
import { describe, expect, it } from "vitest";
import { dequantizeRows, quantizeRows, quantizeRowsSymmetric } from "../../engine/dllm/convert/quantize.js";
import { attr, GraphBuilder } from "../../engine/dllm/onnx/builder.js";
import { DataType } from "../../engine/dllm/onnx/dtypes.js";
import { noise } from "../lora/helpers.js";

describe("quantizeRows", () => {
  for (const bits of [4, 8] as const) {
    it(`${bits} bits: every value within half a step of its block's grid, partial blocks and zeros exact`, () => {
      const rows = 3;
      const cols = 80; // 2.5 blocks of 32
      const w = noise(rows * cols, 7, 0.5);
      w.fill(0, cols, 2 * cols); // an all-zero row
      const q = quantizeRows(w, rows, cols, bits, 32);
      expect(q.kBlocks).toBe(3);
      const back = dequantizeRows(q);
      for (let n = 0; n < rows; n++) {
        for (let k = 0; k < cols; k++) {
          const scale = q.scales[n * q.kBlocks + Math.floor(k / 32)];
          expect(Math.abs(back[n * cols + k] - w[n * cols + k])).toBeLessThanOrEqual(scale / 2 + 1e-7);
        }
      }
      for (let k = 0; k < cols; k++) expect(back[cols + k]).toBe(0);
      expect(back.filter((v, i) => w[i] === 0 && v !== 0)).toHaveLength(0);
    });
  }

  for (const bits of [4, 8] as const) {
    it(`symmetric ${bits} bits: the zero point is 2^(bits-1) everywhere and every value within half a step`, () => {
      const w = noise(2 * 64, 11, 0.5);
      const q = quantizeRowsSymmetric(w, 2, 64, bits, 32);
      const back = dequantizeRows(q);
      const zp = 1 << (bits - 1);
      expect([...q.zeroPoints]).toEqual(Array(q.zeroPoints.length).fill(bits === 8 ? zp : zp | (zp << 4)));
      w.forEach((v, i) => expect(Math.abs(back[i] - v)).toBeLessThanOrEqual(q.scales[Math.floor(i / 32)] / 2 + 1e-7));
    });
  }

  it("refuses values that are not finite", () => {
    const w = new Float32Array(64);
    w[40] = NaN;
    expect(() => quantizeRows(w, 1, 64, 4, 32)).toThrow(/row 0 holds a value that is not finite/);
    w[40] = Infinity;
    expect(() => quantizeRows(w, 1, 64, 8, 32)).toThrow(/not finite/);
  });
});

describe("onnxruntime reads our blocks as dequantizeRows does", () => {
  const N = 48;
  const K = 80;
  const W = noise(N * K, 3, 0.3);
  const X = noise(5 * K, 9, 1);

  for (const bits of [4, 8] as const) {
    it(`MatMulNBits, ${bits} bits (accuracy_level 0: float32 products)`, async () => {
      const q = quantizeRows(W, N, K, bits, 32);
      const Wd = dequantizeRows(q);
      const g = new GraphBuilder({ external: null });
      g.useDomain("com.microsoft", 1);
      const a = g.input("a", DataType.FLOAT, [5, K]);
      const b = g.initializer("b", DataType.UINT8, [N, q.kBlocks, (32 * bits) / 8], q.data);
      const s = g.float32("s", [N * q.kBlocks], q.scales);
      const zp = g.initializer("zp", DataType.UINT8, [q.zeroPoints.length], q.zeroPoints);
      const y = g.op1("MatMulNBits", [a, b, s, zp], { K: attr.i(K), N: attr.i(N), bits: attr.i(bits), block_size: attr.i(32), accuracy_level: attr.i(0) }, { domain: "com.microsoft" });
      g.output("y", y, DataType.FLOAT, [5, N]);
      const session = await ort.InferenceSession.create(g.encode({ producer: "test" }));
      const got = (await session.run({ a: new ort.Tensor("float32", X, [5, K]) })).y.data as Float32Array;
      for (let m = 0; m < 5; m++) {
        for (let n = 0; n < N; n++) {
          let want = 0;
          for (let k = 0; k < K; k++) want += X[m * K + k] * Wd[n * K + k];
          expect(Math.abs(got[m * N + n] - want)).toBeLessThan(1e-5);
        }
      }
    });

    it(`GatherBlockQuantized, ${bits} bits`, async () => {
      const q = quantizeRows(W, N, K, bits, 32);
      const Wd = dequantizeRows(q);
      const g = new GraphBuilder({ external: null });
      g.useDomain("com.microsoft", 1);
      const ids = g.input("ids", DataType.INT64, [1, 3]);
      const data = g.initializer("d", DataType.UINT8, [N, (q.kBlocks * 32 * bits) / 8], q.data);
      const s = g.float32("s", [N, q.kBlocks], q.scales);
      const zp = g.initializer("zp", DataType.UINT8, [N, q.zeroPoints.length / N], q.zeroPoints);
      const y = g.op1("GatherBlockQuantized", [data, ids, s, zp], { gather_axis: attr.i(0), quantize_axis: attr.i(1), block_size: attr.i(32), bits: attr.i(bits) }, { domain: "com.microsoft" });
      g.output("y", y, DataType.FLOAT, [1, 3, "k"]);
      const session = await ort.InferenceSession.create(g.encode({ producer: "test" }));
      const out = (await session.run({ ids: new ort.Tensor("int64", BigInt64Array.of(5n, 0n, 47n), [1, 3]) })).y;
      const got = out.data as Float32Array;
      const width = out.dims[2] as number;
      [5, 0, 47].forEach((r, i) => {
        for (let k = 0; k < K; k++) expect(got[i * width + k]).toBeCloseTo(Wd[r * K + k], 6);
      });
    });
  }
});

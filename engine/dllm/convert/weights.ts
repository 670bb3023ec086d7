// How each checkpoint tensor is stored in the graph, per the chosen dtype, and the ops that read it:
//   fp32 / fp16   linear weights transposed to [in, out] for MatMul; norms and biases as vectors
//   int8 / int4   linear weights block-quantised for MatMulNBits (com.microsoft), in the
//                 checkpoint's own [out, in] order; norms and biases stay float32
// The embedding and the output head are stored as `plan.embedding` / `plan.head` say: in the
// float type, or block-quantised (GatherBlockQuantized / MatMulNBits), chosen by measurement.
// Each tensor is read, converted, written to the external data file and dropped before the next.
// The weight manifest (weights.json) records every stored weight's name, ONNX initializer(s),
// shape and layout, which Apply LoRA uses to find the weights it merges into.
import { DataType, float32ToBytes } from "../onnx/dtypes.js";
import { attr, type GraphBuilder } from "../onnx/builder.js";
import { quantizeRows, type QuantBits } from "./quantize.js";

export type ConvertDtype = "fp32" | "fp16" | "int8" | "int4";
export const CONVERT_DTYPES: readonly ConvertDtype[] = ["fp32", "fp16", "int8", "int4"];
export type Storage = "float" | "q8" | "q4";

export interface WeightPlan {
  dtype: ConvertDtype;
  /** MatMulNBits / GatherBlockQuantized block size along the input dimension */
  blockSize: number;
  /** MatMulNBits accuracy_level: 0/1 float32 products, 4 int8 products (fastest on CPUs) */
  accuracyLevel: number;
  embedding: Storage;
  head: Storage;
}

/** The weight manifest entry (engine/dllm/lora/merge.ts reads it). */
export interface ManifestWeight {
  name: string;
  onnx: string;
  shape: number[];
  dtype: string;
  layout: "in_out" | "plain" | "matmulnbits" | "gather_block_quantized";
  bits?: number;
  block_size?: number;
}

/** Reads a checkpoint tensor as float32, checked against `shape` (and LoRA-merged where asked). */
export type ReadTensor = (name: string, shape: number[]) => Float32Array;

export interface LinearWeight {
  /** y = x W^T (+ bias) for x [..., in] */
  apply(x: string): string;
}

export class WeightWriter {
  readonly manifest: ManifestWeight[] = [];
  /** float type of activations: FLOAT, or FLOAT16 for fp16 graphs */
  readonly floatType: number;

  constructor(
    private readonly g: GraphBuilder,
    readonly plan: WeightPlan,
    private readonly read: ReadTensor,
  ) {
    this.floatType = plan.dtype === "fp16" ? DataType.FLOAT16 : DataType.FLOAT;
    if (plan.dtype === "int8" || plan.dtype === "int4" || plan.embedding !== "float" || plan.head !== "float") g.useDomain("com.microsoft", 1);
  }

  private get typeName(): string {
    return this.floatType === DataType.FLOAT16 ? "float16" : "float32";
  }

  /** The storage a linear layer's weight gets under this plan. */
  private linearStorage(): Storage {
    return this.plan.dtype === "int4" ? "q4" : this.plan.dtype === "int8" ? "q8" : "float";
  }

  /** A norm weight or bias, as a vector of the activation type. */
  vector(name: string, length: number): string {
    const v = this.read(name, [length]);
    this.g.initializer(name, this.floatType, [length], float32ToBytes(v, this.floatType));
    this.manifest.push({ name, onnx: name, shape: [length], dtype: this.typeName, layout: "plain" });
    return name;
  }

  /**
   * nn.Linear weight [out, in] (+ optional bias [out]). `as` names the stored weight when the
   * tensor is stored twice (an output head tied to the embedding).
   */
  linear(name: string, outF: number, inF: number, { bias, storage = this.linearStorage(), as = name }: { bias?: string; storage?: Storage; as?: string } = {}): LinearWeight {
    const w = this.read(name, [outF, inF]);
    const stored = as;
    let apply: (x: string) => string;
    if (storage === "float") {
      const t = transpose(w, outF, inF);
      this.g.initializer(stored, this.floatType, [inF, outF], float32ToBytes(t, this.floatType));
      this.manifest.push({ name, onnx: stored, shape: [inF, outF], dtype: this.typeName, layout: "in_out" });
      apply = (x) => this.g.op1("MatMul", [x, stored], {}, { stem: "mm" });
    } else {
      const bits: QuantBits = storage === "q4" ? 4 : 8;
      const q = quantizeRows(w, outF, inF, bits, this.plan.blockSize);
      const blob = (this.plan.blockSize * bits) / 8;
      const data = this.g.initializer(`${stored}.q${bits}`, DataType.UINT8, [outF, q.kBlocks, blob], q.data);
      const scales = this.g.float32(`${stored}.scales`, [outF * q.kBlocks], q.scales);
      const zp = this.g.initializer(`${stored}.zero_points`, DataType.UINT8, [q.zeroPoints.length], q.zeroPoints);
      this.manifest.push({ name, onnx: data, shape: [outF, inF], dtype: `uint${bits}`, layout: "matmulnbits", bits, block_size: this.plan.blockSize });
      const attrs = { K: attr.i(inF), N: attr.i(outF), bits: attr.i(bits), block_size: attr.i(this.plan.blockSize), accuracy_level: attr.i(this.plan.accuracyLevel) };
      apply = (x) => this.g.op1("MatMulNBits", [x, data, scales, zp], attrs, { domain: "com.microsoft", stem: "mmq" });
    }
    if (!bias) return { apply };
    const b = storage === "float" ? this.vector(bias, outF) : this.float32Vector(bias, outF);
    return { apply: (x) => this.g.op1("Add", [apply(x), b], {}, { stem: "bias" }) };
  }

  private float32Vector(name: string, length: number): string {
    const v = this.read(name, [length]);
    this.g.float32(name, [length], v);
    this.manifest.push({ name, onnx: name, shape: [length], dtype: "float32", layout: "plain" });
    return name;
  }

  /** The token embedding [rows, cols]: returns a function from token ids to [..., cols] activations. */
  embedding(name: string, rows: number, cols: number): (ids: string) => string {
    const w = this.read(name, [rows, cols]);
    // GatherBlockQuantized reads rows of whole blocks: a width that is not a multiple of the
    // block size (no checkpoint read so far has one) keeps the embedding in floats.
    if (this.plan.embedding === "float" || cols % this.plan.blockSize !== 0) {
      this.g.initializer(name, this.floatType, [rows, cols], float32ToBytes(w, this.floatType));
      this.manifest.push({ name, onnx: name, shape: [rows, cols], dtype: this.typeName, layout: "plain" });
      return (ids) => this.g.op1("Gather", [name, ids], { axis: attr.i(0) }, { stem: "embed" });
    }
    const bits: QuantBits = this.plan.embedding === "q4" ? 4 : 8;
    const q = quantizeRows(w, rows, cols, bits, this.plan.blockSize);
    const data = this.g.initializer(`${name}.q${bits}`, DataType.UINT8, [rows, (q.kBlocks * this.plan.blockSize * bits) / 8], q.data);
    const scales = this.g.float32(`${name}.scales`, [rows, q.kBlocks], q.scales);
    const zp = this.g.initializer(`${name}.zero_points`, DataType.UINT8, [rows, q.zeroPoints.length / rows], q.zeroPoints);
    this.manifest.push({ name, onnx: data, shape: [rows, cols], dtype: `uint${bits}`, layout: "gather_block_quantized", bits, block_size: this.plan.blockSize });
    const attrs = { gather_axis: attr.i(0), quantize_axis: attr.i(1), block_size: attr.i(this.plan.blockSize), bits: attr.i(bits) };
    return (ids) => {
      const out = this.g.op1("GatherBlockQuantized", [data, ids, scales, zp], attrs, { domain: "com.microsoft", stem: "embed" });
      return this.floatType === DataType.FLOAT ? out : this.g.op1("Cast", [out], { to: attr.i(this.floatType) });
    };
  }
}

/** [rows, cols] -> [cols, rows], in tiles so both sides stay in cache. */
export function transpose(w: Float32Array, rows: number, cols: number): Float32Array {
  const out = new Float32Array(w.length);
  const T = 64;
  for (let r0 = 0; r0 < rows; r0 += T) {
    const r1 = Math.min(rows, r0 + T);
    for (let c0 = 0; c0 < cols; c0 += T) {
      const c1 = Math.min(cols, c0 + T);
      for (let r = r0; r < r1; r++) {
        const src = r * cols;
        for (let c = c0; c < c1; c++) out[c * rows + r] = w[src + c];
      }
    }
  }
  return out;
}

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
import { attr, type AttrValue, type GraphBuilder } from "../onnx/builder.js";
import { quantizeRows, quantizeRowsSymmetric, type QuantBits } from "./quantize.js";

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
  /**
   * MoE experts (LLaDA2): q4 (4-bit blocks with zero points, the smallest) or q8 (8-bit symmetric
   * blocks: onnxruntime 1.29's CPU QMoE runs them ~10x faster than its 4-bit blocks, measured).
   * Default: the dtype's bits.
   */
  experts?: Storage;
}

/** The weight manifest entry (engine/dllm/lora/merge.ts reads it). */
export interface ManifestWeight {
  name: string;
  onnx: string;
  shape: number[];
  dtype: string;
  layout: "in_out" | "plain" | "matmulnbits" | "gather_block_quantized" | "moe_experts";
  bits?: number;
  block_size?: number;
}

/** Reads a checkpoint tensor as float32, checked against `shape` (and LoRA-merged where asked). */
export type ReadTensor = (name: string, shape: number[]) => Float32Array;

export interface SwiGluNames {
  gate: string;
  up: string;
  down: string;
}

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

  /** A tensor read as float32 for a float32 initializer the caller writes (the MoE router). */
  readRaw(name: string, shape: number[]): Float32Array {
    const v = this.read(name, shape);
    this.manifest.push({ name, onnx: name, shape, dtype: "float32", layout: "plain" });
    return v;
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
  linear(name: string, outF: number, inF: number, opts: { bias?: string; storage?: Storage; as?: string } = {}): LinearWeight {
    return this.linearValues(name, this.read(name, [outF, inF]), outF, inF, opts);
  }

  /** The storage plan's default for linear weights, or the experts' (plan.experts) where asked. */
  storageFor(kind: "linear" | "experts"): Storage {
    return kind === "experts" ? (this.plan.experts ?? this.linearStorage()) : this.linearStorage();
  }

  /** A linear layer whose weight is the transpose of the checkpoint tensor [rows, cols]: y = x T, for x [..., rows]. */
  transposedLinear(name: string, rows: number, cols: number, opts: { storage?: Storage; as?: string } = {}): LinearWeight {
    return this.linearValues(name, transpose(this.read(name, [rows, cols]), rows, cols), cols, rows, opts);
  }

  /** A linear layer from values already read (a transposed or sliced checkpoint tensor), [out, in]. */
  linearValues(name: string, w: Float32Array, outF: number, inF: number, { bias, storage = this.linearStorage(), as = name }: { bias?: string; storage?: Storage; as?: string } = {}): LinearWeight {
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

  /**
   * The routed experts of one MoE layer, in onnxruntime's layout for its MoE (float) and QMoE
   * (block-quantised) operators: fc1 [E, 2 * inter, hidden] with each expert's gate and up rows
   * interleaved (swiglu_fusion 1, the one the CPU kernels take), fc2 [E, hidden, inter]. The
   * returned op mixes the k experts router_probs ranks highest, with the softmax of their
   * router_probs as weights (the caller feeds log-weights, see decoder.ts).
   */
  experts(experts: SwiGluNames[], inter: number, hidden: number, k: number, name: string): (x: string, routerProbs: string) => string {
    const E = experts.length;
    const storage = this.plan.experts ?? this.linearStorage();
    const fc1 = (e: number) => {
      const gate = this.read(experts[e].gate, [inter, hidden]);
      const up = this.read(experts[e].up, [inter, hidden]);
      const w = new Float32Array(2 * inter * hidden);
      for (let i = 0; i < inter; i++) {
        w.set(gate.subarray(i * hidden, (i + 1) * hidden), 2 * i * hidden);
        w.set(up.subarray(i * hidden, (i + 1) * hidden), (2 * i + 1) * hidden);
      }
      return w;
    };
    const fc2 = (e: number) => this.read(experts[e].down, [hidden, inter]);
    const attrs: Record<string, AttrValue> = {
      k: attr.i(k),
      activation_type: attr.s("swiglu"),
      swiglu_fusion: attr.i(1),
      normalize_routing_weights: attr.i(0),
      activation_alpha: attr.f(1),
      activation_beta: attr.f(0),
    };
    for (const e of experts) for (const n of [e.gate, e.up, e.down]) this.manifest.push({ name: n, onnx: `${name}.experts`, shape: [], dtype: storage === "float" ? this.typeName : `uint${storage === "q4" ? 4 : 8}`, layout: "moe_experts" });
    if (storage === "float") {
      const w1 = new Float32Array(E * 2 * inter * hidden);
      const w2 = new Float32Array(E * hidden * inter);
      for (let e = 0; e < E; e++) {
        w1.set(fc1(e), e * 2 * inter * hidden);
        w2.set(fc2(e), e * hidden * inter);
      }
      const a = this.g.initializer(`${name}.experts.fc1`, this.floatType, [E, 2 * inter, hidden], float32ToBytes(w1, this.floatType));
      const b = this.g.initializer(`${name}.experts.fc2`, this.floatType, [E, hidden, inter], float32ToBytes(w2, this.floatType));
      return (x, probs) => this.g.op1("MoE", [x, probs, a, "", b], attrs, { domain: "com.microsoft", stem: "moe" });
    }
    const bits: QuantBits = storage === "q4" ? 4 : 8;
    const bs = this.plan.blockSize;
    const symmetric = bits === 8;
    if (hidden % (bs * (8 / bits)) !== 0 || inter % (bs * (8 / bits)) !== 0) {
      throw new Error(`QMoE with zero points needs hidden (${hidden}) and the experts' intermediate size (${inter}) to be multiples of ${bs * (8 / bits)} (block ${bs} x ${8 / bits} values per byte)`);
    }
    const pack = (rows: number, cols: number, get: (e: number) => Float32Array, tag: string) => {
      const kBlocks = cols / bs;
      const data = new Uint8Array(E * rows * (cols * bits) / 8);
      const scales = new Float32Array(E * rows * kBlocks);
      const zp = new Uint8Array(E * rows * ((kBlocks * bits) / 8));
      for (let e = 0; e < E; e++) {
        const q = (symmetric ? quantizeRowsSymmetric : quantizeRows)(get(e), rows, cols, bits, bs);
        data.set(q.data, e * q.data.length);
        scales.set(q.scales, e * q.scales.length);
        zp.set(q.zeroPoints, e * q.zeroPoints.length);
      }
      return [
        this.g.initializer(`${name}.experts.${tag}.q${bits}`, DataType.UINT8, [E, rows, (cols * bits) / 8], data),
        this.g.float32(`${name}.experts.${tag}.scales`, [E, rows, kBlocks], scales),
        this.g.initializer(`${name}.experts.${tag}.zero_points`, DataType.UINT8, [E, rows, (kBlocks * bits) / 8], zp),
      ];
    };
    const [w1, s1, z1] = pack(2 * inter, hidden, fc1, "fc1");
    const [w2, s2, z2] = pack(hidden, inter, fc2, "fc2");
    const qattrs = { ...attrs, expert_weight_bits: attr.i(bits), block_size: attr.i(bs) };
    // symmetric blocks: no zero points (their default is 2^(bits-1)), the kernels' fast path
    const inputs = symmetric ? [w1, s1, "", w2, s2] : [w1, s1, "", w2, s2, "", "", "", "", z1, z2];
    return (x, probs) => this.g.op1("QMoE", [x, probs, ...inputs], qattrs, { domain: "com.microsoft", stem: "qmoe" });
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

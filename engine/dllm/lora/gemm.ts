// W + L @ R for LoRA merging, done by ONNX Runtime's Gemm (MLAS: vectorised, all cores, float32
// accumulation like torch's merge) in a one-node graph built here with the ONNX helpers.
// JavaScript loops manage about 0.2-0.5 GMAC/s, which is fine for the default model but would
// take minutes for LLaDA-8B (about 1e11 multiply-adds for rank 16 on all seven projections).
import ort from "onnxruntime-node";
import { DataType } from "../onnx/dtypes.js";
import { encodeModel, onnxType, type ModelProto } from "../onnx/proto.js";

function tensorInput(name: string, dims: string[]): Record<string, unknown> {
  return {
    name,
    type: { tensorType: { elemType: DataType.FLOAT, shape: { dim: dims.map((d) => ({ dimParam: d })) } } },
  };
}

/** Y[m, n] = W[m, n] + L[m, k] @ R[k, n], all float32, every dimension dynamic. */
export function lowRankAddGraph(): Uint8Array {
  const model = onnxType("ModelProto").fromObject({
    irVersion: 8,
    producerName: "maskflow",
    opsetImport: [{ domain: "", version: 17 }],
    graph: {
      name: "lora_merge",
      // Gemm: Y = L @ R + W in one pass over W (MatMul then Add would write and reread the delta)
      node: [{ opType: "Gemm", input: ["L", "R", "W"], output: ["Y"], name: "merge" }],
      input: [tensorInput("W", ["m", "n"]), tensorInput("L", ["m", "k"]), tensorInput("R", ["k", "n"])],
      output: [tensorInput("Y", ["m", "n"])],
    },
  });
  return encodeModel(model as unknown as ModelProto);
}

let session: Promise<ort.InferenceSession> | null = null;

/** W + L @ R. W is [m, n], L [m, k], R [k, n], row-major float32; returns a new array. */
export async function addLowRank(W: Float32Array, L: Float32Array, R: Float32Array, m: number, n: number, k: number): Promise<Float32Array> {
  if (W.length !== m * n || L.length !== m * k || R.length !== k * n) throw new Error(`addLowRank: sizes do not match [${m}, ${n}] + [${m}, ${k}] @ [${k}, ${n}]`);
  session ??= ort.InferenceSession.create(lowRankAddGraph(), { graphOptimizationLevel: "all" });
  const s = await session;
  const out = await s.run({
    W: new ort.Tensor("float32", W, [m, n]),
    L: new ort.Tensor("float32", L, [m, k]),
    R: new ort.Tensor("float32", R, [k, n]),
  });
  return out.Y.data as Float32Array;
}

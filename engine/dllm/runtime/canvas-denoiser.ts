// A converted encoder + canvas model folder (maskflow.json attention "encoder_canvas";
// convert/canvas-graph.ts) as the entropy-bound sampler drives it: the per-layer-type KV caches
// kept here between calls (a sliding type trimmed to the last W - 1 positions, all its passes
// read), the encoder pass to extend them, and a decoder step whose vocabulary-wide results
// (argmax, entropy, the soft embedding) come from the graph.
//
// Stage-2 scaffolding: the session runs on the calling thread, not in the runtime's worker, and
// the categorical sample is drawn here by inverse CDF from the fetched logits (float64). Moving
// both into the worker and the graph (a uniform input, a sampled-id output) is what lets Denoise
// use it without moving 256 x 262,144 logits per step.
import { join } from "node:path";
import ort from "onnxruntime-node";
import { readModelFolder, type ModelManifest } from "../model-folder.js";
import type { CanvasDenoiser, DenoiserStep } from "../samplers/entropy-bound.js";

type Groups = Extract<NonNullable<ModelManifest["kv_cache"]>, { layout: "per_layer_type" }>["groups"];

interface GroupCache {
  group: Groups[number];
  /** [L, 2, 1, H, P, D] row-major */
  data: Float32Array;
  positions: number;
}

export class OrtCanvasDenoiser implements CanvasDenoiser {
  private caches: GroupCache[];
  private length = 0;

  private constructor(
    private readonly session: ort.InferenceSession,
    readonly manifest: ModelManifest,
    private readonly groups: Groups,
    readonly canvasLength: number,
    private readonly hidden: number,
  ) {
    this.caches = groups.map((group) => ({ group, data: new Float32Array(0), positions: 0 }));
  }

  get vocab(): number {
    return this.manifest.vocab_size;
  }

  static async open(dir: string, { threads = 1 }: { threads?: number } = {}): Promise<OrtCanvasDenoiser> {
    const folder = readModelFolder(dir);
    const m = folder.manifest;
    if (m.attention.kind !== "encoder_canvas" || m.kv_cache === null || !("groups" in m.kv_cache)) {
      throw new Error(`${join(folder.dir, "maskflow.json")}: not an encoder + canvas model (attention.kind "${m.attention.kind}"); the entropy-bound sampler runs uniform-noise models such as DiffusionGemma`);
    }
    const session = await ort.InferenceSession.create(folder.onnxPath, { intraOpNumThreads: threads });
    const sc = session.inputMetadata.find((i) => i.name === m.inputs.self_conditioning);
    const hidden = sc && "shape" in sc ? sc.shape[2] : undefined;
    if (typeof hidden !== "number") throw new Error(`${folder.onnxPath}: input "self_conditioning" has no fixed hidden size`);
    return new OrtCanvasDenoiser(session, m, m.kv_cache.groups, m.attention.canvas_length, hidden);
  }

  /** Forgets the context: the next encode starts a new sequence at position 0. */
  reset(): void {
    this.caches = this.groups.map((group) => ({ group, data: new Float32Array(0), positions: 0 }));
    this.length = 0;
  }

  /** Positions encoded so far. */
  get encoded(): number {
    return this.length;
  }

  private pastFeeds(): Record<string, ort.Tensor> {
    const feeds: Record<string, ort.Tensor> = {};
    for (const c of this.caches) feeds[c.group.input] = new ort.Tensor("float32", c.data, [c.group.layers.length, 2, 1, c.group.heads, c.positions, c.group.head_dim]);
    return feeds;
  }

  private async run(ids: readonly number[], encode: boolean, sc: Float32Array | null, temperature: number) {
    const S = ids.length;
    const m = this.manifest.inputs;
    const feeds: Record<string, ort.Tensor> = {
      [m.input_ids]: new ort.Tensor("int64", BigInt64Array.from(ids, (t) => BigInt(t)), [1, S]),
      [m.position_offset]: new ort.Tensor("int64", BigInt64Array.of(BigInt(this.length)), [1]),
      [m.encode]: new ort.Tensor("int64", BigInt64Array.of(encode ? 1n : 0n), [1]),
      [m.self_conditioning]: new ort.Tensor("float32", sc ?? new Float32Array(S * this.hidden), [1, S, this.hidden]),
      [m.temperature]: new ort.Tensor("float32", Float32Array.of(temperature), [1]),
      // the encoder pass needs no vocabulary rows: one keeps the head's shapes non-empty
      [m.decide]: encode ? new ort.Tensor("int64", BigInt64Array.of(0n), [1, 1]) : new ort.Tensor("int64", BigInt64Array.from({ length: S }, (_, i) => BigInt(i)), [1, S]),
      ...this.pastFeeds(),
    };
    return this.session.run(feeds);
  }

  async encode(ids: readonly number[]): Promise<void> {
    if (ids.length === 0) return;
    const out = await this.run(ids, true, null, 1);
    this.caches = this.caches.map((c) => {
      const present = out[c.group.output];
      const keep = c.group.window ? Math.min(c.positions + ids.length, c.group.window - 1) : c.positions + ids.length;
      return { group: c.group, data: appendPositions(c, present.data as Float32Array, ids.length, keep), positions: keep };
    });
    this.length += ids.length;
  }

  async step(canvas: Int32Array, sc: Float32Array | null, temperature: number, uniforms: Float64Array): Promise<DenoiserStep> {
    const out = await this.run([...canvas], false, sc, temperature);
    const L = canvas.length;
    const V = this.vocab;
    const logits = out[this.manifest.outputs.head_logits].data as Float32Array;
    const top = out[this.manifest.outputs.head_top_ids].data as BigInt64Array;
    const K = top.length / L;
    const t = Math.fround(temperature);
    const sampled = new Int32Array(L);
    const row = new Float64Array(V);
    for (let i = 0; i < L; i++) {
      let max = -Infinity;
      for (let v = 0; v < V; v++) max = Math.max(max, (row[v] = Math.fround(logits[i * V + v] / t)));
      let total = 0;
      for (let v = 0; v < V; v++) total += row[v] = Math.exp(row[v] - max);
      let acc = 0;
      let pick = V - 1;
      for (let v = 0; v < V; v++) {
        acc += row[v];
        if (acc / total > uniforms[i]) {
          pick = v;
          break;
        }
      }
      sampled[i] = pick;
    }
    return {
      argmax: Int32Array.from({ length: L }, (_, i) => Number(top[i * K])),
      entropy: Float32Array.from(out[this.manifest.outputs.head_entropy].data as Float32Array),
      sampled,
      selfConditioning: Float32Array.from(out[this.manifest.outputs.sc_embedding].data as Float32Array),
    };
  }

  release(): Promise<void> {
    return this.session.release();
  }
}

/** [L, 2, 1, H, P, D] cache + [L, 2, 1, H, S, D] new positions, keeping the last `keep`. */
function appendPositions(c: GroupCache, fresh: Float32Array, S: number, keep: number): Float32Array {
  const { layers, heads, head_dim: D } = c.group;
  const rows = layers.length * 2 * heads;
  const P = c.positions;
  const out = new Float32Array(rows * keep * D);
  for (let r = 0; r < rows; r++) {
    const all = new Float32Array((P + S) * D);
    all.set(c.data.subarray(r * P * D, (r + 1) * P * D), 0);
    all.set(fresh.subarray(r * S * D, (r + 1) * S * D), P * D);
    out.set(all.subarray((P + S - keep) * D), r * keep * D);
  }
  return out;
}

// @ts-check
// A uniform-noise model's canvas state inside the ONNX worker (ort-worker.mjs): the per-layer-type
// KV caches of the encoder + canvas graph (maskflow.json attention "encoder_canvas";
// convert/canvas-graph.ts) kept between calls, the encoder pass that extends them (a sliding type
// keeps only its last W - 1 positions: all its passes read), and a decoder step. The step's
// vocabulary-wide work stays on this thread: the graph gives the argmax, the entropy and the soft
// embedding, and the categorical sample is drawn here from the tempered logits by inverse CDF in
// float64, so 256 x 262,144 logits never cross to the main thread. Plain JavaScript, as the worker.
import ort from "onnxruntime-node";

/**
 * @typedef {{ type: string, input: string, output: string, layers: number[], heads: number, head_dim: number, window?: number }} Group
 * @typedef {{ group: Group, data: Float32Array, positions: number }} GroupCache
 * @typedef {Record<string, string>} Roles
 */

export class CanvasSession {
  /**
   * @param {import("onnxruntime-node").InferenceSession} session
   * @param {Group[]} groups
   * @param {Roles} inputs maskflow.json's input roles -> graph names
   * @param {Roles} outputs maskflow.json's output roles -> graph names
   */
  constructor(session, groups, inputs, outputs) {
    this.session = session;
    this.groups = groups;
    this.inputs = inputs;
    this.outputs = outputs;
    const sc = session.inputMetadata.find((m) => m.name === inputs.self_conditioning);
    const hidden = sc && "shape" in sc ? sc.shape[2] : undefined;
    if (typeof hidden !== "number") throw new Error(`input "${inputs.self_conditioning}" has no fixed hidden size`);
    this.hidden = hidden;
    /** @type {GroupCache[]} */
    this.caches = groups.map((group) => ({ group, data: new Float32Array(0), positions: 0 }));
    /** positions encoded so far */
    this.length = 0;
  }

  /** @param {number[] | Int32Array} ids @param {boolean} encode @param {Float32Array | null} sc @param {number} temperature */
  async run(ids, encode, sc, temperature) {
    const S = ids.length;
    const m = this.inputs;
    /** @type {Record<string, import("onnxruntime-node").Tensor>} */
    const feeds = {
      [m.input_ids]: new ort.Tensor("int64", BigInt64Array.from(ids, (t) => BigInt(t)), [1, S]),
      [m.position_offset]: new ort.Tensor("int64", BigInt64Array.of(BigInt(this.length)), [1]),
      [m.encode]: new ort.Tensor("int64", BigInt64Array.of(encode ? 1n : 0n), [1]),
      [m.self_conditioning]: new ort.Tensor("float32", sc ?? new Float32Array(S * this.hidden), [1, S, this.hidden]),
      [m.temperature]: new ort.Tensor("float32", Float32Array.of(temperature), [1]),
      // the encoder pass needs no vocabulary rows: one keeps the head's shapes non-empty
      [m.decide]: encode ? new ort.Tensor("int64", BigInt64Array.of(0n), [1, 1]) : new ort.Tensor("int64", BigInt64Array.from({ length: S }, (_, i) => BigInt(i)), [1, S]),
    };
    for (const c of this.caches) feeds[c.group.input] = new ort.Tensor("float32", c.data, [c.group.layers.length, 2, 1, c.group.heads, c.positions, c.group.head_dim]);
    return this.session.run(feeds);
  }

  /** Appends ids to the context (the causal encoder pass). @param {number[] | Int32Array} ids */
  async encode(ids) {
    if (ids.length === 0) return;
    const out = await this.run(ids, true, null, 1);
    this.caches = this.caches.map((c) => {
      const present = /** @type {Float32Array} */ (out[c.group.output].data);
      const keep = c.group.window ? Math.min(c.positions + ids.length, c.group.window - 1) : c.positions + ids.length;
      return { group: c.group, data: appendPositions(c, present, ids.length, keep), positions: keep };
    });
    this.length += ids.length;
  }

  /**
   * One decoder step over the canvas against the context.
   * @param {Int32Array} canvas @param {Float32Array | null} sc @param {number} temperature
   * @param {Float64Array} uniforms one per position: the sample is the first id whose cumulative tempered probability exceeds it
   * @param {number} [k] also each position's k most likely ids under the tempered distribution, and their probabilities (the inspector's)
   */
  async step(canvas, sc, temperature, uniforms, k = 0) {
    const out = await this.run(canvas, false, sc, temperature);
    const L = canvas.length;
    const logits = /** @type {Float32Array} */ (out[this.outputs.head_logits].data);
    const V = logits.length / L;
    const top = /** @type {BigInt64Array} */ (out[this.outputs.head_top_ids].data);
    const K = top.length / L;
    const t = Math.fround(temperature);
    const sampled = new Int32Array(L);
    // the tempered probability of the argmax (exp(0) / total) and of the sampled id
    const argmaxProb = new Float32Array(L);
    const sampledProb = new Float32Array(L);
    const row = new Float64Array(V);
    const topIds = new Int32Array(L * k);
    const topProbs = new Float32Array(L * k);
    const best = new Int32Array(k);
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
      argmaxProb[i] = 1 / total;
      sampledProb[i] = row[pick] / total;
      if (k > 0) {
        let n = 0;
        for (let v = 0; v < V; v++) {
          const e = row[v];
          if (n < k || e > row[best[n - 1]]) {
            let j = n < k ? n++ : k - 1;
            best[j] = v;
            while (j > 0 && row[best[j - 1]] < e) {
              best[j] = best[j - 1];
              best[j - 1] = v;
              j--;
            }
          }
        }
        for (let j = 0; j < n; j++) {
          topIds[i * k + j] = best[j];
          topProbs[i * k + j] = row[best[j]] / total;
        }
      }
    }
    return {
      argmax: Int32Array.from({ length: L }, (_, i) => Number(top[i * K])),
      entropy: Float32Array.from(/** @type {Float32Array} */ (out[this.outputs.head_entropy].data)),
      sampled,
      argmaxProb,
      sampledProb,
      ...(k > 0 ? { topIds, topProbs } : {}),
      selfConditioning: Float32Array.from(/** @type {Float32Array} */ (out[this.outputs.sc_embedding].data)),
    };
  }
}

/**
 * [L, 2, 1, H, P, D] cache + [L, 2, 1, H, S, D] new positions, keeping the last `keep`.
 * @param {GroupCache} c @param {Float32Array} fresh @param {number} S @param {number} keep
 */
function appendPositions(c, fresh, S, keep) {
  const { layers, heads, head_dim: D } = c.group;
  const rows = layers.length * 2 * heads;
  const P = c.positions;
  const out = new Float32Array(rows * keep * D);
  const all = new Float32Array((P + S) * D);
  for (let r = 0; r < rows; r++) {
    all.set(c.data.subarray(r * P * D, (r + 1) * P * D), 0);
    all.set(fresh.subarray(r * S * D, (r + 1) * S * D), P * D);
    out.set(all.subarray((P + S - keep) * D), r * keep * D);
  }
  return out;
}

// A converted encoder + canvas model folder (maskflow.json attention "encoder_canvas";
// convert/canvas-graph.ts) as the entropy-bound sampler drives it. The state lives in the model's
// ONNX worker (canvas-session.mjs): the per-layer-type KV caches between calls, and the decoder
// step's vocabulary-wide work (the graph's argmax, entropy and soft embedding; the categorical
// sample drawn there), so only per-position results cross to this thread.
import type { ModelManifest } from "../model-folder.js";
import type { CanvasDenoiser, DenoiserStep } from "../samplers/entropy-bound.js";
import { forwardPasses } from "./forward-count.js";

type Call = <T>(message: Record<string, unknown>, transfer?: ArrayBuffer[]) => Promise<T>;

let nextId = 0;

/** One generation's canvas state in a loaded model's worker; release() frees it. */
export class WorkerCanvas implements CanvasDenoiser {
  private readonly id = `canvas-${process.pid}-${nextId++}`;
  private length = 0;
  /** Time the worker spent in decoder steps (ms), and how many. */
  readonly stats = { steps: 0, ms: 0 };
  /** Each step also gives every position's `candidates` most likely ids under the tempered distribution (the inspector's); 0: none. */
  candidates = 0;

  constructor(
    private readonly call: Call,
    readonly manifest: ModelManifest,
  ) {
    if (manifest.attention.kind !== "encoder_canvas" || manifest.kv_cache === null || !("groups" in manifest.kv_cache)) {
      throw new Error(`${manifest.name ?? manifest.family}: not an encoder + canvas model (maskflow.json attention.kind "${manifest.attention.kind}"); the entropy-bound sampler runs uniform-noise models such as DiffusionGemma`);
    }
  }

  get canvasLength(): number {
    return (this.manifest.attention as { canvas_length: number }).canvas_length;
  }

  get vocab(): number {
    return this.manifest.vocab_size;
  }

  /** Positions encoded so far. */
  get encoded(): number {
    return this.length;
  }

  async encode(ids: readonly number[]): Promise<void> {
    if (ids.length === 0) return;
    const buf = Int32Array.from(ids);
    const groups = (this.manifest.kv_cache as { groups: unknown[] }).groups;
    const r = await this.call<{ encoded: number }>({ op: "canvas-encode", cacheId: this.id, ids: buf, groups }, [buf.buffer]);
    this.length = r.encoded;
    forwardPasses.count++;
  }

  async step(canvas: Int32Array, sc: Float32Array | null, temperature: number, uniforms: Float64Array): Promise<DenoiserStep> {
    const ids = Int32Array.from(canvas);
    const u = Float64Array.from(uniforms);
    const r = await this.call<DenoiserStep & { ms: number }>({ op: "canvas-step", cacheId: this.id, canvas: ids, sc, temperature, uniforms: u, k: this.candidates }, [ids.buffer, u.buffer]);
    this.stats.steps++;
    forwardPasses.count++;
    this.stats.ms += r.ms;
    return r;
  }

  /** Forgets the context (the worker's caches): the next encode starts a new sequence at position 0. */
  async reset(): Promise<void> {
    await this.call({ op: "drop-cache", cacheId: this.id });
    this.length = 0;
  }

  release(): Promise<void> {
    return this.reset().catch(() => undefined);
  }
}

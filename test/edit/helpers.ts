// Shared setup for the editing tests: the default model, fixture loading, and a model wrapper
// that records every forward call (the real model underneath; nothing is faked).
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { DllmModel, type LogitsModel } from "../../engine/dllm/index.js";
import type { FastModel, ForwardRequest, ForwardResult, ModelFeatures } from "../../engine/dllm/runtime/model.js";
import { MODEL_DIR, ROOT, sha256 } from "../dllm/fixtures.js";

export { MODEL_DIR, ROOT };
export const EDIT_FIXTURES = join(ROOT, "test", "fixtures", "edit");
export const REGENERATE_EDIT = "/usr/bin/python3 models/reference/make_edit_fixtures.py";

export function editFixture<T>(name: string): T {
  return JSON.parse(readFileSync(join(EDIT_FIXTURES, name), "utf8")) as T;
}

/** True when the fixture was made from another models/default/model.onnx (the model keeps training). */
export function isStale(doc: { model: { onnx_sha256: string } }): boolean {
  return sha256(join(MODEL_DIR, "model.onnx")) !== doc.model.onnx_sha256;
}

export function loadModel(): Promise<DllmModel> {
  return DllmModel.load(MODEL_DIR, { threads: 1 });
}

/** The real model (head, cache and all), with a log of every forward's batch size, sequence length and row count. */
export class RecordingModel implements FastModel {
  readonly calls: { batch: number; seq: number; rows: number; want: "logits" | "top" }[] = [];
  constructor(private readonly inner: DllmModel) {}
  get manifest() {
    return this.inner.manifest;
  }
  get features(): ModelFeatures {
    return this.inner.features;
  }
  forward(ids: Int32Array | readonly number[], batch: number, seq: number, rows?: readonly number[]): Promise<Float32Array> {
    this.calls.push({ batch, seq, rows: rows?.length ?? seq, want: "logits" });
    return this.inner.forward(ids, batch, seq, rows);
  }
  run(req: ForwardRequest): Promise<ForwardResult> {
    this.calls.push({ batch: req.batch, seq: req.seq, rows: req.rows.length, want: req.want });
    return this.inner.run(req);
  }
  dropCache(id: string): Promise<void> {
    return this.inner.dropCache(id);
  }
}

/** Only the plain LogitsModel interface of a model (no head, no cache): the reference path. */
export function logitsOnly(model: LogitsModel): LogitsModel {
  return { manifest: model.manifest, forward: (ids, batch, seq, rows) => model.forward(ids, batch, seq, rows) };
}

export const PROMPTS = [
  "The man opened the door and",
  "She said that the city council would",
  "In the morning, the children",
  "The President told reporters that",
];

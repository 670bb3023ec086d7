// A model folder that is missing, corrupt or does not fit its graph fails with a message naming the file.
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { parseManifest, readModelFolder } from "../../engine/dllm/model-folder.js";
import { DllmModel } from "../../engine/dllm/runtime/model.js";
import { MODEL_DIR } from "./fixtures.js";

const temps: string[] = [];
afterAll(() => temps.forEach((d) => rmSync(d, { recursive: true, force: true })));

/** A copy of the default model folder, with `edit` applied. */
function copyModel(edit: (dir: string) => void = () => {}): string {
  const dir = mkdtempSync(join(tmpdir(), "maskflow-model-"));
  temps.push(dir);
  cpSync(MODEL_DIR, dir, { recursive: true });
  edit(dir);
  return dir;
}

function editManifest(dir: string, change: (m: Record<string, unknown>) => void): void {
  const path = join(dir, "maskflow.json");
  const m = JSON.parse(readFileSync(path, "utf8"));
  change(m);
  writeFileSync(path, JSON.stringify(m));
}

describe("model folder", () => {
  it("reads the bundled default model", () => {
    const f = readModelFolder(MODEL_DIR);
    expect(f.manifest.family).toBe("llada");
    expect(f.manifest.mask_token_id).toBe(1);
    expect(f.tokenizer.vocabSize).toBeLessThanOrEqual(f.manifest.vocab_size);
    expect(f.weightsPath).toMatch(/weights\.json$/);
  });

  it("a missing folder says so", async () => {
    await expect(DllmModel.load("/nonexistent/model")).rejects.toThrow("model folder not found: /nonexistent/model");
  });

  it("a missing file is named", () => {
    const dir = copyModel((d) => rmSync(join(d, "tokenizer.json")));
    expect(() => readModelFolder(dir)).toThrow(`${join(dir, "tokenizer.json")} is missing`);
    const dir2 = copyModel((d) => rmSync(join(d, "maskflow.json")));
    expect(() => readModelFolder(dir2)).toThrow(`${join(dir2, "maskflow.json")} is missing`);
  });

  it("unparsable JSON names the file", () => {
    const dir = copyModel((d) => writeFileSync(join(d, "maskflow.json"), "{ not json"));
    expect(() => readModelFolder(dir)).toThrow(new RegExp(`${join(dir, "maskflow.json")}: the model manifest is not valid JSON`));
  });

  it("a mask id outside the vocabulary is refused", () => {
    const dir = copyModel((d) => editManifest(d, (m) => (m.mask_token_id = 5000)));
    expect(() => readModelFolder(dir)).toThrow(/maskflow\.json: mask_token_id 5000 is outside the vocabulary \(vocab_size 4096/);
    expect(() => parseManifest({ format: 1 }, "m.json")).toThrow(/m\.json: invalid manifest: family: .*mask_token_id/);
  });

  it("a corrupt model.onnx names the file and onnxruntime's reason", async () => {
    const dir = copyModel((d) => writeFileSync(join(d, "model.onnx"), Buffer.from("this is not a protobuf at all")));
    const err = await DllmModel.load(dir).catch((e: Error) => e);
    expect(err).toBeInstanceOf(Error);
    expect((err as Error).message).toContain(`${join(dir, "model.onnx")}: onnxruntime could not load it:`);
  });

  it("input/output names that are not in the graph are refused", async () => {
    const dir = copyModel((d) => editManifest(d, (m) => (m.inputs = { input_ids: "tokens" })));
    await expect(DllmModel.load(dir)).rejects.toThrow(/maskflow\.json: inputs\.input_ids is "tokens" but .*model\.onnx has inputs \[input_ids[,\]]/);
    const dir2 = copyModel((d) => editManifest(d, (m) => (m.outputs = { logits: "scores" })));
    await expect(DllmModel.load(dir2)).rejects.toThrow(/outputs\.logits is "scores" but .*has outputs \[logits[,\]]/);
  });

  it("a vocabulary size that does not match the logits is refused", async () => {
    const dir = copyModel((d) => editManifest(d, (m) => (m.vocab_size = 5000)));
    await expect(DllmModel.load(dir)).rejects.toThrow(/vocab_size is 5000 but .*model\.onnx's "logits" has 4096 entries/);
  });

  it("devices this binding lacks fail with how to get them", async () => {
    await expect(DllmModel.load(MODEL_DIR, { device: "dml" })).rejects.toThrow(/device "dml" is not available.*DirectML ships inside onnxruntime-node on Windows/);
    await expect(DllmModel.load(MODEL_DIR, { device: "cuda" })).rejects.toThrow(/libonnxruntime_providers_cuda\.so.*ONNXRUNTIME_NODE_INSTALL/);
    // @ts-expect-error an unknown device name
    await expect(DllmModel.load(MODEL_DIR, { device: "tpu" })).rejects.toThrow(/unknown device "tpu"/);
  });
});

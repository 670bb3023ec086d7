import { existsSync } from "node:fs";
import { resolve } from "node:path";
import { DEVICES, DeviceError, DllmModel, type Device } from "../engine/dllm/index.js";
import { modelFacts } from "../engine/dllm/model-facts.js";
import { resourceRoots } from "../engine/paths.js";
import type { NodeDefinition } from "../engine/types.js";

const LoadModel: NodeDefinition = {
  type: "LoadModel",
  version: 1,
  title: "Load Model",
  category: "model",
  description:
    "Loads a masked diffusion model folder (model.onnx, tokenizer.json, maskflow.json; see models/README.md) into an ONNX Runtime session in a worker thread.",
  inputs: {
    path: {
      kind: "string",
      widget: "file",
      file: true,
      suggest: "models",
      default: "models/default",
      description:
        "Model folder. Relative paths are looked up in the working directory, then in the Maskflow package (the bundled models/default), then in your models directory (MASKFLOW_MODELS, default ~/.maskflow/models), where `maskflow convert` writes.",
    },
    device: {
      kind: "string",
      widget: "select",
      options: DEVICES,
      default: "cpu",
      description: "Execution provider: cpu everywhere; cuda on Linux x64 (needs the CUDA provider libraries), dml on Windows, coreml on Apple Silicon, webgpu (experimental).",
    },
    threads: {
      kind: "integer",
      widget: "number",
      default: 0,
      min: 0,
      max: 256,
      description: "CPU threads for ONNX Runtime; 0 uses one per CPU core, and more than the cores there are gives no more.",
    },
  },
  outputs: { model: { socket: "MODEL", description: "The loaded model: session, tokenizer and manifest." } },
  // Before running: the model's max_length and tokenizer, for the checks of the nodes it feeds.
  // Read as a run would read them: confined to a served instance's folders (InspectInputs.files).
  inspect: ({ values, files }) => {
    const dir = typeof values.path === "string" ? files.resolve(values.path) : null;
    const facts = dir === null ? null : modelFacts(dir, files.roots);
    return facts ? { outputs: { model: facts } } : undefined;
  },
  async execute({ path, device, threads }, ctx) {
    const dir = await ctx.files.resolve("path", path as string);
    if (!existsSync(dir)) {
      const tried = resourceRoots().map((root) => resolve(root, path as string));
      return ctx.fail("path", `model folder "${path}" not found (looked in ${[...new Set(tried)].join(" and ")})`);
    }
    try {
      const model = await DllmModel.load(dir, { device: device as Device, threads: threads as number, within: ctx.files.roots });
      ctx.log.info(`loaded ${model.manifest.name ?? dir} (${model.manifest.family}, vocabulary ${model.manifest.vocab_size}) on ${device}`);
      return { model };
    } catch (err) {
      return ctx.fail(err instanceof DeviceError ? "device" : "path", (err as Error).message);
    }
  },
};

export default LoadModel;

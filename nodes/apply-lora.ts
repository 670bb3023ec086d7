import { DllmModel } from "../engine/dllm/runtime/model.js";
import type { NodeDefinition } from "../engine/types.js";

// The merging machinery (the ONNX protobuf schema, onnxruntime on the main thread for the low-rank
// products) loads when an Apply LoRA node first runs: a workflow without one, the CLI and the
// server start ~0.1 s sooner without it.
const lora = () => Promise.all([import("../engine/dllm/lora/adapter.js"), import("../engine/dllm/lora/apply.js")]);

const ApplyLora: NodeDefinition = {
  type: "ApplyLora",
  version: 1,
  title: "Apply LoRA",
  category: "model",
  description:
    "Merges a PEFT LoRA adapter (adapter_config.json + adapter_model.safetensors) into the model's weights: " +
    "W + strength * (alpha/r) * B·A. Gives a new model with its own session; the input model is unchanged. " +
    "Chain several to stack adapters. Strength 0 is the input model, negative values subtract the adapter.",
  inputs: {
    model: { socket: "MODEL", description: "The model to adapt (from Load Model or another Apply LoRA)." },
    path: {
      kind: "string",
      widget: "file",
      file: true,
      default: "models/loras/romance",
      description: "The adapter: a PEFT folder (adapter_config.json + adapter_model.safetensors) or its .safetensors file.",
    },
    strength: { kind: "number", widget: "number", default: 1, step: 0.05, description: "Multiplies the adapter's effect; any real number." },
  },
  outputs: { model: { socket: "MODEL", description: "The model with the adapter merged in." } },
  async execute({ model, path, strength }, ctx) {
    if (!(model instanceof DllmModel)) ctx.fail("model", "expected a loaded model (connect Load Model's output)");
    if (typeof strength !== "number" || !Number.isFinite(strength)) ctx.fail("strength", `strength must be a finite number, got ${String(strength)}`);
    if (typeof path !== "string" || path.trim() === "") ctx.fail("path", "no adapter path given");
    const [{ LoraError, loadAdapter }, { applyLora }] = await lora();
    try {
      const adapter = loadAdapter(await ctx.files.resolve("path", path as string), ctx.files.roots);
      ctx.signal.throwIfAborted();
      const { model: adapted, stats, warnings } = await applyLora(model as DllmModel, adapter, strength as number, { signal: ctx.signal });
      for (const w of warnings) ctx.log.warn(w);
      ctx.log.info(
        `merged ${adapter.modules.length} LoRA modules into ${stats.weights} weights in ${Math.round(stats.mergeMs)} ms, ` +
          `new session in ${Math.round(stats.sessionMs)} ms (${stats.strategy})`,
      );
      return { model: adapted };
    } catch (err) {
      if (err instanceof LoraError) ctx.fail(err.input, err.message);
      throw err;
    }
  },
};

export default ApplyLora;

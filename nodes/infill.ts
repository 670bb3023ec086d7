import { DllmModel, refreshCanvas } from "../engine/dllm/index.js";
import { holeRanges, infillCanvas } from "../engine/dllm/samplers/infill.js";
import type { NodeDefinition } from "../engine/types.js";
import { encodePrompt } from "./sampling-start.js";

const Infill: NodeDefinition = {
  type: "Infill",
  version: 1,
  title: "Infill",
  category: "editing",
  description:
    "Text with holes to fill: [MASK:n] is a hole of n tokens, [MASK] one token, everything else is fixed text that is never changed. Gives a canvas; link it to Denoise (or Beam) to fill the holes with the text on both sides as context.",
  inputs: {
    model: { socket: "MODEL", description: "From Load Model: its tokenizer encodes the fixed text." },
    template: {
      kind: "string",
      widget: "textarea",
      default: "The [MASK:6] said that [MASK:10].",
      description:
        "Fixed text and holes. A space right before a hole is left to the hole (the tokenizer attaches spaces to the next word), so write holes between words as usual: \"The [MASK:3] cat\".",
    },
    prompt: { socket: "TEXT", kind: "string", widget: "textarea", optional: true, description: "Optional context before the template (e.g. a chat prompt); never changed." },
  },
  outputs: { canvas: { socket: "CANVAS", description: "Fixed text tokens and masked holes." } },
  execute(inputs, ctx) {
    const model = inputs.model;
    if (!(model instanceof DllmModel)) return ctx.fail("model", "link a model from Load Model");
    const tok = model.tokenizer;
    const m = model.manifest;
    const template = inputs.template as string;
    if (tok.cannotFit(template, m.max_length)) return ctx.fail("template", `the template is ${template.length} characters long: far more than the model's max_length ${m.max_length} tokens`);
    const promptIds = encodePrompt((inputs.prompt as string | undefined) ?? "", model, ctx);
    let canvas;
    try {
      canvas = infillCanvas(promptIds, template, tok, m.mask_token_id);
    } catch (err) {
      return ctx.fail("template", (err as Error).message);
    }
    const S = canvas.promptIds.length + canvas.tokens.length;
    if (S > m.max_length) return ctx.fail("template", `prompt and template take ${S} tokens, more than the model's max_length ${m.max_length}`);
    const holes = holeRanges(canvas);
    ctx.log.info(`${holes.length} hole(s) at token ranges ${holes.map(([a, b]) => `${a}-${b - 1}`).join(", ")} of ${canvas.tokens.length}`);
    return { canvas: refreshCanvas(canvas, tok, m.eos_token_id) };
  },
};

export default Infill;

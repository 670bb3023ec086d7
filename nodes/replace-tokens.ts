import { refreshCanvas } from "../engine/dllm/index.js";
import { RemaskError } from "../engine/dllm/samplers/remask.js";
import { parseSpan, replaceSpan } from "../engine/dllm/samplers/replace.js";
import type { NodeDefinition } from "../engine/types.js";
import { editedCanvas, encodePrompt } from "./sampling-start.js";

const ReplaceTokens: NodeDefinition = {
  type: "ReplaceTokens",
  version: 1,
  title: "Replace Tokens",
  category: "editing",
  description:
    "Puts your text in place of a span of a canvas's tokens, fixed so no sampler changes it, and masks a few tokens on each side; a following Denoise (given this canvas) rewrites those neighbours to fit. The denoising view's “type over the selection” adds this node.",
  inputs: {
    canvas: { socket: "CANVAS", description: "The canvas to edit (from Denoise, Infill, Pick...)." },
    model: { socket: "MODEL", description: "From Load Model: its tokenizer turns the text into tokens." },
    positions: { kind: "string", widget: "text", default: "0", description: 'The span replaced: token positions of the generated text, "6-9" (inclusive) or "6".' },
    text: { kind: "string", widget: "textarea", default: "", description: "What goes there (mind the leading space: the tokenizer attaches spaces to the next word). Empty deletes the span." },
    neighbours: { kind: "integer", widget: "number", default: 2, min: 0, max: 64, description: "Tokens masked on each side, to be regenerated around the new text." },
  },
  outputs: { canvas: { socket: "CANVAS", description: "The canvas with the span replaced (fixed) and its neighbours masked." } },
  execute(inputs, ctx) {
    // (a uniform-noise canvas's remasked or neighbouring positions become holes, -1, that Denoise settles again)
    const { model, canvas } = editedCanvas(inputs, ctx);
    const m = model.manifest;
    const text = inputs.text as string;
    try {
      const [start, end] = parseSpan(inputs.positions as string, canvas.tokens.length);
      // Refused before tokenising when far too long for the model (as a prompt is).
      const ids = text ? encodePrompt(text, model, ctx, "text") : [];
      const total = canvas.promptIds.length + canvas.tokens.length - (end - start + 1) + ids.length;
      if (total > m.max_length) return ctx.fail("text", `the canvas would be ${total} tokens, more than the model's max_length ${m.max_length}`);
      const { canvas: out, masked } = replaceSpan(canvas, { start, end, ids, neighbours: inputs.neighbours as number }, `Replace ${start}-${end} with ${JSON.stringify(text)}`);
      if (masked.length === 0 && ids.length === end - start + 1 && ids.every((id, i) => id === canvas.tokens[start + i])) {
        ctx.log.warn("the text is what was already there and no neighbour was masked: the canvas is unchanged");
      }
      ctx.log.info(`replaced positions ${start}-${end} with ${ids.length} fixed token(s); masked ${masked.length} neighbour(s)`);
      return { canvas: refreshCanvas(out, model.tokenizer, m.eos_token_id) };
    } catch (err) {
      if (err instanceof RemaskError) return ctx.fail(err.input, err.message);
      throw err;
    }
  },
};

export default ReplaceTokens;

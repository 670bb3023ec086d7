import { refreshCanvas } from "../engine/dllm/index.js";
import {
  REMASK_STRATEGIES,
  REMASK_UNITS,
  RemaskError,
  applyRemask,
  selectRemask,
  type RemaskStrategy,
  type RemaskUnit,
} from "../engine/dllm/samplers/remask.js";
import type { NodeDefinition } from "../engine/types.js";
import { editedCanvas } from "./sampling-start.js";

function describeRequest(strategy: RemaskStrategy, inputs: Record<string, unknown>): string {
  switch (strategy) {
    case "lowest_confidence":
    case "random": {
      const amount = inputs.amount as number;
      const how = inputs.unit === "fraction" ? `${+(amount * 100).toFixed(2)}%` : `${amount} tokens`;
      return `Remask ${strategy} ${how}${strategy === "random" ? ` (seed ${inputs.seed})` : ""}`;
    }
    case "positions":
      return `Remask positions ${inputs.positions}`;
    case "spans":
      return `Remask spans ${inputs.spans}`;
    case "pattern":
      return `Remask pattern ${inputs.pattern}`;
  }
}

const Remask: NodeDefinition = {
  type: "Remask",
  version: 1,
  title: "Remask",
  category: "editing",
  description:
    "Masks chosen tokens of a canvas again, so a following Denoise (given this canvas) rewrites exactly those, with everything else as context. Fixed tokens and the prompt are never remasked.",
  inputs: {
    canvas: { socket: "CANVAS", description: "The canvas to edit (from Denoise, Infill, Pick...)." },
    model: { socket: "MODEL", description: "From Load Model: its tokenizer maps the text back to tokens." },
    strategy: {
      kind: "string",
      widget: "select",
      options: REMASK_STRATEGIES,
      default: "lowest_confidence",
      description:
        "lowest_confidence: the tokens the model was least sure of when it committed them. random: a seeded random choice. positions: token indices. spans: character ranges of the text. pattern: every occurrence of a text or /regex/.",
    },
    amount: {
      kind: "number",
      widget: "number",
      default: 0.25,
      min: 0,
      max: 4096,
      step: 0.05,
      description: "lowest_confidence / random: how many, as a fraction of the committed tokens (rounded half up) or a token count (see unit).",
    },
    unit: { kind: "string", widget: "select", options: REMASK_UNITS, default: "fraction", description: "Whether amount is a fraction or a number of tokens." },
    seed: { kind: "integer", widget: "seed", default: 0, min: 0, max: Number.MAX_SAFE_INTEGER, description: "random: seed of the choice." },
    positions: { kind: "string", widget: "text", default: "", description: 'positions: token indices of the generated text, e.g. "0, 3, 7-9".' },
    spans: { kind: "string", widget: "text", default: "", description: 'spans: character ranges of the text, start:end (end exclusive), e.g. "0:5, 12:20".' },
    pattern: { kind: "string", widget: "text", default: "", description: "pattern: text to find (every occurrence), or a regular expression written /like this/i." },
  },
  outputs: { canvas: { socket: "CANVAS", description: "The canvas with those tokens masked; its trace records which." } },
  execute(inputs, ctx) {
    // (a uniform-noise canvas's remasked or neighbouring positions become holes, -1, that Denoise settles again)
    const { model, canvas } = editedCanvas(inputs, ctx);
    const m = model.manifest;
    const strategy = inputs.strategy as RemaskStrategy;
    try {
      const choice = selectRemask(
        canvas,
        {
          strategy,
          amount: inputs.amount as number,
          unit: inputs.unit as RemaskUnit,
          seed: inputs.seed as number,
          positions: inputs.positions as string,
          spans: inputs.spans as string,
          pattern: inputs.pattern as string,
        },
        model.tokenizer,
        m.eos_token_id,
      );
      if (choice.skippedFixed.length > 0) ctx.log.warn(`fixed positions are never remasked: skipped ${choice.skippedFixed.join(", ")}`);
      if (choice.positions.length === 0) ctx.log.warn("nothing matched: the canvas is unchanged apart from its trace");
      ctx.log.info(`remasked ${choice.positions.length} position(s): ${choice.positions.join(", ")}`);
      const out = applyRemask(canvas, choice.positions, describeRequest(strategy, inputs));
      return { canvas: refreshCanvas(out, model.tokenizer, m.eos_token_id) };
    } catch (err) {
      if (err instanceof RemaskError) return ctx.fail(err.input, err.message);
      throw err;
    }
  },
};

export default Remask;

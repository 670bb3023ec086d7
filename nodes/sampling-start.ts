// What Denoise and Beam both do first: the canvas to start from (a linked canvas, or the prompt
// plus gen_length masks) and the schedule, each checked and failing on the input it concerns.
import { DllmModel, canvasProblem, createCanvas, planBlocks, validateSchedule, type Canvas, type Schedule } from "../engine/dllm/index.js";
import { isModelFacts } from "../engine/dllm/model-facts.js";
import { canvasMaskId, maskedSamplingProblem } from "../engine/dllm/samplers/noise.js";
import type { StepCandidates } from "../engine/dllm/samplers/generate.js";
import { TextTooLongError } from "../engine/dllm/tokenizer.js";
import type { ExecuteContext, InputDef, InspectInputs, InspectResult, NodeInputs } from "../engine/types.js";

/** LLaDA's classifier-free guidance weight, the same input on Denoise and Beam. */
export const CFG_SCALE_INPUT: InputDef = {
  kind: "number",
  widget: "slider",
  default: 0,
  min: 0,
  max: 10,
  step: 0.1,
  description: "Classifier-free guidance (LLaDA): 0 = off; > 0 also runs the model with the prompt masked, in the same batch.",
};

/** The prompt's ids; a prompt far longer than max_length is refused before tokenising it (seconds for megabytes). */
export function encodePrompt(text: string, model: DllmModel, ctx: ExecuteContext, input = "prompt"): number[] {
  try {
    return model.tokenizer.encode(text, { maxTokens: model.manifest.max_length });
  } catch (err) {
    if (err instanceof TextTooLongError) return ctx.fail(input, `${err.message} (${model.manifest.max_length}, maskflow.json)`);
    throw err;
  }
}

export function samplingStart(inputs: NodeInputs, ctx: ExecuteContext): { model: DllmModel; start: Canvas; schedule: Schedule } {
  const model = inputs.model;
  if (!(model instanceof DllmModel)) return ctx.fail("model", "link a model from Load Model");
  const m = model.manifest;
  const noise = maskedSamplingProblem(m, "Beam search");
  if (noise) return ctx.fail("model", noise);
  const tok = model.tokenizer;
  let start: Canvas;
  const given = inputs.canvas as Canvas | null | undefined;
  const promptText = inputs.prompt as string | undefined;
  if (given != null) {
    const problem = canvasProblem(given);
    if (problem) return ctx.fail("canvas", problem);
    if (given.maskId !== m.mask_token_id) {
      return ctx.fail("canvas", `the canvas was made with mask id ${given.maskId}, this model's is ${m.mask_token_id}: it comes from another model`);
    }
    start = promptText != null ? { ...given, promptIds: encodePrompt(promptText, model, ctx) } : given;
    if (inputs.gen_length !== given.tokens.length) ctx.log.info(`continuing a canvas of ${given.tokens.length} tokens (gen_length is not used)`);
  } else {
    if (promptText == null) return ctx.fail("prompt", "link a prompt (or a canvas to continue from)");
    start = createCanvas(encodePrompt(promptText, model, ctx), inputs.gen_length as number, m.mask_token_id);
  }
  const G = start.tokens.length;
  const S = start.promptIds.length + G;
  if (S > m.max_length) {
    return ctx.fail(
      "gen_length",
      `prompt (${start.promptIds.length} tokens) + generated (${G}) = ${S} tokens, more than the model's max_length ${m.max_length} (maskflow.json)`,
    );
  }
  const masked = start.tokens.filter((t, i) => t === m.mask_token_id && !start.fixed[i]).length;
  const schedule: Schedule = (inputs.schedule as Schedule | undefined) ?? { kind: "linear", steps: Math.max(1, masked), blockLength: 0 };
  const bad = validateSchedule(schedule);
  if (bad) return ctx.fail("schedule", bad);
  try {
    planBlocks(schedule, G);
  } catch (err) {
    return ctx.fail("schedule", (err as Error).message);
  }
  return { model, start, schedule };
}

/**
 * Denoise's and Beam's check before running: prompt plus gen_length must fit the linked model's
 * max_length (the same rule samplingStart() enforces when it runs). A linked canvas brings its
 * own length, unknown here.
 */
export function inspectSamplingStart({ values, upstream }: InspectInputs): InspectResult | undefined {
  const model = upstream.model;
  if (!isModelFacts(model) || "canvas" in upstream || typeof values.gen_length !== "number") return undefined;
  const generated = values.gen_length;
  const prompt = values.prompt ?? upstream.prompt;
  // Far from the limit, no tokenizer is needed to know it fits.
  if (typeof prompt === "string" && generated + model.maxTokens(prompt) <= model.maxLength) return undefined;
  const promptTokens = typeof prompt === "string" ? model.countTokens(prompt) : undefined;
  // The same refusal as encodePrompt's when it runs: far too long to be worth tokenising.
  if (promptTokens === null) {
    const chars = (prompt as string).length;
    return { issues: [{ input: "prompt", message: `the text is ${chars} characters long: far more than the ${model.maxLength} tokens the model's max_length allows (maskflow.json)` }] };
  }
  const total = (promptTokens ?? 0) + generated;
  if (total <= model.maxLength) return undefined;
  const message =
    promptTokens === undefined
      ? `gen_length ${generated} is more than the model's max_length ${model.maxLength} (maskflow.json)`
      : `prompt (${promptTokens} tokens) + gen_length ${generated} = ${total} tokens, more than the model's max_length ${model.maxLength} (maskflow.json)`;
  return { issues: [{ input: "gen_length", message }] };
}

/**
 * What Remask and Replace Tokens check first: a model from Load Model and a canvas made with its
 * mask id (-1 for a uniform-noise model, whose canvases have none: a -1 is a hole to settle again).
 */
export function editedCanvas(inputs: NodeInputs, ctx: ExecuteContext): { model: DllmModel; canvas: Canvas } {
  const model = inputs.model;
  if (!(model instanceof DllmModel)) return ctx.fail("model", "link a model from Load Model");
  const canvas = inputs.canvas as Canvas;
  const problem = canvasProblem(canvas);
  if (problem) return ctx.fail("canvas", problem);
  const maskId = canvasMaskId(model.manifest);
  if (canvas.maskId !== maskId) return ctx.fail("canvas", `the canvas was made with mask id ${canvas.maskId}, this model's is ${maskId}${maskId === -1 ? " (a uniform-noise model: its canvases have no mask token)" : ""}`);
  return { model, canvas };
}

/** Denoise's and Beam's `candidates`: what the inspector shows. */
export const CANDIDATES_INPUT: InputDef = {
  advanced: true,
  kind: "integer",
  widget: "number",
  default: 5,
  min: 0,
  max: 8,
  description:
    "Record each step's top candidates (with their probabilities, and the entropy) at every position it looked at, for the denoising view's inspector: from the sampling head when the sampler uses it, at no extra forward. Only when the run is watched (the editor, `maskflow run`); batch runs record none. 0 = none.",
};

/** A step's recorded candidates with their token strings, as the snapshot carries them. */
export function withPieces(candidates: StepCandidates[] | undefined, tok: DllmModel["tokenizer"]) {
  return candidates ? { candidates: candidates.map((k) => ({ ...k, pieces: k.ids.map((t) => tok.piece(t)) })) } : {};
}

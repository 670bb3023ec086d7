import {
  CACHE_MODES,
  REMASKING,
  generate,
  isDynamic,
  refreshCanvas,
  snapshot,
  type CacheMode,
  type Remasking,
  type SamplerOptions,
  type StepInfo,
} from "../engine/dllm/index.js";
import { generateExtended, type ExtendedOptions } from "../engine/dllm/samplers/extended.js";
import { generateAutoLength } from "../engine/dllm/samplers/length.js";
import { REMDM_STRATEGIES, type RemdmStrategy } from "../engine/dllm/samplers/remdm.js";
import { generateBlocks, type BlockTraceStep } from "../engine/dllm/samplers/blocks.js";
import type { Canvas, Schedule } from "../engine/dllm/index.js";
import type { ExecuteContext, NodeDefinition, NodeInputs } from "../engine/types.js";
import { DllmModel } from "../engine/dllm/index.js";
import { UNIFORM_INPUTS, denoiseUniform } from "./denoise-uniform.js";
import { CANDIDATES_INPUT, CFG_SCALE_INPUT, inspectSamplingStart, samplingStart, withPieces } from "./sampling-start.js";

const Denoise: NodeDefinition = {
  type: "Denoise",
  version: 1,
  title: "Denoise",
  category: "sampling",
  description:
    "Fills gen_length masked tokens after the prompt by iterative unmasking (LLaDA's generate; Dream's confidence rules), block by block, and shows every step. Continue from a canvas to finish or redo part of an earlier one. Uniform-noise models (DiffusionGemma) settle whole canvases out of random tokens instead, with their entropy-bound sampler.",
  inputs: {
    model: { socket: "MODEL", description: "From Load Model." },
    prompt: {
      socket: "TEXT",
      kind: "string",
      widget: "textarea",
      optional: true,
      description: "What to continue. Optional when a canvas is linked (then the canvas's own prompt is used unless this is set).",
    },
    schedule: {
      socket: "SCHEDULE",
      optional: true,
      description: "From Mask Schedule. Without one: linear, one token per step, one block.",
    },
    gen_length: {
      kind: "integer",
      widget: "number",
      default: 64,
      min: 1,
      max: 4096,
      description: "Tokens to generate (ignored when continuing from a canvas, which has its own length).",
    },
    temperature: {
      kind: "number",
      widget: "slider",
      default: 0,
      min: 0,
      max: 5,
      step: 0.05,
      description: "0 picks the most likely token; higher samples more freely (float64 Gumbel noise, as LLaDA).",
    },
    remasking: {
      kind: "string",
      widget: "select",
      options: REMASKING,
      default: "low_confidence",
      description:
        "Which positions to commit first. low_confidence / random: LLaDA. maskgit_plus / topk_margin / entropy: Dream's rules (scored on the tempered, top-p/top-k filtered distribution).",
    },
    cfg_scale: CFG_SCALE_INPUT,
    seed: {
      kind: "integer",
      widget: "seed",
      default: 0,
      min: 0,
      max: Number.MAX_SAFE_INTEGER,
      description: "Seed of the sampling noise; the same seed gives the same text.",
    },
    canvas: { socket: "CANVAS", optional: true, description: "Continue from this canvas: its unmasked tokens are kept, its masks are filled." },
    top_p: {
      advanced: true,
      kind: "number",
      widget: "slider",
      default: 1,
      min: 0.01,
      max: 1,
      step: 0.01,
      description: "Nucleus filtering of the token choice (Dream's top_p); 1 = off.",
    },
    top_k: { advanced: true, kind: "integer", widget: "number", default: 0, min: 0, max: 1_000_000, description: "Keep only the k most likely tokens (Dream's top_k); 0 = off." },
    alg_temp: {
      advanced: true,
      kind: "number",
      widget: "number",
      default: 0,
      min: 0,
      max: 100,
      step: 0.05,
      description: "Dream's alg_temp: > 0 picks the positions to commit at random, weighted by softmax(score / alg_temp); 0 = best scores.",
    },
    logits_eos_inf: { advanced: true, kind: "boolean", widget: "toggle", default: false, description: "Never generate EOS (LLaDA's logits_eos_inf): the text fills gen_length." },
    confidence_eos_eot_inf: {
      advanced: true,
      kind: "boolean",
      widget: "toggle",
      default: false,
      description: "Commit positions that predict EOS (or end-of-turn) last (LLaDA's confidence_eos_eot_inf, as intended).",
    },
    shift_logits: {
      advanced: true,
      kind: "string",
      widget: "select",
      options: ["auto", "on", "off"],
      default: "auto",
      description: "Read position j's prediction from output j-1 (Dream-style models). auto: as the model's maskflow.json says.",
    },
    remdm: {
      advanced: true,
      kind: "string",
      widget: "select",
      options: ["off", ...REMDM_STRATEGIES],
      default: "off",
      description:
        "ReMDM: let already decoded tokens be masked again while sampling, so more steps keep revising the text. cap: each with probability min(eta, sigma_max); rescale: eta * sigma_max; conf: the least confident ones more often (eta unused); loop: a middle phase (t from 0.55 to 0.05) that remasks with eta and re-decodes as much.",
    },
    remdm_eta: {
      advanced: true,
      kind: "number",
      widget: "number",
      default: 0.02,
      min: 0,
      max: 1,
      step: 0.001,
      description: "ReMDM's eta (paper defaults: cap 0.008, rescale 0.015, loop 0.02). 0 = plain sampling.",
    },
    eos_stop: {
      advanced: true,
      kind: "boolean",
      widget: "toggle",
      default: false,
      description: "Stop as soon as every remaining mask is decided to be EOS (they all become EOS): shorter answers take fewer steps.",
    },
    length: {
      advanced: true,
      kind: "string",
      widget: "select",
      options: ["fixed", "auto"],
      default: "fixed",
      description:
        "auto (DAEDAL-style): start at initial_length, grow by 8 masks while the model's EOS confidence at the end stays under 0.5, denoise, then keep appending 8 masks while no EOS has been placed, up to gen_length. The schedule's steps per token are kept.",
    },
    cache: {
      advanced: true,
      kind: "string",
      widget: "select",
      options: CACHE_MODES,
      default: "none",
      description:
        "Fast-dLLM's block KV cache: prefix reuses the keys/values left of the current block, dual also those right of it, refreshed at each block start. Faster, slightly different text; needs block_length > 0 to help.",
    },
    initial_length: { advanced: true, kind: "integer", widget: "number", default: 16, min: 1, max: 4096, description: "length = auto: tokens to start from." },
    editing_threshold: {
      advanced: true,
      kind: "number",
      widget: "number",
      default: 0,
      min: 0,
      max: 1,
      step: 0.05,
      description:
        "Block-causal models (LLaDA2): > 0 runs LLaDA2.1's editing loop: a committed token of the current block is replaced when the model now prefers another with probability above this (LLaDA2.1: 0.9). 0 = LLaDA2.0's loop.",
    },
    max_post_steps: {
      advanced: true,
      kind: "integer",
      widget: "number",
      default: 16,
      min: 0,
      max: 256,
      description: "LLaDA2.1's loop: passes over a block after its last mask is filled that may only edit.",
    },
    sub_block: {
      advanced: true,
      kind: "integer",
      widget: "number",
      default: 0,
      min: 0,
      max: 4096,
      description:
        "Block-causal models: fill each block in sub-blocks of this many tokens, left to right, as Fast-dLLM v2 does (its default: 8). 0 = the model's (the whole block for LLaDA2).",
    },
    candidates: CANDIDATES_INPUT,
    ...UNIFORM_INPUTS,
  },
  outputs: { canvas: { socket: "CANVAS", description: "Tokens, masks, per-token confidence and the trace of every step." } },
  inspect: inspectSamplingStart,
  async execute(inputs, ctx) {
    if (inputs.model instanceof DllmModel && inputs.model.manifest.noise?.kind === "uniform") return denoiseUniform(inputs, ctx, inputs.model);
    const { model, start, schedule } = samplingStart(inputs, ctx);
    const m = model.manifest;
    const tok = model.tokenizer;
    if (m.attention.kind === "block_causal") return denoiseBlocks(inputs, ctx, model, start, schedule);

    const shift = inputs.shift_logits as string;
    const topK = inputs.top_k as number;
    const topP = inputs.top_p as number;
    const algTemp = inputs.alg_temp as number;
    const options: SamplerOptions = {
      schedule,
      temperature: inputs.temperature as number,
      remasking: inputs.remasking as Remasking,
      cfgScale: inputs.cfg_scale as number,
      seed: inputs.seed as number,
      topP: topP < 1 ? topP : null,
      topK: topK > 0 ? topK : null,
      algTemp: algTemp > 0 ? algTemp : null,
      logitsEosInf: inputs.logits_eos_inf as boolean,
      confidenceEosEotInf: inputs.confidence_eos_eot_inf as boolean,
      shiftLogits: shift === "auto" ? undefined : shift === "on",
      cache: inputs.cache as CacheMode,
    };
    if (options.cache !== "none" && !model.features.kvCache) {
      return ctx.fail("cache", `this model's graph has no KV cache inputs (export it with models/train/export.py --graph full)`);
    }

    const hooks = {
      signal: ctx.signal,
      decoder: tok,
      // only for someone watching (the editor, a progress bar): a batch run records none
      candidates: ctx.watched === false ? 0 : (inputs.candidates as number),
      onStep: ({ step, total, canvas: c, changed, candidates }: StepInfo) =>
        ctx.progress({
          step,
          total,
          canvas: { ...snapshot(c, tok, step, changed), ...withPieces(candidates, tok) },
        }),
    };
    const remdm = inputs.remdm as "off" | RemdmStrategy;
    const ext: ExtendedOptions = {
      remdm: remdm === "off" ? null : { strategy: remdm, eta: inputs.remdm_eta as number },
      eosStop: inputs.eos_stop as boolean,
    };
    if ((ext.remdm || ext.eosStop) && options.cache !== "none") {
      return ctx.fail("cache", `the KV cache is not available with ${ext.remdm ? "ReMDM" : "eos_stop"}: set cache to none`);
    }
    if (ext.remdm && isDynamic(schedule)) return ctx.fail("remdm", `ReMDM needs a schedule with step counts (linear, cosine, loglinear, list), not "${schedule.kind}"`);
    if (inputs.length === "auto") {
      if (inputs.canvas != null) return ctx.fail("length", "length = auto starts a fresh canvas: unlink the canvas or use length = fixed");
      const { canvas } = await generateAutoLength(
        model,
        start.promptIds,
        options,
        ext,
        { initial: inputs.initial_length as number, max: start.tokens.length },
        { ...hooks, onLength: (length, why) => ctx.log.info(`auto length: ${length} tokens (${why})`) },
      );
      return { canvas: refreshCanvas(canvas, tok, m.eos_token_id) };
    }
    const canvas = ext.remdm || ext.eosStop ? await generateExtended(model, start, options, ext, hooks) : await generate(model, start, options, hooks);
    return { canvas: refreshCanvas(canvas, tok, m.eos_token_id) };
  },
};


/**
 * Block-causal models (maskflow.json attention.kind "block_causal": LLaDA2, Fast-dLLM v2) decode
 * block by block with their exact KV cache, by LLaDA2.0's rule (Fast-dLLM v2's: the same over
 * sub-blocks) or LLaDA2.1's editing loop (samplers/blocks.ts).
 * The schedule's block_length is the block (0: the model's), its steps are spread over the blocks
 * as LLaDA's are (steps per block = steps x block / gen_length), a threshold schedule sets the
 * commit threshold (else the model's: 0.95 for LLaDA2).
 */
async function denoiseBlocks(inputs: NodeInputs, ctx: ExecuteContext, model: DllmModel, start: Canvas, schedule: Schedule) {
  const m = model.manifest;
  const tok = model.tokenizer;
  const attention = m.attention as { kind: "block_causal"; block_size: number };
  const unsupported: [string, boolean][] = [
    ["temperature", (inputs.temperature as number) > 0],
    ["cfg_scale", (inputs.cfg_scale as number) > 0],
    ["remdm", inputs.remdm !== "off"],
    ["length", inputs.length === "auto"],
    ["top_p", (inputs.top_p as number) < 1],
    ["top_k", (inputs.top_k as number) > 0],
    ["remasking", inputs.remasking !== "low_confidence"],
  ];
  for (const [input, set] of unsupported) {
    if (set) return ctx.fail(input, `${m.name ?? m.family} decodes block by block (greedy, low_confidence, by confidence threshold); ${input} is not available for block-causal models`);
  }
  const subBlock = (inputs.sub_block as number) > 0 ? (inputs.sub_block as number) : m.decoding?.sub_block;
  const B = schedule.blockLength > 0 ? schedule.blockLength : attention.block_size;
  const G = start.tokens.length;
  const steps = "steps" in schedule && typeof schedule.steps === "number" ? Math.max(1, Math.round((schedule.steps * B) / Math.max(1, G))) : B;
  const threshold = schedule.kind === "threshold" ? (schedule.threshold ?? m.decoding?.threshold ?? 1) : (m.decoding?.threshold ?? 1);
  const editing = (inputs.editing_threshold as number) > 0 ? { threshold: inputs.editing_threshold as number, maxPostSteps: inputs.max_post_steps as number } : null;
  if (subBlock !== undefined && subBlock > B) return ctx.fail("sub_block", `a sub-block of ${subBlock} tokens does not fit in the block of ${B}`);
  if (editing && subBlock !== undefined && subBlock < B) return ctx.fail("sub_block", "LLaDA2.1's editing loop decodes whole blocks: set sub_block to the block size or editing_threshold to 0");
  const canvas = await generateBlocks(model, start, { blockSize: B, steps, threshold, editing, eosEarlyStop: inputs.eos_stop as boolean, subBlock, stopWhenSettled: m.decoding?.stop_when_settled }, {
    signal: ctx.signal,
    decoder: tok,
    candidates: ctx.watched === false ? 0 : (inputs.candidates as number),
    onStep: ({ step, total, canvas: c, changed, candidates }: StepInfo) => {
      const last = c.trace[c.trace.length - 1] as BlockTraceStep | undefined;
      const snap = snapshot(c, tok, step, changed);
      const edits = last?.edited ? { edited: last.edited, previous: last.previous, previousPieces: last.previous!.map((t) => tok.piece(t)) } : {};
      ctx.progress({ step, total, canvas: { ...snap, block: last?.block, ...edits, ...withPieces(candidates, tok) } });
    },
  });
  const edits = (canvas.trace as BlockTraceStep[]).reduce((n, t) => n + (t.edited?.length ?? 0), 0);
  ctx.log.info(`${canvas.trace.length} steps in blocks of ${B}${editing ? `, ${edits} edits` : ""}`);
  return { canvas: { ...refreshCanvas(canvas, tok, m.eos_token_id), ...(editing ? { edits } : {}) } };
}

export default Denoise;

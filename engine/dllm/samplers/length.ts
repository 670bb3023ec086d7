// Variable output length ("auto" length), DAEDAL-style (Li-Jinsong/DAEDAL, arXiv 2508.00819;
// reference/dllm-algorithms.md section 7).
//
// Stage 1 is DAEDAL's initial length adjustment, unchanged:
//   L = initial; repeat { logits = f([prompt | MASK * L])
//                         eos_conf = scanning from the end back toward the prompt, p(EOS) at the
//                                    positions whose argmax is EOS, at most 32 of them, summed / 32
//                         if eos_conf < 0.5 and L < max: L += 8 (capped at max) else stop }
// Stage 2 differs from DAEDAL's (which inserts 8 masks at a low-confidence position in the middle
// of decoding, with its own threshold-based unmasking): the canvas of length L is denoised with
// the usual sampler; then, while the model has not placed an EOS anywhere and L < max, 8 masks
// (at most up to max) are appended and denoised with everything before them as context. The
// steps follow the schedule's steps per token (schedule.steps / max); the appended masks are
// decoded in one block. DAEDAL also appends 16 attended EOS tokens after stage 1; we do not (the
// EOS stop of ./extended.ts ends the text instead).
import { createCanvas, type Canvas } from "../canvas.js";
import type { LogitsModel } from "../runtime/model.js";
import type { Schedule } from "../schedules.js";
import { generateExtended, type ExtendedOptions } from "./extended.js";
import type { GenerateHooks } from "./generate.js";
import type { SamplerOptions } from "./options.js";

export interface AutoLengthOptions {
  /** Starting length in tokens. */
  initial: number;
  /** Longest the canvas may grow (the node's gen_length). */
  max: number;
  /** Tokens added per growth (DAEDAL's expansion_factor, 8). */
  expansion?: number;
  /** Stage 1 stops growing once eos_conf reaches this (DAEDAL's eos_confidence_threshold, 0.5). */
  eosConfidence?: number;
  /** How many EOS predictions eos_conf averages over (DAEDAL's eos_check_tokens, 32). */
  eosCheckTokens?: number;
}

export const AUTO_DEFAULTS = { expansion: 8, eosConfidence: 0.5, eosCheckTokens: 32 } as const;

export interface LengthProbe {
  length: number;
  eosConfidence: number;
}

/** DAEDAL's eos_conf from the logits rows of the generated region ([L, V], in position order). */
export function eosConfidence(logits: Float32Array, L: number, V: number, eosId: number, checkTokens: number): number {
  let sum = 0;
  let found = 0;
  for (let g = L - 1; g >= 0 && found < checkTokens; g--) {
    const row = logits.subarray(g * V, (g + 1) * V);
    let arg = 0;
    let max = -Infinity;
    for (let v = 0; v < V; v++) {
      if (row[v] > max) {
        max = row[v];
        arg = v;
      }
    }
    if (arg !== eosId) continue;
    let z = 0;
    for (let v = 0; v < V; v++) z += Math.exp(row[v] - max);
    sum += Math.exp(row[eosId] - max) / z;
    found++;
  }
  return sum / checkTokens;
}

/** Stage 1: the starting length, and what each probe measured. */
export async function initialLength(model: LogitsModel, promptIds: readonly number[], auto: AutoLengthOptions, shiftLogits?: boolean): Promise<{ length: number; probes: LengthProbe[] }> {
  const m = model.manifest;
  const { expansion, eosConfidence: threshold, eosCheckTokens } = { ...AUTO_DEFAULTS, ...definedOnly(auto) };
  const shift = shiftLogits ?? m.shift_logits;
  const P = promptIds.length;
  let L = Math.min(auto.initial, auto.max);
  const probes: LengthProbe[] = [];
  for (;;) {
    const x = [...promptIds, ...Array(L).fill(m.mask_token_id)];
    const rows = Array.from({ length: L }, (_, g) => (shift ? Math.max(P + g - 1, 0) : P + g));
    const logits = await model.forward(x, 1, x.length, rows);
    const conf = eosConfidence(logits, L, m.vocab_size, m.eos_token_id, eosCheckTokens);
    probes.push({ length: L, eosConfidence: conf });
    if (conf < threshold && L < auto.max) L = Math.min(L + expansion, auto.max);
    else return { length: L, probes };
  }
}

function definedOnly<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}

/** The schedule for `tokens` masks when `schedule` was written for `max` tokens (same steps per token). */
export function scaledSchedule(schedule: Schedule, tokens: number, max: number, oneBlock: boolean): Schedule {
  if (schedule.kind === "list") return { ...schedule, blockLength: oneBlock ? 0 : schedule.blockLength };
  const steps = Math.max(1, Math.round((schedule.steps * tokens) / max));
  const blockLength = oneBlock ? 0 : schedule.blockLength;
  // planBlocks needs at least one step per block.
  const blocks = blockLength > 0 ? Math.ceil(tokens / Math.min(blockLength, tokens)) : 1;
  return { ...schedule, steps: Math.max(steps, blocks), blockLength };
}

/**
 * Denoises a fresh canvas whose length is chosen by the model (see the top of this file).
 * `opts.schedule` is taken to be written for auto.max tokens.
 */
export async function generateAutoLength(
  model: LogitsModel,
  promptIds: readonly number[],
  opts: SamplerOptions,
  ext: ExtendedOptions,
  auto: AutoLengthOptions,
  hooks: GenerateHooks & { onLength?(length: number, why: string): void } = {},
): Promise<{ canvas: Canvas; probes: LengthProbe[] }> {
  const m = model.manifest;
  const expansion = auto.expansion ?? AUTO_DEFAULTS.expansion;
  const { length, probes } = await initialLength(model, promptIds, auto, opts.shiftLogits);
  const last = probes[probes.length - 1];
  hooks.onLength?.(length, `EOS confidence ${last.eosConfidence.toFixed(3)} at ${length} tokens`);
  let canvas = createCanvas(promptIds, length, m.mask_token_id);
  canvas.trace.push({
    step: 0,
    positions: [],
    tokens: [],
    confidence: [],
    note: `auto length: ${length} tokens (EOS confidence ${probes.map((p) => `${p.length}: ${p.eosConfidence.toFixed(3)}`).join(", ")})`,
  });
  canvas = await generateExtended(model, canvas, { ...opts, schedule: scaledSchedule(opts.schedule, length, auto.max, false) }, ext, hooks);
  while (!canvas.tokens.includes(m.eos_token_id) && canvas.tokens.length < auto.max) {
    if (hooks.signal?.aborted) throw Object.assign(new Error("denoising cancelled while growing the canvas"), { name: "AbortError" });
    const add = Math.min(expansion, auto.max - canvas.tokens.length);
    const L = canvas.tokens.length + add;
    hooks.onLength?.(L, "no EOS placed yet");
    canvas = {
      ...canvas,
      tokens: [...canvas.tokens, ...Array(add).fill(m.mask_token_id)],
      fixed: [...canvas.fixed, ...Array(add).fill(false)],
      confidence: [...canvas.confidence, ...Array(add).fill(0)],
      committedAt: [...canvas.committedAt, ...Array(add).fill(-1)],
      trace: [...canvas.trace, { step: canvas.trace.length, positions: [], tokens: [], confidence: [], note: `auto length: no EOS yet, grew to ${L} tokens` }],
      finished: false,
    };
    canvas = await generateExtended(model, canvas, { ...opts, schedule: scaledSchedule(opts.schedule, add, auto.max, true) }, ext, hooks);
  }
  return { canvas, probes };
}

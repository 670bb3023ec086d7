// The CANVAS socket value: a generated region being denoised, as plain JSON.
import type { CanvasSnapshot } from "../types.js";

export interface TraceStep {
  /** Step number (counting on from the steps an earlier Denoise took on this canvas). */
  step: number;
  /** Positions in the generated region committed at this step, in the order they were chosen. */
  positions: number[];
  tokens: number[];
  /** Model probability of each committed token at commit time. */
  confidence: number[];
  /** Positions masked again at this step (Remask, ReMDM), after the commits above. */
  remasked?: number[];
  /** What happened besides denoising, for people reading the trace (e.g. "Remask lowest_confidence 25%"). */
  note?: string;
}

export interface Canvas {
  /** Token ids of the prompt (context, never denoised). */
  promptIds: number[];
  /** The generated region; `maskId` where still masked. */
  tokens: number[];
  maskId: number;
  /** User-fixed positions (infilling constraints): never changed by a sampler. */
  fixed: boolean[];
  /** Model probability of each token when it was committed (untempered softmax); 0 where masked or given. */
  confidence: number[];
  /** Step at which each position was committed; -1 if masked or given before any step. */
  committedAt: number[];
  /** One entry per denoising step taken, in order. */
  trace: TraceStep[];
  /** The generated text: tokens up to the first EOS, masks and special tokens left out. */
  text: string;
  /** No masks left. */
  finished: boolean;
}

/** A fresh canvas: the prompt followed by `genLength` masks. */
export function createCanvas(promptIds: readonly number[], genLength: number, maskId: number): Canvas {
  return {
    promptIds: [...promptIds],
    tokens: Array(genLength).fill(maskId),
    maskId,
    fixed: Array(genLength).fill(false),
    confidence: Array(genLength).fill(0),
    committedAt: Array(genLength).fill(-1),
    trace: [],
    text: "",
    finished: genLength === 0,
  };
}

/** A deep copy (canvases are values: a node never edits its input). */
export function cloneCanvas(c: Canvas): Canvas {
  return {
    ...c,
    promptIds: [...c.promptIds],
    tokens: [...c.tokens],
    fixed: [...c.fixed],
    confidence: [...c.confidence],
    committedAt: [...c.committedAt],
    trace: c.trace.map((t) => ({
      ...t,
      positions: [...t.positions],
      tokens: [...t.tokens],
      confidence: [...t.confidence],
      ...(t.remasked ? { remasked: [...t.remasked] } : {}),
    })),
  };
}

/** Checks a CANVAS value that came over a link or from JSON; returns a problem or null. */
export function canvasProblem(value: unknown): string | null {
  if (typeof value !== "object" || value === null) return "not a canvas object";
  const c = value as Partial<Canvas>;
  const intArray = (a: unknown) => Array.isArray(a) && a.every((x) => Number.isInteger(x));
  if (!intArray(c.promptIds)) return "promptIds must be an array of token ids";
  if (!intArray(c.tokens)) return "tokens must be an array of token ids";
  if (!Number.isInteger(c.maskId)) return "maskId must be a token id";
  const n = c.tokens!.length;
  if (!Array.isArray(c.fixed) || c.fixed.length !== n) return `fixed must have one entry per token (${n})`;
  if (!Array.isArray(c.confidence) || c.confidence.length !== n) return `confidence must have one entry per token (${n})`;
  if (!Array.isArray(c.committedAt) || c.committedAt.length !== n) return `committedAt must have one entry per token (${n})`;
  if (!Array.isArray(c.trace)) return "trace must be an array";
  return null;
}

export interface CanvasDecoder {
  decode(ids: readonly number[], opts?: { skipSpecial?: boolean }): string;
  piece(id: number): string;
}

/** The answer text: generated tokens up to the first EOS, without masks or special tokens. */
export function canvasText(c: Pick<Canvas, "tokens" | "maskId">, tok: CanvasDecoder, eosId: number): string {
  const end = c.tokens.indexOf(eosId);
  const ids = (end < 0 ? c.tokens : c.tokens.slice(0, end)).filter((t) => t !== c.maskId);
  return tok.decode(ids, { skipSpecial: true });
}

/** Recomputes the derived fields (text, finished) after tokens changed. */
export function refreshCanvas(c: Canvas, tok: CanvasDecoder, eosId: number): Canvas {
  c.text = canvasText(c, tok, eosId);
  c.finished = !c.tokens.includes(c.maskId);
  return c;
}

/** What a progress event carries for one step (engine/types.ts CanvasSnapshot). */
export function snapshot(c: Canvas, tok: CanvasDecoder, step: number, changed: readonly number[]): CanvasSnapshot {
  const fixed = c.fixed.flatMap((f, i) => (f ? [i] : []));
  return {
    step,
    tokens: [...c.tokens],
    pieces: c.tokens.map((t) => (t === c.maskId ? null : tok.piece(t))),
    confidence: [...c.confidence],
    changed: [...changed],
    at: c.trace.length,
    // Given text (infill, replaced tokens) is drawn as given, not tinted by a confidence it never had.
    ...(fixed.length ? { fixed } : {}),
  };
}

/**
 * Commits tokens at absolute positions of x (prompt + generated region) to both x and the canvas,
 * and returns the step's trace entry (not yet pushed: callers may add remasks or a note).
 */
export function commitStep(c: Canvas, x: Int32Array, step: number, commits: readonly { pos: number; token: number; prob: number }[]): TraceStep {
  const P = c.promptIds.length;
  const trace: TraceStep = { step, positions: [], tokens: [], confidence: [] };
  for (const { pos, token, prob } of commits) {
    x[pos] = token;
    const g = pos - P;
    c.tokens[g] = token;
    c.confidence[g] = prob;
    c.committedAt[g] = step;
    trace.positions.push(g);
    trace.tokens.push(token);
    trace.confidence.push(prob);
  }
  return trace;
}

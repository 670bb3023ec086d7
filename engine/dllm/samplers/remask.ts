// Remask: choose positions of a (finished or partial) canvas to mask again, so that a following
// Denoise rewrites exactly those with the whole canvas as context. Pure functions of the canvas;
// the Remask node (nodes/remask.ts) wires them to inputs.
//
// Only committed, unfixed positions of the generated region are ever remasked: the prompt and
// fixed (infilling) tokens never are, and a mask stays a mask.
import { cloneCanvas, type Canvas, type CanvasDecoder } from "../canvas.js";
import { CounterRng } from "../rng.js";
import { EditStream } from "./streams.js";

export const REMASK_STRATEGIES = ["lowest_confidence", "random", "positions", "spans", "pattern"] as const;
export type RemaskStrategy = (typeof REMASK_STRATEGIES)[number];
export const REMASK_UNITS = ["fraction", "tokens"] as const;
export type RemaskUnit = (typeof REMASK_UNITS)[number];

export interface RemaskRequest {
  strategy: RemaskStrategy;
  /** lowest_confidence / random: how much to remask, a fraction of the eligible tokens or a token count. */
  amount?: number;
  unit?: RemaskUnit;
  /** random: seed of the choice. */
  seed?: number;
  /** positions: indices into the generated region, e.g. "0, 3, 7-9" (ranges inclusive). */
  positions?: string;
  /** spans: character ranges of the canvas text, start:end with end exclusive, e.g. "0:5, 12:20". */
  spans?: string;
  /** pattern: text to find (every occurrence), or a regular expression written /like this/i. */
  pattern?: string;
}

export interface RemaskChoice {
  /** Positions to remask, ascending. */
  positions: number[];
  /** Positions the request named that are fixed (never remasked), ascending. */
  skippedFixed: number[];
}

/** A bad request: `input` names the Remask input at fault. */
export class RemaskError extends Error {
  constructor(
    readonly input: string,
    message: string,
  ) {
    super(message);
    this.name = "RemaskError";
  }
}

/** Committed, unfixed positions of the generated region: the only ones a remask may touch. */
export function eligiblePositions(c: Canvas): number[] {
  const out: number[] = [];
  for (let g = 0; g < c.tokens.length; g++) if (c.tokens[g] !== c.maskId && !c.fixed[g]) out.push(g);
  return out;
}

/**
 * How many of `eligible` tokens an amount means: a fraction is rounded half up
 * (0.25 of 10 = 3, 0.25 of 6 = 2), a token count is capped at what is eligible.
 */
export function remaskCount(amount: number, unit: RemaskUnit, eligible: number): number {
  if (unit === "fraction") {
    if (!(amount >= 0 && amount <= 1)) throw new RemaskError("amount", `a fraction must be in [0, 1], got ${amount}`);
    return Math.min(eligible, Math.floor(amount * eligible + 0.5));
  }
  if (!(Number.isInteger(amount) && amount >= 0)) throw new RemaskError("amount", `a token count must be an integer >= 0, got ${amount}`);
  return Math.min(eligible, amount);
}

/** "0, 3, 7-9" -> [0, 3, 7, 8, 9] (sorted, unique); every index must be < length. */
export function parsePositions(spec: string, length: number): number[] {
  const out = new Set<number>();
  for (const part of spec.split(",").map((s) => s.trim()).filter(Boolean)) {
    const m = /^(\d+)(?:\s*-\s*(\d+))?$/.exec(part);
    if (!m) throw new RemaskError("positions", `"${part}" is not a position or a range like 7-9`);
    const a = Number(m[1]);
    const b = m[2] === undefined ? a : Number(m[2]);
    if (b < a) throw new RemaskError("positions", `range ${part} runs backwards`);
    if (b >= length) throw new RemaskError("positions", `position ${b} is outside the generated region (0..${length - 1})`);
    for (let p = a; p <= b; p++) out.add(p);
  }
  if (out.size === 0) throw new RemaskError("positions", 'no positions given (e.g. "0, 3, 7-9")');
  return [...out].sort((x, y) => x - y);
}

/** "0:5, 12:20" -> [[0, 5], [12, 20]]: character ranges, end exclusive. */
export function parseSpans(spec: string): [number, number][] {
  const out: [number, number][] = [];
  for (const part of spec.split(",").map((s) => s.trim()).filter(Boolean)) {
    const m = /^(\d+)\s*:\s*(\d+)$/.exec(part);
    if (!m) throw new RemaskError("spans", `"${part}" is not a character span like 12:20 (start:end, end exclusive)`);
    const a = Number(m[1]);
    const b = Number(m[2]);
    if (b <= a) throw new RemaskError("spans", `span ${part} is empty`);
    out.push([a, b]);
  }
  if (out.length === 0) throw new RemaskError("spans", 'no spans given (e.g. "0:5, 12:20")');
  return out;
}

/** Every occurrence of `pattern` in `text` as [start, end): literal text, or a /regular expression/flags. */
export function patternSpans(pattern: string, text: string): [number, number][] {
  if (pattern === "") throw new RemaskError("pattern", "the pattern is empty");
  const re = /^\/(.+)\/([a-z]*)$/s.exec(pattern);
  let regex: RegExp;
  try {
    regex = re ? new RegExp(re[1], re[2].includes("g") ? re[2] : re[2] + "g") : new RegExp(pattern.replace(/[.*+?^${}()|[\]\\]/g, "\\$&"), "g");
  } catch (err) {
    throw new RemaskError("pattern", `bad regular expression: ${(err as Error).message}`);
  }
  const out: [number, number][] = [];
  for (const m of text.matchAll(regex)) {
    if (m[0].length > 0) out.push([m.index, m.index + m[0].length]);
  }
  return out;
}

/**
 * Where each token of the canvas text sits: for the tokens `canvasText` shows (up to the first
 * EOS, masks and special tokens left out), [position, start, end) in characters of that text.
 */
export function tokenCharRanges(c: Canvas, tok: CanvasDecoder, eosId: number): { position: number; start: number; end: number }[] {
  const end = c.tokens.indexOf(eosId);
  const upTo = end < 0 ? c.tokens.length : end;
  const ids: number[] = [];
  const out: { position: number; start: number; end: number }[] = [];
  let prev = 0;
  for (let g = 0; g < upTo; g++) {
    if (c.tokens[g] === c.maskId) continue;
    ids.push(c.tokens[g]);
    // Length of the decoded prefix; monotone even when a multi-byte character spans tokens.
    const len = Math.max(prev, tok.decode(ids, { skipSpecial: true }).length);
    out.push({ position: g, start: prev, end: len });
    prev = len;
  }
  return out;
}

/** Positions whose characters overlap any of the spans. */
function positionsInSpans(c: Canvas, spans: [number, number][], tok: CanvasDecoder, eosId: number): number[] {
  const hit = new Set<number>();
  for (const r of tokenCharRanges(c, tok, eosId)) {
    if (r.end > r.start && spans.some(([a, b]) => r.start < b && r.end > a)) hit.add(r.position);
  }
  return [...hit].sort((x, y) => x - y);
}

/** The positions a request selects. `tok` and `eosId` are needed for spans and pattern. */
export function selectRemask(c: Canvas, req: RemaskRequest, tok?: CanvasDecoder, eosId?: number): RemaskChoice {
  const eligible = eligiblePositions(c);
  const named = (ps: number[]): RemaskChoice => ({
    positions: ps.filter((p) => c.tokens[p] !== c.maskId && !c.fixed[p]),
    skippedFixed: ps.filter((p) => c.fixed[p]),
  });
  switch (req.strategy) {
    case "lowest_confidence": {
      const k = remaskCount(req.amount ?? 0.25, req.unit ?? "fraction", eligible.length);
      // Weakest first; ties by position (leftmost first).
      const order = [...eligible].sort((a, b) => c.confidence[a] - c.confidence[b] || a - b);
      return { positions: order.slice(0, k).sort((a, b) => a - b), skippedFixed: [] };
    }
    case "random": {
      const k = remaskCount(req.amount ?? 0.25, req.unit ?? "fraction", eligible.length);
      const rng = new CounterRng(req.seed ?? 0);
      const u = new Map(eligible.map((p) => [p, rng.uniform(EditStream.REMASK_PICK, 0, p, 0)]));
      const order = [...eligible].sort((a, b) => u.get(a)! - u.get(b)! || a - b);
      return { positions: order.slice(0, k).sort((a, b) => a - b), skippedFixed: [] };
    }
    case "positions":
      return named(parsePositions(req.positions ?? "", c.tokens.length));
    case "spans":
    case "pattern": {
      if (!tok || eosId === undefined) throw new Error(`remask by ${req.strategy} needs the tokenizer`);
      const text = c.text;
      let spans: [number, number][];
      if (req.strategy === "spans") {
        spans = parseSpans(req.spans ?? "");
        const out = spans.find(([, b]) => b > text.length);
        if (out) throw new RemaskError("spans", `span ${out[0]}:${out[1]} runs past the end of the text (${text.length} characters)`);
      } else {
        spans = patternSpans(req.pattern ?? "", text);
      }
      return named(positionsInSpans(c, spans, tok, eosId));
    }
  }
}

/** A copy of `c` with `positions` masked again, and a trace entry saying so. */
export function applyRemask(c: Canvas, positions: readonly number[], note: string): Canvas {
  const out = cloneCanvas(c);
  for (const g of positions) {
    if (out.fixed[g]) throw new Error(`position ${g} is fixed and cannot be remasked`);
    out.tokens[g] = out.maskId;
    out.confidence[g] = 0;
    out.committedAt[g] = -1;
  }
  out.trace.push({ step: out.trace.length, positions: [], tokens: [], confidence: [], remasked: [...positions], note });
  out.finished = !out.tokens.includes(out.maskId);
  return out;
}

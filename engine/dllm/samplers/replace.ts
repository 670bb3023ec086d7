// Replace: put given text in place of a span of a canvas's generated tokens, fixed (a sampler
// never changes it), and mask a few tokens on each side so a following Denoise rewrites the
// neighbourhood to fit. What the denoising view's "type over the selection" does. Pure functions
// of the canvas; the ReplaceTokens node (nodes/replace-tokens.ts) wires them to inputs.
import { cloneCanvas, type Canvas } from "../canvas.js";
import { RemaskError } from "./remask.js";

export interface Replacement {
  /** First and last position of the span replaced (inclusive, in the generated region). */
  start: number;
  end: number;
  /** Token ids put in its place (any number, none included). */
  ids: readonly number[];
  /** Unfixed tokens masked on each side, to be regenerated around the new text. */
  neighbours: number;
}

/** "6-7" or "6" -> [6, 7] / [6, 6]; the span must lie inside the generated region. */
export function parseSpan(spec: string, length: number): [number, number] {
  const m = /^\s*(\d+)\s*(?:-\s*(\d+)\s*)?$/.exec(spec);
  if (!m) throw new RemaskError("positions", `"${spec}" is not a position or a range like 6-9`);
  const start = Number(m[1]);
  const end = m[2] === undefined ? start : Number(m[2]);
  if (end < start) throw new RemaskError("positions", `range ${spec} runs backwards`);
  if (end >= length) throw new RemaskError("positions", `position ${end} is outside the generated region (0..${length - 1})`);
  return [start, end];
}

/**
 * A copy of `c` with the span replaced by `ids` (fixed) and `neighbours` tokens masked on each
 * side. Positions after the span shift by the change in length; earlier trace entries keep the
 * positions they had.
 */
export function replaceSpan(c: Canvas, r: Replacement, note: string): { canvas: Canvas; masked: number[] } {
  for (let g = r.start; g <= r.end; g++) {
    if (c.fixed[g]) throw new RemaskError("positions", `position ${g} is fixed (given text) and cannot be replaced`);
  }
  const out = cloneCanvas(c);
  const n = r.ids.length;
  const cut = r.end - r.start + 1;
  out.tokens.splice(r.start, cut, ...r.ids);
  out.fixed.splice(r.start, cut, ...Array<boolean>(n).fill(true));
  out.confidence.splice(r.start, cut, ...Array<number>(n).fill(0));
  out.committedAt.splice(r.start, cut, ...Array<number>(n).fill(-1));
  const masked: number[] = [];
  const mask = (g: number) => {
    if (g < 0 || g >= out.tokens.length || out.fixed[g] || out.tokens[g] === out.maskId) return;
    out.tokens[g] = out.maskId;
    out.confidence[g] = 0;
    out.committedAt[g] = -1;
    masked.push(g);
  };
  for (let k = 1; k <= r.neighbours; k++) {
    mask(r.start - k);
    mask(r.start + n - 1 + k);
  }
  masked.sort((a, b) => a - b);
  out.trace.push({ step: out.trace.length, positions: [], tokens: [], confidence: [], remasked: masked, note });
  out.finished = !out.tokens.includes(out.maskId);
  return { canvas: out, masked };
}

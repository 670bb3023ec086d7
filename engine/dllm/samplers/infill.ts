// Infill templates: text with holes, made into a canvas whose text tokens are fixed and whose
// holes are masks, for Denoise (or Beam) to fill with context on both sides.
//
// Syntax:
//   [MASK:n]   a hole of n tokens (1 <= n <= 1024)
//   [MASK]     a hole of one token
//   anything else is fixed text, kept exactly (tokenized piece by piece between the holes).
// One space right before a hole is dropped from the fixed text: the tokenizers of LLaDA-style
// models attach a space to the word after it (" cat" is one token), so the hole's first token
// brings its own. "The [MASK:6] said" is the fixed tokens of "The", six masks, then " said".
import { createCanvas, type Canvas } from "../canvas.js";

export type TemplatePart = { text: string } | { hole: number };

export const MAX_HOLE = 1024;
const HOLE = /\[MASK(?::(\d+))?\]/g;

export function parseTemplate(template: string): TemplatePart[] {
  const parts: TemplatePart[] = [];
  let last = 0;
  for (const m of template.matchAll(HOLE)) {
    const n = m[1] === undefined ? 1 : Number(m[1]);
    if (!(Number.isInteger(n) && n >= 1 && n <= MAX_HOLE)) throw new Error(`hole ${m[0]} at character ${m.index}: its length must be 1..${MAX_HOLE} tokens`);
    if (m.index > last) parts.push({ text: template.slice(last, m.index) });
    parts.push({ hole: n });
    last = m.index + m[0].length;
  }
  if (last < template.length) parts.push({ text: template.slice(last) });
  if (!parts.some((p) => "hole" in p)) throw new Error('the template has no hole: write one as [MASK:6] (six tokens) or [MASK] (one)');
  return parts;
}

export interface Encoder {
  encode(text: string): number[];
}

/** The canvas of a template: fixed text tokens, masks in the holes; `promptIds` before it as context. */
export function infillCanvas(promptIds: readonly number[], template: string, tok: Encoder, maskId: number): Canvas {
  const parts = parseTemplate(template);
  const tokens: number[] = [];
  const fixed: boolean[] = [];
  parts.forEach((part, i) => {
    if ("hole" in part) {
      for (let j = 0; j < part.hole; j++) {
        tokens.push(maskId);
        fixed.push(false);
      }
      return;
    }
    const next = parts[i + 1];
    const text = next && "hole" in next && part.text.endsWith(" ") ? part.text.slice(0, -1) : part.text;
    for (const id of text === "" ? [] : tok.encode(text)) {
      if (id === maskId) throw new Error("the fixed text encodes to the mask token: write holes as [MASK:n]");
      tokens.push(id);
      fixed.push(true);
    }
  });
  const c = createCanvas(promptIds, tokens.length, maskId);
  c.tokens = tokens;
  c.fixed = fixed;
  c.finished = false;
  return c;
}

/** Where the holes are: [start, end) ranges of the generated region. */
export function holeRanges(c: Pick<Canvas, "fixed">): [number, number][] {
  const out: [number, number][] = [];
  for (let g = 0; g < c.fixed.length; g++) {
    if (c.fixed[g]) continue;
    const s = g;
    while (g < c.fixed.length && !c.fixed[g]) g++;
    out.push([s, g]);
    g--;
  }
  return out;
}

import type { NodeDefinition } from "../engine/types.js";

interface CanvasLike {
  text: string;
  tokens?: number[];
  promptIds?: number[];
  trace?: unknown[];
  score?: number;
  /** LLaDA2.1's editing loop: how many committed tokens were replaced */
  edits?: number;
}

function isCanvas(value: unknown): value is CanvasLike {
  return typeof value === "object" && value !== null && typeof (value as CanvasLike).text === "string";
}

function describeCanvas(c: CanvasLike): Record<string, unknown> {
  return {
    text: c.text,
    tokens: c.tokens,
    prompt_tokens: c.promptIds,
    steps: c.trace?.length,
    trace: c.trace,
    ...(c.score !== undefined ? { score: c.score } : {}),
    ...(c.edits !== undefined ? { edits: c.edits } : {}),
  };
}

const ShowText: NodeDefinition = {
  type: "ShowText",
  version: 1,
  title: "Show Text",
  category: "output",
  description: "Shows text, or the text of a denoised canvas with its tokens and per-step trace. Several canvases (beam search) are shown side by side.",
  output: true,
  inputs: {
    value: { socket: ["TEXT", "CANVAS", "CANVASES"], description: "What to show." },
  },
  outputs: {},
  execute: ({ value }) => {
    if (typeof value === "string") return { text: value };
    if (Array.isArray(value) && value.every(isCanvas)) {
      return { text: value.map((c) => c.text), candidates: value.map(describeCanvas) };
    }
    if (isCanvas(value)) return describeCanvas(value);
    return { text: String(value) };
  },
};

export default ShowText;

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

/** A number as people read it: whole numbers as they are, others to 4 decimals (a log-likelihood, a score). */
function formatNumber(n: number): string {
  return Number.isInteger(n) ? String(n) : n.toFixed(4);
}

/** Longest JSON shown for a value of a shape Show Text does not know (a SCHEDULE, a package's own socket). */
const JSON_LIMIT = 20_000;

function describeOther(value: unknown): string {
  const own = (value as { describe?: unknown } | null)?.describe;
  // Values that hold resources (a MODEL's session) describe themselves rather than being serialised.
  if (typeof own === "function") return String(own.call(value));
  const json = JSON.stringify(value, (_key, v: unknown) => (typeof v === "function" ? undefined : v), 2) ?? String(value);
  return json.length > JSON_LIMIT ? `${json.slice(0, JSON_LIMIT)}… (${json.length} characters)` : json;
}

const ShowText: NodeDefinition = {
  type: "ShowText",
  version: 2,
  title: "Show Text",
  category: "output",
  description:
    "Shows whatever it is given: text; a denoised canvas with its tokens and per-step trace; several canvases (beam search) side by side; a NUMBER (e.g. Score's log-likelihood); a model or schedule described.",
  output: true,
  inputs: {
    value: { socket: "*", description: "What to show: any output." },
  },
  outputs: {},
  execute: ({ value }) => {
    if (typeof value === "string") return { text: value };
    if (typeof value === "number") return { text: formatNumber(value), value };
    if (typeof value === "boolean") return { text: String(value), value };
    if (Array.isArray(value) && value.length > 0 && value.every(isCanvas)) {
      return { text: value.map((c) => c.text), candidates: value.map(describeCanvas) };
    }
    if (isCanvas(value)) return describeCanvas(value);
    return { text: describeOther(value) };
  },
};

export default ShowText;

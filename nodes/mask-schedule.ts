import { DEFAULT_EPS, DEFAULT_FACTOR, DEFAULT_THRESHOLD, SCHEDULE_KINDS, validateSchedule, type Schedule, type ScheduleKind } from "../engine/dllm/index.js";
import type { NodeDefinition } from "../engine/types.js";

const MaskSchedule: NodeDefinition = {
  type: "MaskSchedule",
  version: 2,
  title: "Mask Schedule",
  category: "sampling",
  description:
    "How many masked tokens each denoising step commits. linear: LLaDA's equal shares; cosine: MDLM's cosine schedule (many early, few late); loglinear: MDLM/Dream's schedule (Dream's exact counts); list: your own counts per step; threshold / factor: Fast-dLLM's parallel decoding, committing as many tokens per step as are confident enough (steps is then ignored).",
  inputs: {
    kind: { kind: "string", widget: "select", options: SCHEDULE_KINDS, default: "linear", description: "Schedule shape." },
    steps: {
      kind: "integer",
      widget: "number",
      default: 64,
      min: 1,
      max: 4096,
      description: "Total denoising steps, shared across blocks (ignored for kind = list). steps = gen_length commits one token per step: slowest and best.",
    },
    block_length: {
      kind: "integer",
      widget: "number",
      default: 0,
      min: 0,
      max: 4096,
      description: "Semi-autoregressive blocks, decoded left to right; 0 = one block over the whole generated text.",
    },
    counts: {
      advanced: true,
      kind: "string",
      widget: "text",
      default: "",
      description: "kind = list: tokens to commit at each step of every block, e.g. 8,4,2,1,1 (the last step takes whatever is left).",
    },
    eps: {
      advanced: true,
      kind: "number",
      widget: "number",
      default: DEFAULT_EPS,
      min: 1e-6,
      max: 0.5,
      step: 0.0001,
      description: "cosine / loglinear: the time grid runs from 1 down to eps (Dream uses 1e-3).",
    },
    threshold: {
      advanced: true,
      kind: "number",
      widget: "slider",
      default: DEFAULT_THRESHOLD,
      min: 0.01,
      max: 1,
      step: 0.01,
      description: "kind = threshold: commit the most confident token and every other one whose confidence is at least this (Fast-dLLM uses 0.9).",
    },
    factor: {
      advanced: true,
      kind: "number",
      widget: "number",
      default: DEFAULT_FACTOR,
      min: 0.01,
      max: 100,
      step: 0.1,
      description: "kind = factor: commit the n most confident tokens while the n-th has confidence >= 1 - factor/(n+1) (Fast-dLLM's factor rule).",
    },
  },
  outputs: { schedule: { socket: "SCHEDULE" } },
  execute({ kind, steps, block_length, counts, eps, threshold, factor }, ctx) {
    const schedule: Schedule = { kind: kind as ScheduleKind, steps: steps as number, blockLength: block_length as number, eps: eps as number };
    if (kind === "threshold") schedule.threshold = threshold as number;
    if (kind === "factor") schedule.factor = factor as number;
    if (kind === "list") {
      const parts = String(counts ?? "")
        .split(/[\s,]+/)
        .filter(Boolean);
      const list = parts.map(Number);
      if (list.length === 0) ctx.fail("counts", "kind = list needs counts: tokens to commit at each step, e.g. 8,4,2,1,1");
      const bad = parts.find((p, i) => !Number.isInteger(list[i]) || list[i] < 0);
      if (bad !== undefined) ctx.fail("counts", `"${bad}" is not a whole number >= 0`);
      schedule.counts = list;
    }
    const problem = validateSchedule(schedule);
    if (problem) ctx.fail(null, problem);
    return { schedule };
  },
};

export default MaskSchedule;

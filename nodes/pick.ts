import { canvasProblem, type Canvas } from "../engine/dllm/index.js";
import type { NodeDefinition } from "../engine/types.js";

const Pick: NodeDefinition = {
  type: "Pick",
  version: 1,
  title: "Pick",
  category: "editing",
  description: "One canvas out of several (Beam's ranked candidates, Score's ranking): index 0 is the best.",
  inputs: {
    canvases: { socket: "CANVASES", description: "Ranked canvases." },
    index: { kind: "integer", widget: "number", default: 0, min: 0, max: 1024, description: "Which one, 0 = first (best)." },
  },
  outputs: { canvas: { socket: "CANVAS" } },
  execute({ canvases, index }, ctx) {
    const list = canvases as Canvas[];
    if (!Array.isArray(list) || list.length === 0) return ctx.fail("canvases", "no canvases to pick from");
    const i = index as number;
    if (i >= list.length) return ctx.fail("index", `index ${i} is out of range: there are ${list.length} canvases (0..${list.length - 1})`);
    const problem = canvasProblem(list[i]);
    if (problem) return ctx.fail("canvases", `canvas ${i}: ${problem}`);
    return { canvas: list[i] };
  },
};

export default Pick;

// Sample outputs of workflows/lora.maskflow.json at several strengths (same prompt and seed), for
// the adapter's README (not a test):  npx tsx test/lora/samples.ts [strength ...]
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { NodeRegistry } from "../../engine/registry.js";
import { Executor } from "../../engine/run/executor.js";
import type { NodeDefinition } from "../../engine/types.js";
import type { WorkflowDoc } from "../../engine/workflow/schema.js";
import ApplyLora from "../../nodes/apply-lora.js";
import Denoise from "../../nodes/denoise.js";
import { builtinNodes } from "../../nodes/index.js";
import LoadModel from "../../nodes/load-model.js";
import MaskSchedule from "../../nodes/mask-schedule.js";
import Prompt from "../../nodes/prompt.js";
import { ROOT } from "./helpers.js";

const byType = new Map<string, NodeDefinition>();
for (const def of [...builtinNodes, LoadModel, Prompt, MaskSchedule, Denoise, ApplyLora]) if (!byType.has(def.type)) byType.set(def.type, def);
const executor = new Executor(new NodeRegistry(byType.values()));
const doc = JSON.parse(readFileSync(join(ROOT, "workflows", "lora.maskflow.json"), "utf8")) as WorkflowDoc;
const strengths = process.argv.length > 2 ? process.argv.slice(2).map(Number) : [0, 0.5, 1];
const seeds = (process.env.SEEDS ?? "").split(",").filter(Boolean).map(Number);
for (const seed of seeds.length ? seeds : [undefined]) {
  for (const s of strengths) {
    const overrides: Record<string, unknown> = { "lora.strength": s };
    if (seed !== undefined) overrides["denoise.seed"] = seed;
    const r = await executor.run(doc, { overrides });
    if (r.status !== "finished") throw new Error(JSON.stringify(r.error));
    console.log(`strength ${s}${seed !== undefined ? ` seed ${seed}` : ""}: ${JSON.stringify((r.outputs.show as { text: string }).text)}`);
  }
}
executor.clearCache();

// The model families `maskflow convert` knows. A new family is a file in this folder and a line here.
import { describeConfig, type Family } from "../family.js";
import diffusionGemma from "./diffusion-gemma.js";
import dream from "./dream.js";
import fastDllmV2 from "./fast-dllm-v2.js";
import llada from "./llada.js";
import llada2 from "./llada2.js";

export const FAMILIES: readonly Family[] = [llada, dream, llada2, fastDllmV2, diffusionGemma];

/** The family that reads this config.json, or an error naming what was found and what is supported. */
export function familyFor(config: Record<string, unknown>, dir: string): Family {
  const family = FAMILIES.find((f) => f.matches(config));
  if (family) return family;
  throw new Error(
    `${dir}/config.json: ${describeConfig(config)} is not an architecture Maskflow converts. Supported: ${FAMILIES.map((f) => f.covers).join("; ")}`,
  );
}

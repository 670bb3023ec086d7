// A model folder declares how it noises a canvas (maskflow.json "noise"): the masked samplers
// (LLaDA's generate, Dream's rules, the block decoders, beam search, remasking) fill mask tokens,
// which a uniform-noise model (DiffusionGemma: random ids re-drawn each step) does not have.
import type { ModelManifest } from "../model-folder.js";

/** Why a mask-based sampler cannot run this model, or null when it can. */
export function maskedSamplingProblem(manifest: Pick<ModelManifest, "noise" | "family" | "name">, what = "this sampler"): string | null {
  // (hand-built manifests, as tests make, may lack the field: absorbing, as parseManifest defaults it)
  const kind = (manifest.noise as ModelManifest["noise"] | undefined)?.kind ?? "absorbing";
  if (kind === "absorbing") return null;
  return (
    `${manifest.name ?? manifest.family} is a uniform-noise model (maskflow.json noise "${kind}", family ${manifest.family}): ` +
    `${what} unmasks mask tokens, and this model has none (its canvas starts as random tokens and every step re-draws the ones it does not keep). ` +
    `Its entropy-bound sampler is not in Maskflow yet.`
  );
}

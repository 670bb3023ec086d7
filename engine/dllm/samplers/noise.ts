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
    `${what} works on mask tokens, and this model has none (its canvas starts as random tokens and every step re-draws the ones it does not keep). ` +
    `Denoise runs it with its own sampler (entropy-bound).`
  );
}

/** The mask id a model's canvases carry: its mask token, or -1 for a uniform-noise model (whose canvases have none; a -1 is a hole to settle again). */
export function canvasMaskId(manifest: Pick<ModelManifest, "noise" | "mask_token_id">): number {
  return (manifest.noise as ModelManifest["noise"] | undefined)?.kind === "uniform" ? -1 : manifest.mask_token_id;
}

// Random streams of the editing features (Remask, ReMDM, Score), on top of the sampler's own
// (engine/dllm/rng.ts Stream: 0 Gumbel, 1 random remasking, 2 position sampling). Each is a
// separate family of counters of the one Philox generator, so these numbers never coincide
// with the sampler's. Mirrored by models/reference/edit_reference.py.
export const EditStream = {
  /** Remask strategy "random": one uniform per (position) at step 0; the k smallest are remasked. */
  REMASK_PICK: 16,
  /** ReMDM: one uniform per (step, position) for each decoded token; remasked when u < sigma. */
  REMDM: 17,
  /** Score: the stratified masking level of each group of samples: uniform at (step = group, position 0). */
  SCORE_LEVEL: 18,
  /** Score: which positions a sample masks: uniform at (step = group, position = sample, index = scored position). */
  SCORE_ORDER: 19,
} as const;

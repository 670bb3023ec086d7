// LLaDA's classifier-free guidance, in one place for every sampler that runs it outside the graph
// (generate, the extended sampler, Beam, Score): the unconditional input is the sequence with the
// prompt masked, and the guided logits are un + (cfg + 1) * (cond - un), in float32 as torch
// computes them, so decisions match the Python reference token for token.

/** `into` = x with every prompt position (promptIndex[p] = 1) set to `mask`. */
export function unconditional(x: ArrayLike<number>, promptIndex: ArrayLike<number>, mask: number, into: Int32Array): Int32Array {
  for (let p = 0; p < x.length; p++) into[p] = promptIndex[p] ? mask : x[p];
  return into;
}

/** `into` = the guided row from the conditional and unconditional rows (cfgScale > 0), or a copy of `cond`. */
export function guidedRow(into: Float32Array, cond: Float32Array, un: Float32Array | null, cfgScale: number): Float32Array {
  if (!(cfgScale > 0) || !un) {
    into.set(cond);
    return into;
  }
  const factor = Math.fround(cfgScale + 1);
  for (let v = 0; v < into.length; v++) into[v] = un[v] + Math.fround(factor * Math.fround(cond[v] - un[v]));
  return into;
}

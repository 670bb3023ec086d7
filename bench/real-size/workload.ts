/** The generation the real-size figures are for: prompt 8, gen 128, block 32, one token per step (steps = gen). */
export const PROMPT = 8;
export const GEN = 128;
export const BLOCK = 32;

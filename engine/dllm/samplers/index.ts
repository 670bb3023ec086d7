export { generate, abortError, type GenerateHooks, type StepInfo } from "./generate.js";
export { CACHE_MODES, REMASKING, validateOptions, type CacheMode, type Remasking, type SamplerOptions } from "./options.js";
export { decide, Scratch, type Decision, type DecideSettings } from "./decide.js";
export { rankKey, topK } from "./rank.js";

// The dLLM runtime's public API: model folders, the ONNX worker runtime, tokenizer, the seeded
// generator, mask schedules, the CANVAS value and the samplers. (LoRA merging and graph surgery
// live in ./lora and ./onnx.)
export {
  DllmModel,
  DeviceError,
  DEVICES,
  isFastModel,
  type Device,
  type FastModel,
  type ForwardRequest,
  type ForwardResult,
  type LoadOptions,
  type LogitsModel,
  type ModelFeatures,
} from "./runtime/model.js";
export {
  checkGraph,
  manifestSchema,
  parseManifest,
  readModelFolder,
  type GraphInfo,
  type ModelFolder,
  type ModelManifest,
} from "./model-folder.js";
export { DllmTokenizer, type ChatMessage, type TokenizerConfig } from "./tokenizer.js";
export { CounterRng, Stream, gumbel, noisyLogit, philox4x32 } from "./rng.js";
export {
  DEFAULT_EPS,
  DEFAULT_FACTOR,
  DEFAULT_THRESHOLD,
  dynamicCommitCount,
  isDynamic,
  SCHEDULE_KINDS,
  cosineCounts,
  linearCounts,
  listCounts,
  loglinearCounts,
  planBlocks,
  totalSteps,
  unmaskCounts,
  validateSchedule,
  type Block,
  type Schedule,
  type ScheduleKind,
} from "./schedules.js";
export {
  canvasProblem,
  canvasText,
  cloneCanvas,
  commitStep,
  createCanvas,
  refreshCanvas,
  snapshot,
  type Canvas,
  type CanvasDecoder,
  type TraceStep,
} from "./canvas.js";
export {
  REMASKING,
  CACHE_MODES,
  abortError,
  generate,
  rankKey,
  topK,
  validateOptions,
  type CacheMode,
  type GenerateHooks,
  type Remasking,
  type SamplerOptions,
  type StepInfo,
} from "./samplers/index.js";

#!/usr/bin/env node
// Runs the built CLI (dist/, made by `npm install` / `npm run build`); from a source checkout
// without a build it falls back to the TypeScript sources through tsx.
import { existsSync } from "node:fs";

const built = new URL("../dist/engine/cli/main.js", import.meta.url);
let mod;
if (existsSync(built) && !process.env.MASKFLOW_FROM_SOURCE) {
  // Commands that load a model start the ONNX worker first, while the CLI's modules load.
  if (["run", "batch", "serve"].includes(process.argv[2])) {
    const runtime = await import(new URL("../dist/engine/dllm/runtime/model.js", import.meta.url).href);
    runtime.prewarmWorker();
  }
  mod = await import(built.href);
} else {
  const { register } = await import("tsx/esm/api");
  register();
  mod = await import(new URL("../engine/cli/main.ts", import.meta.url).href);
}
const code = await mod.main(process.argv.slice(2));
// Flush stdout before leaving: model worker threads must not keep a finished CLI alive.
process.stdout.write("", () => process.exit(code));

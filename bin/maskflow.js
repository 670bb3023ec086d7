#!/usr/bin/env node
// Runs the built CLI (dist/, made by `npm install` / `npm run build`); from a source checkout
// without a build it falls back to the TypeScript sources through tsx.
import { existsSync } from "node:fs";

const built = new URL("../dist/engine/cli/main.js", import.meta.url);
let mod;
if (existsSync(built) && !process.env.MASKFLOW_FROM_SOURCE) {
  // Commands that load a model start the ONNX worker (and, for a workflow, its model's session)
  // first, while the CLI's modules load: see engine/cli/preload.ts.
  const early = await import(new URL("../dist/engine/cli/preload.js", import.meta.url).href);
  early.startEarly(process.argv.slice(2));
  mod = await import(built.href);
} else {
  const { register } = await import("tsx/esm/api");
  register();
  mod = await import(new URL("../engine/cli/main.ts", import.meta.url).href);
}
const code = await mod.main(process.argv.slice(2));
// Flush stdout before leaving: model worker threads must not keep a finished CLI alive.
process.stdout.write("", () => process.exit(code));

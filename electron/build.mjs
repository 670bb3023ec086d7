// Bundles the desktop shell: dist/electron/main.mjs (ESM, the engine bundled in, npm packages
// left to node_modules) and dist/electron/preload.cjs (sandboxed preloads must be CommonJS).
// The editor itself is dist/app, built by the main build. Usage: node electron/build.mjs [outDir]
import { build } from "esbuild";
import { fileURLToPath } from "node:url";
import { resolve } from "node:path";

const root = fileURLToPath(new URL("..", import.meta.url));
const outDir = resolve(process.argv[2] ?? resolve(root, "dist/electron"));

await build({
  entryPoints: [resolve(root, "electron/main.ts")],
  outfile: resolve(outDir, "main.mjs"),
  bundle: true,
  platform: "node",
  format: "esm",
  target: "node20",
  packages: "external",
  sourcemap: true,
  logLevel: "warning",
});
await build({
  entryPoints: [resolve(root, "electron/preload.ts")],
  outfile: resolve(outDir, "preload.cjs"),
  bundle: true,
  platform: "node",
  format: "cjs",
  target: "node20",
  external: ["electron"],
  logLevel: "warning",
});
console.log(`electron: built ${outDir}/main.mjs and preload.cjs`);

// Builds what `npm install` needs to leave runnable: the engine and nodes transpiled to dist/
// (file by file, same tree, so worker files keep their relative URLs), the editor (vite) and the
// desktop shell's bundle (electron/build.mjs).
import { build } from "esbuild";
import { existsSync, readdirSync, statSync } from "node:fs";
import { join } from "node:path";
import { spawnSync } from "node:child_process";

function files(dir) {
  return readdirSync(dir).flatMap((name) => {
    const p = join(dir, name);
    return statSync(p).isDirectory() ? files(p) : /\.tsx?$/.test(name) && !name.endsWith(".d.ts") ? [p] : [];
  });
}

const t0 = Date.now();
await build({
  entryPoints: [...files("engine"), ...files("nodes")],
  outdir: "dist",
  outbase: ".",
  platform: "node",
  format: "esm",
  target: "node20",
  sourcemap: true,
  logLevel: "warning",
});
console.log(`engine: dist/ in ${Date.now() - t0} ms`);

if (existsSync("app/vite.config.ts") && !process.argv.includes("--engine-only")) {
  const r = spawnSync(process.execPath, ["node_modules/vite/bin/vite.js", "build", "--config", "app/vite.config.ts", "--logLevel", "warn"], { stdio: "inherit" });
  if (r.status !== 0) process.exit(r.status ?? 1);
  console.log("editor: dist/app");
}

// The desktop shell's bundle, so `maskflow desktop` starts without a build step of its own.
if (existsSync("electron/build.mjs") && !process.argv.includes("--engine-only")) {
  const r = spawnSync(process.execPath, ["electron/build.mjs"], { stdio: "inherit" });
  if (r.status !== 0) process.exit(r.status ?? 1);
}

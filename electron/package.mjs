// `npm run package [-- --linux|--win|--mac ...]`: installers of the desktop app in dist/desktop,
// built by electron-builder with electron/electron-builder.json. electron-builder is a few hundred
// packages that only a release needs, so it is fetched by npx at this pinned version when
// packaging, not installed by every `npm install`. It needs the Electron zip too; the one
// `maskflow desktop` fetched is reused from Electron's cache.
import { spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";

export const ELECTRON_BUILDER = "electron-builder@26.18.1";

const root = fileURLToPath(new URL("..", import.meta.url));

function run(command, args) {
  const r = spawnSync(command, args, { cwd: root, stdio: "inherit", shell: process.platform === "win32" });
  if (r.status !== 0) process.exit(r.status ?? 1);
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  run(process.execPath, ["scripts/build.mjs"]);
  run(process.execPath, ["electron/build.mjs"]);
  run("npx", ["--yes", ELECTRON_BUILDER, "--config", "electron/electron-builder.json", "--publish", "never", ...process.argv.slice(2)]);
}

import { spawnSync } from "node:child_process";

/** Build the engine into dist/ once per test run, so CLI tests exercise what users run, never a stale build. */
export default function setup(): void {
  const r = spawnSync(process.execPath, ["scripts/build.mjs", "--engine-only"], { encoding: "utf8" });
  if (r.status !== 0) throw new Error(`engine build failed:\n${r.stdout}${r.stderr}`);
}

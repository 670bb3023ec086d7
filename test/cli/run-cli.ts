import { spawn, spawnSync } from "node:child_process";

/** Runs the real `maskflow` CLI as built into dist/ by the test setup. */
export function cli(args: string[], opts: { cwd?: string; input?: string; env?: Record<string, string> } = {}) {
  const r = spawnSync(process.execPath, ["bin/maskflow.js", ...args], {
    cwd: opts.cwd,
    input: opts.input,
    encoding: "utf8",
    env: { ...process.env, FORCE_COLOR: "0", ...opts.env },
    timeout: 120_000,
    maxBuffer: 256 * 1024 * 1024,
  });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

export function cliProcess(args: string[], env: Record<string, string> = {}) {
  return spawn(process.execPath, ["bin/maskflow.js", ...args], {
    env: { ...process.env, FORCE_COLOR: "0", ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
}

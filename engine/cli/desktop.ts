// `maskflow desktop [file]` (and `npm run desktop`): the desktop shell (dist/electron/main.mjs)
// in Electron. The binary comes from MASKFLOW_ELECTRON, or the `electron` package once unpacked,
// or is fetched now, with a progress bar; when that is impossible the message says why and what
// to do instead. Files named on the command line open in the window (a second launch with a file
// hands it to the running window: electron/main.ts).
import { spawn, spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { join, resolve } from "node:path";
import cliProgress from "cli-progress";
import { PACKAGE_ROOT } from "../paths.js";
import { electronPackage, fetchElectron, fetchFailureMessage, installedBinary, type ElectronPackage } from "./electron-binary.js";

export interface DesktopOptions {
  stderr?: NodeJS.WriteStream;
  /** Where the fetched binary is unpacked (default: the electron package's folder). */
  installDir?: string;
  /** The shell's entry (default: dist/electron/main.mjs, built when missing in a checkout). */
  shell?: string;
}

/** A user-facing failure: printed as it is, exit 1. */
export class DesktopError extends Error {}

/** A download bar on a terminal; elsewhere (CI logs) one line before and one after. */
function progressReporter(stderr: NodeJS.WriteStream, version: string) {
  const mb = (bytes: number) => (bytes / 1e6).toFixed(1);
  if (!stderr.isTTY) {
    stderr.write(`downloading Electron ${version} (first use of maskflow desktop)...\n`);
    return { update: () => {}, stop: (ok: boolean) => void (ok && stderr.write("downloaded\n")) };
  }
  const bar = new cliProgress.SingleBar(
    { stream: stderr, format: `Electron ${version} |{bar}| {percentage}% {done}/{all} MB`, hideCursor: true, clearOnComplete: true },
    cliProgress.Presets.shades_classic,
  );
  let started = false;
  return {
    update(transferred: number, total: number | undefined) {
      const all = total ?? Math.max(transferred, 1);
      if (!started) bar.start(all, 0, { done: "0.0", all: mb(all) });
      started = true;
      bar.setTotal(all);
      bar.update(transferred, { done: mb(transferred), all: mb(all) });
    },
    stop: () => bar.stop(),
  };
}

/** The Electron executable to run, fetching it if need be. */
export async function resolveElectron(options: DesktopOptions = {}): Promise<string> {
  const stderr = options.stderr ?? process.stderr;
  const named = process.env.MASKFLOW_ELECTRON;
  if (named) {
    if (!existsSync(named)) throw new DesktopError(`MASKFLOW_ELECTRON=${named}: no such file`);
    return named;
  }
  const pkg: ElectronPackage | null = electronPackage();
  if (!pkg) {
    throw new DesktopError(
      "The desktop app needs the `electron` package, a development dependency of Maskflow: run `npm install` in a Maskflow checkout, or set MASKFLOW_ELECTRON to an Electron executable.",
    );
  }
  const installDir = options.installDir ?? pkg.dir;
  const present = installedBinary(installDir, pkg.version);
  if (present) return present;
  const progress = progressReporter(stderr, pkg.version);
  let ok = false;
  try {
    const binary = await fetchElectron({ pkg, installDir, onProgress: (done, total) => progress.update(done, total) });
    ok = true;
    return binary;
  } catch (err) {
    throw new DesktopError(fetchFailureMessage(err, pkg.version));
  } finally {
    progress.stop(ok);
  }
}

/** dist/electron/main.mjs, bundled now when a checkout has not built it yet. */
function desktopShell(): string {
  const shell = join(PACKAGE_ROOT, "dist", "electron", "main.mjs");
  if (existsSync(shell)) return shell;
  const build = join(PACKAGE_ROOT, "electron", "build.mjs");
  if (!existsSync(build)) throw new DesktopError(`the desktop shell is not built (${shell}): run \`npm run build\``);
  const r = spawnSync(process.execPath, [build], { cwd: PACKAGE_ROOT, encoding: "utf8" });
  if (r.status !== 0) throw new DesktopError(`building the desktop shell failed:\n${r.stdout}${r.stderr}`);
  return shell;
}

/** Runs the desktop app until its window closes; resolves to Electron's exit code. */
export async function runDesktop(files: string[], options: DesktopOptions = {}): Promise<number> {
  const binary = await resolveElectron(options);
  const shell = options.shell ?? desktopShell();
  // Chromium refuses to start as root without --no-sandbox (containers, CI machines).
  const sandbox = process.getuid?.() === 0 ? ["--no-sandbox"] : [];
  const env = { ...process.env };
  delete env.ELECTRON_RUN_AS_NODE; // it would make Electron a plain Node and ignore the window
  const child = spawn(binary, [...sandbox, shell, ...files.map((f) => resolve(f))], { stdio: "inherit", env });
  return await new Promise<number>((done, fail) => {
    child.once("error", (err) => fail(new DesktopError(`cannot start Electron (${binary}): ${err.message}`)));
    child.once("exit", (code, signal) => done(code ?? (signal ? 1 : 0)));
  });
}

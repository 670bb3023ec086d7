// The Electron binary that `maskflow desktop` runs. `npm install` does not download it (the
// `electron` package's install script is denied in package.json's allowScripts, and skipped by
// ELECTRON_SKIP_BINARY_DOWNLOAD=1): it is fetched on first use instead, with a progress bar, the
// same way the package's own install.js would (@electron/get, its pinned checksums, extract-zip,
// path.txt), so Electron's usual variables (ELECTRON_MIRROR, electron_config_cache) still apply.
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { homedir } from "node:os";
import { dirname, join } from "node:path";

const require = createRequire(import.meta.url);

export interface ElectronPackage {
  /** The `electron` npm package's folder (where @electron/get and extract-zip resolve from). */
  dir: string;
  version: string;
}

/** The installed `electron` package, or null when it is not installed (it is a dev dependency). */
export function electronPackage(): ElectronPackage | null {
  try {
    const manifest = require.resolve("electron/package.json");
    return { dir: dirname(manifest), version: (JSON.parse(readFileSync(manifest, "utf8")) as { version: string }).version };
  } catch {
    return null;
  }
}

/** The executable inside an unpacked Electron zip, per platform (as electron's install.js). */
export function platformExecutable(platform: NodeJS.Platform = process.platform): string {
  if (platform === "darwin") return "Electron.app/Contents/MacOS/Electron";
  if (platform === "win32") return "electron.exe";
  return "electron";
}

/** The binary unpacked into `installDir` (the package folder), when it is there and of this version. */
export function installedBinary(installDir: string, version: string): string | null {
  try {
    if (readFileSync(join(installDir, "dist", "version"), "utf8").replace(/^v/, "").trim() !== version) return null;
    const binary = join(installDir, "dist", readFileSync(join(installDir, "path.txt"), "utf8").trim());
    return existsSync(binary) ? binary : null;
  } catch {
    return null;
  }
}

export interface FetchOptions {
  pkg: ElectronPackage;
  /** Where to unpack (default: the package folder, which is where `require("electron")` looks). */
  installDir?: string;
  /** sha256 per file name (default: the package's checksums.json, pinned with its version). */
  checksums?: Record<string, string>;
  onProgress?: (transferred: number, total: number | undefined) => void;
}

interface ElectronGet {
  downloadArtifact(options: Record<string, unknown>): Promise<string>;
}

/** Downloads (or takes from Electron's cache) and unpacks the binary; returns its path. */
export async function fetchElectron({ pkg, installDir = pkg.dir, checksums, onProgress }: FetchOptions): Promise<string> {
  const fromPackage = createRequire(join(pkg.dir, "package.json"));
  const { downloadArtifact } = fromPackage("@electron/get") as ElectronGet;
  const extract = fromPackage("extract-zip") as (zip: string, options: { dir: string }) => Promise<void>;
  const zip = await downloadArtifact({
    version: pkg.version,
    artifactName: "electron",
    platform: process.platform,
    arch: process.arch,
    cacheRoot: process.env.electron_config_cache,
    checksums: checksums ?? fromPackage("./checksums.json"),
    // quiet: our own bar instead of the one @electron/get shows after 30 s.
    downloadOptions: { quiet: true, getProgressCallback: async (p: { transferred: number; total?: number }) => onProgress?.(p.transferred, p.total) },
  });
  await extract(zip, { dir: join(installDir, "dist") });
  writeFileSync(join(installDir, "path.txt"), platformExecutable());
  const binary = installedBinary(installDir, pkg.version);
  if (!binary) throw new Error(`the Electron ${pkg.version} zip unpacked into ${join(installDir, "dist")} without ${platformExecutable()}`);
  return binary;
}

const NETWORK_CODES = new Set(["ENOTFOUND", "EAI_AGAIN", "ECONNREFUSED", "ECONNRESET", "ETIMEDOUT", "ENETUNREACH", "EHOSTUNREACH", "EPROTO", "ERR_SOCKET_CONNECTION_TIMEOUT"]);

/** Why a fetch failed, in words that say what to do: the message `maskflow desktop` prints. */
export function fetchFailureMessage(err: unknown, version: string): string {
  const e = err as { code?: string; message?: string; name?: string };
  const detail = e?.message ?? String(err);
  const cache = process.env.electron_config_cache ?? join(homedir(), ".cache", "electron");
  const alternatives =
    `Or set MASKFLOW_ELECTRON to an Electron ${version} executable, or put Electron's zip for ${process.platform}-${process.arch} in ${cache} (ELECTRON_MIRROR picks another download server). ` +
    "Without the desktop app, `maskflow serve` opens the same editor in a browser.";
  const head = `The desktop app needs the Electron ${version} binary, which \`npm install\` does not download`;
  if (e?.code && NETWORK_CODES.has(e.code)) {
    return `${head}, and it cannot be downloaded now: there is no network connection to the download server (${detail}). Connect to the internet and run it again: it downloads about 100 MB, once. ${alternatives}`;
  }
  if (/checksum/i.test(detail)) return `${head}; the download does not match Electron's published checksum, so it was not used (${detail}). ${alternatives}`;
  return `${head}; downloading it failed: ${detail}. ${alternatives}`;
}

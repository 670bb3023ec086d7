// `maskflow desktop` without Electron's real binary (it cannot be downloaded on these machines):
// the message when it cannot be fetched, a fetch from a local mirror serving a stand-in zip
// (through the real @electron/get and extract-zip, with Electron's checksum check), and the launch
// of whatever binary is found, with the shell and the files named.
import { createHash } from "node:crypto";
import { chmodSync, existsSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { afterAll, afterEach, beforeEach, describe, expect, it } from "vitest";
import { electronPackage, fetchElectron, installedBinary } from "../../engine/cli/electron-binary.js";
import { DesktopError, resolveElectron, runDesktop } from "../../engine/cli/desktop.js";
import { cli } from "./run-cli.js";
import { zip } from "./zip.js";

const pkg = electronPackage()!;
const tmp = (name: string) => mkdtempSync(join(tmpdir(), `maskflow-${name}-`));
const ZIP_NAME = `electron-v${pkg.version}-${process.platform}-${process.arch}.zip`;
const ENV_KEYS = ["ELECTRON_MIRROR", "electron_config_cache", "MASKFLOW_ELECTRON"] as const;

/** A port with nothing listening: connecting to it is refused at once, like a machine offline. */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((r) => server.close(() => r()));
  return port;
}

function collect(): NodeJS.WriteStream & { text: string } {
  const out = { text: "", isTTY: false, write: (s: string) => ((out.text += s), true) };
  return out as unknown as NodeJS.WriteStream & { text: string };
}

const saved = Object.fromEntries(ENV_KEYS.map((k) => [k, process.env[k]]));
beforeEach(() => {
  for (const k of ENV_KEYS) delete process.env[k];
  process.env.electron_config_cache = tmp("electron-cache"); // never the real cache
});
afterEach(() => {
  for (const k of ENV_KEYS) {
    if (saved[k] === undefined) delete process.env[k];
    else process.env[k] = saved[k];
  }
});

describe("the Electron binary", () => {
  it("is the electron package's own version, the one the packaging config builds with", () => {
    const config = JSON.parse(readFileSync(join(import.meta.dirname, "../../electron/electron-builder.json"), "utf8"));
    expect(pkg.version).toBe(config.electronVersion);
    expect(JSON.parse(readFileSync(join(import.meta.dirname, "../../package.json"), "utf8")).allowScripts.electron).toBe(false);
  });

  it("cannot be fetched offline: the message says so, why, and what to do instead, and nothing is written", async () => {
    process.env.ELECTRON_MIRROR = `http://127.0.0.1:${await closedPort()}/`;
    const installDir = tmp("electron-install");
    const stderr = collect();
    const error = await resolveElectron({ stderr, installDir }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(DesktopError);
    const message = (error as Error).message;
    expect(message).toMatch(
      new RegExp(`^The desktop app needs the Electron ${pkg.version} binary, which \`npm install\` does not download, and it cannot be downloaded now: there is no network connection to the download server \\(.*ECONNREFUSED`),
    );
    expect(message).toContain("MASKFLOW_ELECTRON");
    expect(message).toContain("`maskflow serve`");
    expect(stderr.text).toBe(`downloading Electron ${pkg.version} (first use of maskflow desktop)...\n`); // and no "downloaded"
    expect(existsSync(join(installDir, "path.txt"))).toBe(false);
  });

  it.skipIf(installedBinary(pkg.dir, pkg.version) !== null)("maskflow desktop exits 1 with that message when the binary is missing", async () => {
    const r = cli(["desktop"], { env: { ELECTRON_MIRROR: `http://127.0.0.1:${await closedPort()}/`, electron_config_cache: tmp("electron-cache") } });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/maskflow desktop: The desktop app needs the Electron [\d.]+ binary, which `npm install` does not download, and it cannot be downloaded now: there is no network connection/);
    expect(r.stderr).not.toMatch(/\n\s+at /);
  });

  describe("from a mirror", () => {
    const fake = zip({ electron: { data: '#!/bin/sh\necho "fake electron $*"\n', mode: 0o755 }, version: { data: `v${pkg.version}` } });
    const sha = createHash("sha256").update(fake).digest("hex");
    let server: Server;
    let requests: string[] = [];
    beforeEach(async () => {
      requests = [];
      server = createServer((req, res) => {
        requests.push(req.url ?? "");
        if (req.url !== `/v${pkg.version}/${ZIP_NAME}`) return void res.writeHead(404).end();
        res.writeHead(200, { "content-length": fake.length, "content-type": "application/zip" }).end(fake);
      });
      await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
      process.env.ELECTRON_MIRROR = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
    });
    afterEach(() => new Promise<void>((r) => server.close(() => r())));

    it("downloads once with progress, checks the checksum, unpacks, and reuses the result", async () => {
      const installDir = tmp("electron-install");
      const progress: [number, number | undefined][] = [];
      const binary = await fetchElectron({ pkg, installDir, checksums: { [ZIP_NAME]: sha }, onProgress: (d, t) => progress.push([d, t]) });
      expect(binary).toBe(join(installDir, "dist", process.platform === "win32" ? "electron.exe" : "electron"));
      expect(readFileSync(binary, "utf8")).toContain("fake electron");
      expect(progress.at(-1)).toEqual([fake.length, fake.length]);
      expect(requests).toEqual([`/v${pkg.version}/${ZIP_NAME}`]);
      // Found on the next start, without a request.
      await expect(resolveElectron({ installDir, stderr: collect() })).resolves.toBe(binary);
      expect(requests).toHaveLength(1);
    });

    it("refuses a download that does not match Electron's published checksum", async () => {
      const installDir = tmp("electron-install");
      const error = await resolveElectron({ installDir, stderr: collect() }).catch((e: unknown) => e); // the package's real checksums
      expect((error as Error).message).toMatch(/does not match Electron's published checksum/);
      expect(installedBinary(installDir, pkg.version)).toBeNull();
    });
  });
});

describe("launching", () => {
  it.skipIf(process.platform === "win32")("runs the binary with the shell and each file named, made absolute", async () => {
    const dir = tmp("fake-electron");
    const script = join(dir, "electron");
    writeFileSync(script, `#!/bin/sh\nprintf '%s\\n' "$@" > "${join(dir, "args.txt")}"\nexit 3\n`);
    chmodSync(script, 0o755);
    process.env.MASKFLOW_ELECTRON = script;
    const code = await runDesktop(["rel/a.maskflow.json", "/abs/b.maskflow.json"], { shell: "/opt/maskflow/main.mjs" });
    expect(code).toBe(3); // Electron's exit code is the command's
    const args = readFileSync(join(dir, "args.txt"), "utf8").trim().split("\n");
    const sandbox = process.getuid?.() === 0 ? ["--no-sandbox"] : [];
    expect(args).toEqual([...sandbox, "/opt/maskflow/main.mjs", resolve("rel/a.maskflow.json"), "/abs/b.maskflow.json"]);
  });

  it("says so when MASKFLOW_ELECTRON names nothing", async () => {
    process.env.MASKFLOW_ELECTRON = join(tmp("none"), "electron");
    await expect(resolveElectron()).rejects.toThrow(/MASKFLOW_ELECTRON=.*: no such file/);
  });
});

afterAll(() => {
  for (const k of ENV_KEYS) if (saved[k] !== undefined) process.env[k] = saved[k];
});

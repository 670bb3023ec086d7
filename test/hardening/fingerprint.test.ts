// Issue 18, item 2: fingerprinting the path a Load Model or Apply LoRA names is asynchronous and
// bounded: no FIFO or device is opened, a symlink loop is refused, files, depth and bytes are
// capped, and a served instance keeps answering /api/health within 100 ms meanwhile.
import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DEFAULT_LIMITS } from "../../engine/limits.js";
import { fingerprint, FingerprintError } from "../../engine/paths.js";
import { startServed, helloWith, runToEnd, whileHealthy, hasStackTrace, type Served } from "./served.js";

const scratch = mkdtempSync(join(tmpdir(), "maskflow-fingerprint-"));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

/** A folder with a symlink back to itself (and one to its parent): walking it naively never ends. */
function loopFolder(root: string): string {
  const dir = join(root, "loop");
  mkdirSync(join(dir, "inner"), { recursive: true });
  writeFileSync(join(dir, "inner", "file.txt"), "x");
  symlinkSync(dir, join(dir, "inner", "again"));
  symlinkSync("..", join(dir, "inner", "up"));
  return dir;
}

function fifo(path: string): string {
  execFileSync("mkfifo", [path]);
  return path;
}

const linux = process.platform === "linux";

describe("fingerprint", () => {
  it("changes with the content, and is the same for the same content", async () => {
    const dir = join(scratch, "same");
    mkdirSync(dir);
    writeFileSync(join(dir, "a.json"), "1");
    const first = await fingerprint(dir, DEFAULT_LIMITS);
    expect(await fingerprint(dir, DEFAULT_LIMITS)).toBe(first);
    writeFileSync(join(dir, "a.json"), "2");
    expect(await fingerprint(dir, DEFAULT_LIMITS)).not.toBe(first);
    expect(await fingerprint(join(scratch, "absent"), DEFAULT_LIMITS)).toBe("missing");
  });

  it("refuses a symlink loop instead of walking it forever", async () => {
    await expect(fingerprint(loopFolder(scratch), DEFAULT_LIMITS)).rejects.toThrow(/symlink loop/);
  });

  it.runIf(linux)("never opens a FIFO or a device: refused when named, listed by kind inside a folder", async () => {
    const pipe = fifo(join(scratch, "pipe"));
    await expect(fingerprint(pipe, DEFAULT_LIMITS)).rejects.toThrow(/is a FIFO \(named pipe\), not a file or folder/);
    await expect(fingerprint("/dev/zero", DEFAULT_LIMITS)).rejects.toThrow(/is a character device/);
    const withPipe = join(scratch, "with-pipe");
    mkdirSync(withPipe);
    fifo(join(withPipe, "tokenizer.json"));
    await expect(fingerprint(withPipe, DEFAULT_LIMITS)).resolves.toMatch(/^dir:/);
  });

  it("stops at the file and depth limits, naming them", async () => {
    const many = join(scratch, "many");
    mkdirSync(many);
    for (let i = 0; i < 30; i++) writeFileSync(join(many, `f${i}`), String(i));
    const err = await fingerprint(many, { ...DEFAULT_LIMITS, maxFingerprintFiles: 10 }).catch((e) => e);
    expect(err).toBeInstanceOf(FingerprintError);
    expect(err).toMatchObject({ limit: "maxFingerprintFiles" });
    let deep = join(scratch, "deep");
    for (let i = 0; i < 6; i++) deep = join(deep, `d${i}`);
    mkdirSync(deep, { recursive: true });
    await expect(fingerprint(join(scratch, "deep"), { ...DEFAULT_LIMITS, maxFingerprintDepth: 3 })).rejects.toMatchObject({ limit: "maxFingerprintDepth" });
  });

  it("keys files past the byte budget by size and time instead of reading them", async () => {
    const dir = join(scratch, "bytes");
    mkdirSync(dir);
    writeFileSync(join(dir, "a"), "a".repeat(1000));
    writeFileSync(join(dir, "b"), "b".repeat(1000));
    const small = await fingerprint(dir, { ...DEFAULT_LIMITS, maxFingerprintBytes: 1500 });
    writeFileSync(join(dir, "b"), "c".repeat(1000)); // same size; b is past the budget, so only its mtime tells
    expect(await fingerprint(dir, { ...DEFAULT_LIMITS, maxFingerprintBytes: 1500 })).not.toBe(small);
  });
});

describe("a served instance fingerprinting hostile paths", () => {
  let served: Served;
  beforeAll(async () => {
    served = await startServed({ env: { MASKFLOW_LIMITS: "maxFingerprintFiles=2000" } });
  });
  afterAll(async () => {
    await served?.close();
  });

  async function hostileLoad(path: string) {
    const { value: run, addedMs, budgetMs } = await whileHealthy(served, () => runToEnd(served, helloWith({ model: path }), undefined, 60_000));
    return { run, addedMs, budgetMs };
  }

  it.runIf(linux)("a FIFO, a symlink loop, a big tree: each fails on model.path promptly, and /api/health answers within 100 ms", async () => {
    fifo(join(served.models, "fifo-model"));
    loopFolder(served.models);
    const big = join(served.models, "big");
    for (let d = 0; d < 5; d++) {
      mkdirSync(join(big, `d${d}`), { recursive: true });
      for (let i = 0; i < 500; i++) writeFileSync(join(big, `d${d}`, `f${i}`), String(i));
    }
    for (const [path, why] of [
      ["fifo-model", /FIFO/],
      ["loop", /symlink loop/],
      ["big", /more than 2000 files to fingerprint \(limit maxFingerprintFiles = 2000/],
    ] as const) {
      const { run, addedMs, budgetMs } = await hostileLoad(join(served.models, path));
      expect(run.status, `${path}: ${JSON.stringify(run)}`).toBe("failed");
      expect(run.error).toMatchObject({ nodeId: "model", input: "path" });
      expect(run.error.message).toMatch(why);
      expect(addedMs, path).toBeLessThan(budgetMs);
    }
    expect(existsSync(join(served.models, "fifo-model"))).toBe(true);
    expect(hasStackTrace(served.stderr())).toBe(false);
  });
});

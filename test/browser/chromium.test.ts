// Which Chromium the browser tests pick (chromium.ts): MASKFLOW_CHROMIUM, then PATH, then the
// npm package's build (exercised for real by the global setup on a machine without Chromium).
import { chmodSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { delimiter, join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { findSystemChromium, packagedChromiumDir, resolveChromium } from "./chromium.js";

const saved = process.env.MASKFLOW_CHROMIUM;
afterEach(() => {
  if (saved === undefined) delete process.env.MASKFLOW_CHROMIUM;
  else process.env.MASKFLOW_CHROMIUM = saved;
});

describe("finding Chromium", () => {
  it("takes the first executable chromium-like name on PATH and ignores files that cannot run", () => {
    const a = mkdtempSync(join(tmpdir(), "maskflow-path-a-"));
    const b = mkdtempSync(join(tmpdir(), "maskflow-path-b-"));
    writeFileSync(join(a, "chromium"), "not executable");
    writeFileSync(join(b, "google-chrome"), "#!/bin/sh\n");
    chmodSync(join(b, "google-chrome"), 0o755);
    expect(findSystemChromium([a, b].join(delimiter))).toBe(join(b, "google-chrome"));
    if (process.platform !== "darwin") expect(findSystemChromium(a)).toBeNull();
  });

  it("honours MASKFLOW_CHROMIUM, and says when it names nothing", async () => {
    process.env.MASKFLOW_CHROMIUM = join(tmpdir(), "no-such-chromium");
    await expect(resolveChromium()).rejects.toThrow(/MASKFLOW_CHROMIUM=.*no such file/);
    process.env.MASKFLOW_CHROMIUM = process.execPath; // any existing file is taken as it is
    await expect(resolveChromium()).resolves.toEqual({ path: process.execPath, source: "MASKFLOW_CHROMIUM" });
  });

  it("keeps one unpacked copy per package version", () => {
    expect(packagedChromiumDir()).toMatch(/maskflow-chromium[\\/]\d+\.\d+\.\d+$/);
  });
});

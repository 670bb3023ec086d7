// The limits table (engine/limits.ts) and the three ways to set it: --limit flags, MASKFLOW_LIMITS
// and the server's option. Unknown names and bad values are refused with the list of names.
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { DEFAULT_LIMITS, parseLimitValue, resolveLimits } from "../../engine/limits.js";
import { cli } from "../cli/run-cli.js";
import { doubling } from "./graphs.js";

describe("resolveLimits", () => {
  it("takes the defaults, then MASKFLOW_LIMITS, then explicit settings", () => {
    expect(resolveLimits({}, "")).toEqual(DEFAULT_LIMITS);
    const limits = resolveLimits(["maxModels=3"], "maxModels=2,maxValueBytes=16MiB");
    expect(limits.maxModels).toBe(3);
    expect(limits.maxValueBytes).toBe(16 * 1024 * 1024);
    expect(resolveLimits({ maxNodes: 5 }, "").maxNodes).toBe(5);
  });

  it("understands units and refuses what is not a whole number or not a limit", () => {
    expect(parseLimitValue("x", "512k")).toBe(512_000);
    expect(parseLimitValue("x", "2 GiB")).toBe(2 * 1024 ** 3);
    expect(() => parseLimitValue("x", "-1")).toThrow(/not a whole number/);
    expect(() => parseLimitValue("x", "lots")).toThrow(/not a whole number/);
    expect(() => resolveLimits(["maxBogus=1"], "")).toThrow(/unknown limit "maxBogus" \(limits: maxValueBytes, /);
    expect(() => resolveLimits({}, "maxModels")).toThrow(/expects <name>=<value>/);
  });
});

describe("maskflow run --limit", () => {
  const dir = mkdtempSync(join(tmpdir(), "maskflow-limits-"));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const file = join(dir, "doubling.json");
  writeFileSync(file, JSON.stringify(doubling(300_000, 5)));

  it("fails the run on the node over the limit (exit 1), and a raised limit lets it through", () => {
    const refused = cli(["run", file, "--json"]);
    expect(refused.code).toBe(1);
    expect(JSON.parse(refused.stdout).error).toMatchObject({ nodeId: "c5", input: null });
    expect(refused.stderr).toMatch(/error in c5: output "text" is more than 8 MiB \(limit maxValueBytes = 8 MiB; raise it with --limit maxValueBytes=<value>/);
    const raised = cli(["run", file, "--json", "--limit", "maxValueBytes=16MiB", "--limit", "maxRunOutputBytes=64MiB"]);
    expect(raised.code, raised.stderr).toBe(0);
    expect(JSON.parse(raised.stdout).outputs.show.text).toHaveLength(300_000 * 32);
  });

  it("refuses an unknown limit or a bad value with exit 2", () => {
    for (const args of [["--limit", "maxBogus=1"], ["--limit", "maxModels=many"]]) {
      const r = cli(["validate", file, ...args]);
      expect(r.code).toBe(2);
      expect(r.stderr).toMatch(/limit/);
    }
  });
});

// A batch killed half way (SIGKILL: no chance to clean up) and rerun completes with every job
// exactly once in the results, on the real model.
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { cli, cliProcess } from "./run-cli.js";

describe("maskflow batch, killed and resumed", () => {
  it("loses nothing finished and runs nothing twice", async () => {
    const dir = mkdtempSync(join(tmpdir(), "maskflow-batch-"));
    const inputs = join(dir, "jobs.jsonl");
    const out = join(dir, "results.jsonl");
    const jobs = Array.from({ length: 8 }, (_, i) => JSON.stringify({ "denoise.seed": i, "denoise.gen_length": 32, "schedule.steps": 32 }));
    writeFileSync(inputs, jobs.join("\n") + "\n");

    const child = cliProcess(["batch", "workflows/hello.maskflow.json", "--inputs", inputs, "--out", out]);
    const lines = () => (existsSync(out) ? readFileSync(out, "utf8").split("\n").filter(Boolean).length : 0);
    await new Promise<void>((resolve, reject) => {
      const timer = setInterval(() => {
        if (lines() >= 2) {
          clearInterval(timer);
          child.kill("SIGKILL");
          resolve();
        }
      }, 20);
      child.on("exit", () => {
        clearInterval(timer);
        reject(new Error(`the batch finished before it could be killed (${lines()} results)`));
      });
    });
    await new Promise((r) => child.once("exit", r));
    const before = lines();
    expect(before).toBeGreaterThanOrEqual(2);
    expect(before).toBeLessThan(8);

    const rerun = cli(["batch", "workflows/hello.maskflow.json", "--inputs", inputs, "--out", out, "--json"]);
    expect(rerun.code).toBe(0);
    expect(JSON.parse(rerun.stdout)).toMatchObject({ total: 8, failed: 0, skipped: before, ok: 8 - before });
    const rows = readFileSync(out, "utf8").trim().split("\n").map((l) => JSON.parse(l));
    expect(rows.map((r) => r.line).sort((a, b) => a - b)).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
    expect(rows.every((r) => r.status === "ok" && typeof r.outputs.show.text === "string")).toBe(true);
  });
});

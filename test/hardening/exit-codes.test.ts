// Issue 18, item 6: the CLI exits with its documented code every time. `run` starts loading the
// workflow's model in a worker before it has read its flags (engine/cli/preload.ts); an invalid
// workflow or flag ends the process while that load is in flight, and tearing the worker down
// then used to abort the process ("terminate called after throwing an instance of
// 'Napi::Error'", exit 134) instead of exiting 2. Repeated, since it depends on timing.
import { describe, expect, it } from "vitest";
import { cli } from "../cli/run-cli.js";

const native = /terminate called|Napi::Error|Aborted|core dumped/;

describe("exit codes while a model preload is in flight", () => {
  const cases: [string, string[]][] = [
    ["an out-of-range --set", ["run", "workflows/hello.maskflow.json", "--set", "schedule.steps=0"]],
    ["an unknown flag", ["run", "workflows/hello.maskflow.json", "--bogus"]],
    ["an unknown limit", ["run", "workflows/hello.maskflow.json", "--limit", "maxBogus=1"]],
    ["batch with a missing --inputs file", ["batch", "workflows/hello.maskflow.json", "--inputs", "/nonexistent.jsonl", "--out", "/tmp/x.jsonl"]],
  ];
  for (const [what, args] of cases) {
    it(`${what}: exit 2, five times out of five, no native abort`, () => {
      for (let i = 0; i < 5; i++) {
        const r = cli(args);
        expect(r.stderr, `try ${i + 1}`).not.toMatch(native);
        expect(r.code, `try ${i + 1}: ${r.stderr}`).toBe(2);
      }
    });
  }

  it("a run that fails in a node exits 1, and a valid one 0, with no abort", () => {
    const failed = cli(["run", "workflows/hello.maskflow.json", "--set", "model.path=/nonexistent-model"]);
    expect(failed.stderr).not.toMatch(native);
    expect(failed.code).toBe(1);
    const ok = cli(["run", "workflows/hello.maskflow.json", "--set", "denoise.gen_length=4", "--set", "schedule.steps=4", "--set", "schedule.block_length=4"]);
    expect(ok.stderr).not.toMatch(native);
    expect(ok.code).toBe(0);
  });
});

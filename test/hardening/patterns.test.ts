// Issue 18, item 5: an adapter's target_modules and rank_pattern / alpha_pattern are matched in
// linear time (RE2), so "(.*)*Z" cannot hang the server, and an invalid pattern ("((") is reported
// on Apply LoRA's path instead of being silently ignored.
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { isTargeted, patternValue } from "../../engine/dllm/lora/adapter.js";
import { fullPattern, tailPattern, PatternError } from "../../engine/dllm/lora/patterns.js";
import { adapterFolder } from "./folders.js";
import { startServed, loraWith, runToEnd, whileHealthy, hasStackTrace, type Served } from "./served.js";

const MODULE = "model.transformer.blocks.0.q_proj";

describe("PEFT patterns", () => {
  it("match as PEFT does: a full match for target_modules, a dotted tail for rank_pattern keys", () => {
    expect(isTargeted(".*\\.blocks\\.\\d+\\.(q_proj|k_proj)", MODULE)).toBe(true);
    expect(isTargeted(".*\\.blocks\\.\\d+\\.(k_proj)", MODULE)).toBe(false);
    expect(patternValue({ "blocks\\.0\\.q_proj": 4 }, MODULE, 8)).toBe(4);
    expect(patternValue({ "blocks\\.1\\.q_proj": 4 }, MODULE, 8)).toBe(8);
    expect(patternValue({ "blocks.0.q_proj": 4 }, MODULE, 8)).toBe(4);
  });

  it("take time linear in the name on a pattern that backtracks exponentially", () => {
    const t0 = performance.now();
    expect(fullPattern("(.*)*Z", "target_modules").test(MODULE.repeat(20))).toBe(false);
    expect(tailPattern("(a|a)*b", "rank_pattern key").test("a".repeat(5000))).toBe(false);
    expect(performance.now() - t0).toBeLessThan(500);
  });

  it("report an invalid pattern, and one RE2 cannot run (lookaround), by name", () => {
    expect(() => isTargeted("((", MODULE)).toThrow(PatternError);
    expect(() => fullPattern("((", 'target_modules "(("')).toThrow(/target_modules "\(\(" is not a valid pattern \(missing closing \)/);
    expect(() => tailPattern("q(?=_proj)", "rank_pattern key")).toThrow(/not a valid pattern .*lookaround and backreferences are not supported/);
  });
});

describe("a served instance applying hostile adapters", () => {
  let served: Served;
  beforeAll(async () => {
    served = await startServed();
  });
  afterAll(async () => {
    await served?.close();
  });

  it('"(.*)*Z" as target_modules: the run ends (the modules are merged, with a warning) and /api/health answers within 100 ms', async () => {
    adapterFolder(served.models, "redos", { target_modules: "(.*)*Z" });
    adapterFolder(served.models, "redos-rank", { rank_pattern: { "(.*)*Z": 8, "(a|a)*b": 8 } });
    for (const adapter of ["redos", "redos-rank"]) {
      const { value: run, addedMs, budgetMs } = await whileHealthy(served, () => runToEnd(served, loraWith(join(served.models, adapter)), undefined, 30_000));
      expect(run.status, `${adapter}: ${JSON.stringify(run.error)}`).toBe("finished");
      expect(addedMs, adapter).toBeLessThan(budgetMs);
    }
  });

  it('"((" is reported on lora.path, not ignored', async () => {
    adapterFolder(served.models, "invalid", { target_modules: "((" });
    adapterFolder(served.models, "invalid-alpha", { alpha_pattern: { "q_proj[": 4 } });
    for (const [adapter, why] of [
      ["invalid", /target_modules "\(\(" is not a valid pattern/],
      ["invalid-alpha", /alpha_pattern key "q_proj\[" is not a valid pattern/],
    ] as const) {
      const run = await runToEnd(served, loraWith(join(served.models, adapter)));
      expect(run.status).toBe("failed");
      expect(run.error).toMatchObject({ nodeId: "lora", input: "path" });
      expect(run.error.message).toMatch(why);
    }
    expect(hasStackTrace(served.stderr())).toBe(false);
  });
});

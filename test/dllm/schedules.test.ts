import { describe, expect, it } from "vitest";
import {
  cosineCounts,
  linearCounts,
  listCounts,
  loglinearCounts,
  planBlocks,
  unmaskCounts,
  validateSchedule,
  type Schedule,
} from "../../engine/dllm/schedules.js";
import { fixture } from "./fixtures.js";

interface SchedDoc {
  cases: { kind: Schedule["kind"]; m: number; n: number; list?: number[]; counts: number[] }[];
  dream: { m: number; n: number; eps: number; counts: number[] }[];
  blocks: { gen_length: number; block_length: number; steps: number; blocks: number[][] }[];
}
const doc = fixture<SchedDoc>("schedules.json");

describe("mask schedules", () => {
  it("linear is LLaDA's get_num_transfer_tokens (dllm-algorithms.md: m=32, n=10)", () => {
    expect(linearCounts(32, 10)).toEqual([4, 4, 3, 3, 3, 3, 3, 3, 3, 3]);
    expect(linearCounts(5, 8)).toEqual([1, 1, 1, 1, 1, 0, 0, 0]);
  });

  it("loglinear reproduces Dream's float32 eps schedule table", () => {
    expect(loglinearCounts(16, 8)).toEqual([1, 2, 2, 2, 2, 2, 2, 3]);
    expect(loglinearCounts(32, 4)).toEqual([7, 8, 8, 9]);
    const c = loglinearCounts(512, 512);
    expect(c[0]).toBe(0);
    expect(c.reduce((a, b) => a + b)).toBe(512);
  });

  it("loglinear equals Dream's counts computed with torch.linspace", () => {
    for (const d of doc.dream) expect(loglinearCounts(d.m, d.n, d.eps), `m=${d.m} n=${d.n}`).toEqual(d.counts);
  });

  it("every kind matches the Python mirror and sums to m", () => {
    for (const c of doc.cases) {
      const got = c.kind === "list" ? listCounts(c.m, c.list!) : unmaskCounts({ kind: c.kind, steps: c.n, blockLength: 0 }, c.m, c.n);
      expect(got, `${c.kind} m=${c.m} n=${c.n}`).toEqual(c.counts);
      expect(got.reduce((a, b) => a + b, 0)).toBe(c.m);
    }
  });

  it("cosine is front-loaded", () => {
    const c = cosineCounts(32, 8);
    expect(c[0]).toBeGreaterThan(c[c.length - 2]);
  });

  it("blocks and steps split like LLaDA when they divide, and evenly otherwise", () => {
    for (const b of doc.blocks) {
      const got = planBlocks({ kind: "linear", steps: b.steps, blockLength: b.block_length }, b.gen_length);
      expect(got.map((x) => [x.start, x.end, x.steps])).toEqual(b.blocks);
    }
    expect(() => planBlocks({ kind: "linear", steps: 2, blockLength: 8 }, 32)).toThrow(/at least 4 steps/);
  });

  it("validates its data", () => {
    expect(validateSchedule({ kind: "list", steps: 1, blockLength: 0 })).toMatch(/counts/);
    expect(validateSchedule({ kind: "linear", steps: 0, blockLength: 0 })).toMatch(/steps/);
    expect(validateSchedule({ kind: "loglinear", steps: 4, blockLength: 0, eps: 2 })).toMatch(/eps/);
    expect(validateSchedule({ kind: "linear", steps: 4, blockLength: 0 })).toBeNull();
  });
});

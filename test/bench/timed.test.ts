import { describe, expect, it } from "vitest";
import { timedRuns } from "../../bench/figures.js";

describe("timedRuns (bench/device.ts)", () => {
  it("counts forwards and model time over the timed runs only, as it times them", async () => {
    // a generation whose first (warm-up) run spends 1 s in the model and the others 1 ms, in 2 forwards each
    const stats = { forwards: 0, ms: 0 };
    let run = 0;
    const r = await timedRuns(3, async () => {
      stats.forwards += 2;
      stats.ms += run++ === 0 ? 1000 : 1;
      return run;
    }, () => stats);
    expect(r.forwards).toBe(2);
    expect(r.modelMs).toBe(1);
    expect(r.last).toBe(4);
    expect(r.ms).toBeGreaterThanOrEqual(0);
  });
});

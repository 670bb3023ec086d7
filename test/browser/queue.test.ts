// The editor in front of `maskflow serve --redis` with a separate `maskflow worker` process (real
// Redis, real model, real Chromium): the denoising view fills live from the worker's steps, the
// queue panel names the worker, and Cancel stops the run on the worker.
import { readFileSync } from "node:fs";
import { afterAll, beforeAll, expect, it } from "vitest";
import { startWorker, type Proc } from "../queue/processes.js";
import { describeWithRedis, startRedis, type TestRedis } from "../queue/redis.js";
import { node, nodeStatus, openWorkflow, startHarness, type Harness } from "./harness.js";

const hello = JSON.parse(readFileSync("workflows/hello.maskflow.json", "utf8"));
function withDenoise(tokens: number, name: string) {
  const doc = structuredClone(hello);
  doc.name = name;
  doc.nodes.model.inputs.threads = 1;
  doc.nodes.denoise.inputs.gen_length = tokens;
  doc.nodes.schedule.inputs.steps = tokens;
  doc.nodes.schedule.inputs.block_length = tokens;
  return doc;
}

describeWithRedis("the editor on workers through Redis", () => {
  let redis: TestRedis;
  let worker: Proc;
  let h: Harness;

  beforeAll(async () => {
    redis = await startRedis();
    [worker, h] = await Promise.all([startWorker(redis.url, "gpu-box-1"), startHarness({ redis: redis.url })]);
  }, 180_000);
  afterAll(async () => {
    await h?.close();
    worker?.child.kill("SIGKILL");
    await redis?.stop();
  });

  it("shows the worker's steps live, names the worker in the queue, and cancels on the worker", async () => {
    const { page } = await h.open();
    await openWorkflow(page, withDenoise(32, "on a worker"));
    await node(page, "denoise").waitFor();
    await page.getByTestId("run").click();
    const tokens = page.getByTestId("tokens");
    await expect.poll(async () => Number(await tokens.getAttribute("data-masked").catch(() => "-1")), { timeout: 30_000 }).toBeGreaterThan(0);
    await expect(node(page, "show").getByTestId("node-output").textContent({ timeout: 60_000 })).resolves.toMatch(/\w/);
    await expect.poll(() => tokens.getAttribute("data-masked")).toBe("0");
    await expect(page.getByTestId("step-slider").getAttribute("max")).resolves.toBe("31");
    const item = page.getByTestId("queue-item").first();
    await expect.poll(() => item.getAttribute("data-status")).toBe("finished");
    await expect(item.getByTestId("queue-worker").textContent()).resolves.toContain("on gpu-box-1");

    // A long run, cancelled from the toolbar once the worker is on it.
    await openWorkflow(page, withDenoise(192, "long on a worker"));
    await page.getByTestId("run").click();
    await expect.poll(() => nodeStatus(page, "denoise"), { timeout: 30_000 }).toBe("running");
    await expect.poll(async () => Number(await tokens.getAttribute("data-masked").catch(() => "0")), { timeout: 30_000 }).toBeGreaterThan(0);
    await page.getByTestId("cancel").click();
    await expect.poll(() => item.getAttribute("data-status"), { timeout: 15_000 }).toBe("cancelled");
    const runs = await (await fetch(`${h.server.origin}/api/runs`)).json();
    expect(runs[0]).toMatchObject({ name: "long on a worker", status: "cancelled", worker: "gpu-box-1" });
    expect(worker.child.exitCode).toBe(null);
  });
});

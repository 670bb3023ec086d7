// The run side of the editor: the denoising view (masked tokens, confidence tint, timeline),
// per-node states, the queue panel and cancelling, with a slow test node that reports a canvas
// per step. The hello workflow with the real model is in hello.test.ts.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { node, nodeStatus, openWorkflow, startHarness, type Harness } from "./harness.js";

let h: Harness;

beforeAll(async () => {
  h = await startHarness();
}, 180_000);

afterAll(async () => {
  await h?.close();
});

const slow = (steps: number, ms: number) => ({
  version: 1,
  name: `count to ${steps}`,
  nodes: {
    count: { type: "SlowSteps", inputs: { steps, ms }, ui: { x: 0, y: 0 } },
    show: { type: "ShowText", inputs: { value: { from: "count", output: "text" } }, ui: { x: 360, y: 0 } },
  },
});

describe("the denoising view", () => {
  it("shows the canvas as it is decoded, then scrubs and replays every step", async () => {
    const { page } = await h.open();
    await openWorkflow(page, slow(12, 400));
    await node(page, "count").waitFor();
    await page.getByTestId("run").click();

    // While it runs: the node shows its progress and the lane has masked positions left.
    await expect.poll(() => nodeStatus(page, "count"), { timeout: 15_000 }).toBe("running");
    const tokens = page.getByTestId("tokens");
    await expect.poll(async () => Number(await tokens.getAttribute("data-masked")), { timeout: 15_000 }).toBeGreaterThan(0);
    await expect(node(page, "count").locator(".mf-badge").textContent()).resolves.toMatch(/^\d+\/12$/);

    // Finished: text on the output node, every token decided.
    await expect(node(page, "show").getByTestId("node-output").textContent({ timeout: 20_000 })).resolves.toBe("counted to 12");
    await expect.poll(() => tokens.getAttribute("data-masked")).toBe("0");
    await expect(nodeStatus(page, "count")).resolves.toBe("done");
    await expect.poll(() => tokens.locator(".tok:not(.masked)").count()).toBe(12);
    const tint = await tokens.locator(".tok").first().evaluate((el) => getComputedStyle(el).getPropertyValue("--conf").trim());
    expect(Number(tint)).toBeCloseTo(0.9);

    // Scrub: step 1 has one token decided, step 6 has six.
    const slider = page.getByTestId("step-slider");
    await expect(slider.getAttribute("max")).resolves.toBe("11");
    await slider.fill("0");
    await expect(page.getByTestId("step-label").textContent()).resolves.toBe("step 1 / 12");
    await expect(tokens.getAttribute("data-masked")).resolves.toBe("11");
    await expect.poll(() => tokens.locator(".tok.masked").count()).toBe(11);
    await expect(tokens.locator(".tok.changed").textContent()).resolves.toBe("t1");
    await slider.fill("5");
    await expect(tokens.getAttribute("data-masked")).resolves.toBe("6");

    // Play from the start: the steps advance on their own up to the last.
    await slider.fill("11");
    await page.getByTestId("play").click();
    await expect.poll(() => page.getByTestId("step-label").textContent(), { timeout: 5000 }).toMatch(/^step ([2-9]|1[01]) \/ 12$/);
    await expect.poll(() => page.getByTestId("step-label").textContent(), { timeout: 10_000 }).toBe("step 12 / 12");
    await expect(page.getByTestId("play").getAttribute("aria-label")).resolves.toBe("play");
  });

  it("catches up with a run in progress after a reload", async () => {
    const { page } = await h.open();
    await openWorkflow(page, slow(24, 250));
    await node(page, "count").waitFor();
    await page.getByTestId("run").click();
    await expect.poll(() => nodeStatus(page, "count"), { timeout: 15_000 }).toBe("running");
    await page.reload();
    await page.locator('.mf-app[data-ready="true"]').waitFor();
    // The steps so far come from the server's log; the rest arrive live.
    const tokens = page.getByTestId("tokens");
    await expect.poll(async () => Number(await tokens.getAttribute("data-masked").catch(() => "-1")), { timeout: 15_000 }).toBeGreaterThan(0);
    await expect(node(page, "show").getByTestId("node-output").textContent({ timeout: 30_000 })).resolves.toBe("counted to 24");
    await expect.poll(() => tokens.getAttribute("data-masked")).toBe("0");
    await expect(page.getByTestId("step-slider").getAttribute("max")).resolves.toBe("23");
  });

  it("shows a failing node's message on the node", async () => {
    const { page } = await h.open();
    await openWorkflow(page, {
      version: 1,
      nodes: {
        bad: { type: "FailWith", inputs: { reason: "the model folder is missing" }, ui: { x: 0, y: 0 } },
        show: { type: "ShowText", inputs: { value: { from: "bad", output: "text" } }, ui: { x: 360, y: 0 } },
      },
    });
    await node(page, "bad").waitFor();
    await page.getByTestId("run").click();
    await expect(node(page, "bad").getByTestId("node-error").textContent({ timeout: 15_000 })).resolves.toBe("reason: the model folder is missing");
    await expect(nodeStatus(page, "bad")).resolves.toBe("error");
    await expect(nodeStatus(page, "show")).resolves.toBe("skipped");
    await expect.poll(() => page.getByTestId("queue-item").first().getAttribute("data-status")).toBe("failed");
  });
});

describe("queue and cancel", () => {
  it("queues runs, cancels a queued one from the queue panel and the running one from the toolbar", async () => {
    const { page } = await h.open();
    await openWorkflow(page, slow(10_000, 50)); // far longer than the test: it must be cancelled
    await node(page, "count").waitFor();
    await page.getByTestId("run").click();
    await expect.poll(() => nodeStatus(page, "count"), { timeout: 15_000 }).toBe("running");
    await page.getByTestId("run").click(); // a second run waits behind the first

    const items = page.getByTestId("queue-item");
    await expect.poll(() => items.evaluateAll((els) => els.map((e) => e.getAttribute("data-status"))), { timeout: 10_000 }).toEqual(
      expect.arrayContaining(["queued", "running"]),
    );
    await items.and(page.locator('[data-status="queued"]')).getByRole("button", { name: "cancel run" }).click();
    await expect.poll(() => items.first().getAttribute("data-status")).toBe("cancelled");

    // The toolbar's Cancel stops the running one.
    await page.getByTestId("cancel").click();
    await expect.poll(() => items.nth(1).getAttribute("data-status"), { timeout: 10_000 }).toBe("cancelled");
    const runs = (await (await fetch(`${h.server.origin}/api/runs`)).json()) as { status: string }[];
    expect(runs.slice(0, 2).map((r) => r.status)).toEqual(["cancelled", "cancelled"]);
    await expect(page.getByTestId("cancel").isDisabled()).resolves.toBe(true);
  });
});

// Issue 16, items 1-4: what a run shows and where. A failure's reason is readable where the user
// looks; a cached rerun shows exactly what the run that made it showed; badges and outputs belong
// to one run of one graph; Cancel stops the run the user sees running.
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { apiRuns, cancelAll, laneTokens, obstructions, smallEdit, smallHello } from "./docs.js";
import { node, nodeStatus, openWorkflow, startHarness, type Harness } from "./harness.js";

let h: Harness;

beforeAll(async () => {
  h = await startHarness();
}, 180_000);

afterAll(async () => {
  await h?.close();
});

afterEach(async () => {
  if (h) await cancelAll(h.server.origin);
});

const slow = (steps: number, ms: number) => ({
  version: 1,
  name: `count to ${steps}`,
  nodes: {
    count: { type: "SlowSteps", inputs: { steps, ms }, ui: { x: 0, y: 0 } },
    show: { type: "ShowText", inputs: { value: { from: "count", output: "text" } }, ui: { x: 360, y: 0 } },
  },
});

describe("1: errors are readable", () => {
  it("shows a failing node's reason on top of its neighbours, whole in the queue, and names node and input in the toast", async () => {
    const { page } = await h.open({ path: "example=hello" });
    await node(page, "model").getByLabel("path").fill("models/nowhere");
    await page.getByTestId("run").click();

    // The test server is confined to its model roots (as any served instance): the path is refused, with a long reason.
    const error = node(page, "model").getByTestId("node-error");
    await expect(error.textContent({ timeout: 30_000 })).resolves.toMatch(/^path: "models\/nowhere" is not a model or adapter in the folders this server loads from \(.+\); its operator can add one with --models$/);
    // The Load Model node grows with its error; the Mask Schedule node below must not hide it.
    await expect.poll(() => obstructions(error), { timeout: 5000 }).toEqual([]);

    const toast = page.getByTestId("toast").filter({ hasText: "is not a model or adapter" });
    await expect(toast.textContent()).resolves.toMatch(/Load Model \(model\)\.path/);

    const item = page.getByTestId("queue-item").first();
    await expect.poll(() => item.getAttribute("data-status")).toBe("failed");
    const reason = item.getByTestId("queue-error");
    await expect(reason.textContent()).resolves.toMatch(/model\.path: "models\/nowhere" is not a model or adapter in the folders this server loads from .+ --models/);
    // Not cut off: the whole reason fits its box.
    const clipped = await reason.evaluate((el) => el.scrollWidth > el.clientWidth + 1 || el.scrollHeight > el.clientHeight + 1);
    expect(clipped).toBe(false);
  });
});

describe("2: a cached rerun shows what the first run showed", () => {
  it("keeps the tokens and the timeline when Denoise comes from the cache", async () => {
    const { page } = await h.open();
    await openWorkflow(page, smallHello("cached rerun"));
    await node(page, "denoise").waitFor();
    await page.getByTestId("run").click();
    await expect.poll(() => nodeStatus(page, "denoise"), { timeout: 60_000 }).toBe("done");
    await expect.poll(() => page.getByTestId("tokens").getAttribute("data-masked")).toBe("0");
    const first = await laneTokens(page, "denoise");
    expect(first).toHaveLength(16);

    await page.getByTestId("run").click();
    await expect.poll(() => nodeStatus(page, "denoise"), { timeout: 30_000 }).toBe("cached");
    await expect.poll(() => page.getByTestId("queue-item").first().getAttribute("data-status")).toBe("finished");
    await expect.poll(() => laneTokens(page, "denoise")).toEqual(first);
    await expect(page.getByTestId("step-slider").getAttribute("max")).resolves.toBe("15");
  });

  it("keeps the draft lane in the Edit example when only Remask changes", async () => {
    const { page } = await h.open();
    await openWorkflow(page, smallEdit());
    await node(page, "remask").waitFor();
    await page.getByTestId("run").click();
    await expect.poll(() => nodeStatus(page, "rewrite"), { timeout: 60_000 }).toBe("done");
    const lanes = () => page.getByTestId("lane").evaluateAll((els) => els.map((e) => e.getAttribute("data-lane")));
    await expect.poll(lanes).toEqual(["draft", "rewrite"]);
    const draft = await laneTokens(page, "draft");

    await node(page, "remask").getByLabel("amount").fill("0.5");
    await page.getByTestId("run").click();
    await expect.poll(() => nodeStatus(page, "draft"), { timeout: 30_000 }).toBe("cached");
    await expect.poll(() => nodeStatus(page, "rewrite"), { timeout: 60_000 }).toBe("done");
    await expect.poll(lanes).toEqual(["draft", "rewrite"]);
    await expect(laneTokens(page, "draft")).resolves.toEqual(draft);
  });
});

describe("3: runs stay with their graph", () => {
  it("paints a run's badges and outputs only on the graph it ran, and opens a past run's own workflow", async () => {
    const { page } = await h.open();
    await openWorkflow(page, smallHello("owned run"));
    await node(page, "denoise").waitFor();
    await page.getByTestId("run").click();
    const output = node(page, "show").getByTestId("node-output");
    await output.waitFor({ timeout: 60_000 });
    const text = (await output.textContent())!;

    // New, then a Prompt node with the same id as the run's: nothing of that run on it.
    await page.getByRole("button", { name: "New" }).click();
    await page.getByTestId("palette-Prompt").click();
    await node(page, "prompt").waitFor();
    await expect(nodeStatus(page, "prompt")).resolves.toBe("idle");

    // An example with a node called "show" too: no output painted on it.
    await page.getByRole("button", { name: /Examples/ }).click();
    await page.getByTestId("example-concat").click();
    await node(page, "join").waitFor();
    await expect(nodeStatus(page, "show")).resolves.toBe("idle");
    await expect(node(page, "show").getByTestId("node-output").count()).resolves.toBe(0);

    // Clicking the past run shows it labelled as another graph's, not painted on this one.
    await page.getByTestId("queue-item").filter({ hasText: "owned run" }).click();
    const foreign = page.getByTestId("foreign-run");
    await expect(foreign.textContent()).resolves.toMatch(/owned run/);
    await expect(nodeStatus(page, "show")).resolves.toBe("idle");
    await expect(node(page, "show").getByTestId("node-output").count()).resolves.toBe(0);

    // "Load this run's workflow": its own graph, with its outputs.
    await foreign.getByRole("button", { name: /load this run's workflow/i }).click();
    await node(page, "denoise").waitFor();
    await expect(node(page, "show").getByTestId("node-output").textContent()).resolves.toBe(text);
    await expect(nodeStatus(page, "denoise")).resolves.toMatch(/^(done|cached)$/); // an earlier test may have run the same graph
    await expect(foreign.count()).resolves.toBe(0);
  });
});

describe("4: Cancel stops the run that is running", () => {
  it("keeps the view on the running job while others queue, and cancels that one", async () => {
    const { page } = await h.open();
    await openWorkflow(page, slow(10_000, 50)); // far longer than the test
    await node(page, "count").waitFor();
    await page.getByTestId("run").click();
    await expect.poll(() => nodeStatus(page, "count"), { timeout: 15_000 }).toBe("running");
    await page.getByTestId("run").click();
    await page.getByTestId("run").click();
    await expect.poll(async () => (await apiRuns(h.server.origin)).filter((r) => r.status === "queued").length).toBe(2);
    const [third, second, first] = await apiRuns(h.server.origin);
    expect(first.status).toBe("running");

    await page.getByTestId("cancel").click();
    await expect.poll(async () => (await apiRuns(h.server.origin)).find((r) => r.id === first.id)?.status, { timeout: 10_000 }).toBe("cancelled");
    // The next in line starts, and the view follows it.
    await expect.poll(async () => (await apiRuns(h.server.origin)).find((r) => r.id === second.id)?.status, { timeout: 10_000 }).toBe("running");
    await expect(apiRuns(h.server.origin).then((runs) => runs.find((r) => r.id === third.id)?.status)).resolves.toBe("queued");
    await expect.poll(() => page.getByTestId("denoise-view").getAttribute("data-run"), { timeout: 10_000 }).toBe(second.id);
  });
});

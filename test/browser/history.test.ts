// The queue as ComfyUI users work it: a batch count, run next, clear the queue, entries told
// apart (time, seed, what changed), run history that survives a server restart, loading a past
// run's workflow, and clearing the history.
import { mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startServer, type RunningServer } from "../../engine/server/index.js";
import { listen, testRegistry } from "../server/helpers.js";
import { apiRuns, cancelAll } from "./docs.js";
import { node, nodeStatus, openWorkflow, startHarness, type Harness } from "./harness.js";

const historyDir = mkdtempSync(join(tmpdir(), "maskflow-browser-history-"));
let h: Harness;
let restarted: RunningServer | undefined;

beforeAll(async () => {
  h = await startHarness({ historyDir });
}, 180_000);

afterAll(async () => {
  await h?.close();
  await restarted?.close();
  rmSync(historyDir, { recursive: true, force: true });
});

const blocker = { version: 1, name: "blocker", nodes: { count: { type: "SlowSteps", inputs: { steps: 10_000, ms: 50 }, ui: { x: 0, y: 0 } }, show: { type: "ShowText", inputs: { value: { from: "count", output: "text" } }, ui: { x: 360, y: 0 } } } };
const seeded = {
  version: 1,
  name: "seeded",
  nodes: { s: { type: "Seeded", inputs: { seed: 5 }, ui: { x: 0, y: 0 } }, show: { type: "ShowText", inputs: { value: { from: "s", output: "text" } }, ui: { x: 360, y: 0 } } },
};

describe("queue controls", () => {
  it("queues a batch with seeds counting up, runs one next, clears the queue; entries show time, seed and changes", async () => {
    const { page } = await h.open();
    await openWorkflow(page, blocker, "blocker.maskflow.json");
    await node(page, "count").waitFor();
    await page.getByTestId("run").click();
    await expect.poll(() => nodeStatus(page, "count"), { timeout: 15_000 }).toBe("running");

    await openWorkflow(page, seeded, "seeded.maskflow.json");
    await node(page, "s").waitFor();
    await page.getByLabel("batch count").fill("3");
    await page.getByTestId("run").click();
    const waiting = page.getByTestId("queue-item").and(page.locator('[data-status="queued"]'));
    await expect.poll(() => waiting.count(), { timeout: 10_000 }).toBe(3);
    // Newest first: seeds 7, 6, 5; each later one says what changed.
    await expect(waiting.getByTestId("queue-seed").allTextContents()).resolves.toEqual([" · seed 7", " · seed 6", " · seed 5"]);
    await expect(waiting.nth(0).getByTestId("queue-changes").textContent()).resolves.toBe("s.seed 6 → 7");
    await expect(waiting.nth(0).getByTestId("queue-time").textContent()).resolves.toMatch(/\d{1,2}:\d{2}:\d{2}/);

    // The newest (seed 7) runs next, before the two queued ahead of it.
    const seven = (await apiRuns(h.server.origin))[0].id;
    const events = await listen(h.server);
    await waiting.nth(0).getByRole("button", { name: "run next" }).click();
    await page.getByTestId("cancel").click(); // the blocker, which the view shows
    await expect.poll(async () => (await apiRuns(h.server.origin)).filter((r) => r.status === "finished").length, { timeout: 20_000 }).toBe(3);
    const started = events.messages.flatMap((m) => (m.type === "run_started" ? [m.runId] : []));
    events.close();
    expect(started[0]).toBe(seven);

    // Clear the queue: the waiting runs are cancelled.
    await openWorkflow(page, blocker, "blocker.maskflow.json");
    await page.getByLabel("batch count").fill("1");
    await page.getByTestId("run").click();
    await openWorkflow(page, seeded, "seeded.maskflow.json");
    await page.getByLabel("batch count").fill("2");
    await page.getByTestId("run").click();
    await expect.poll(() => waiting.count(), { timeout: 10_000 }).toBe(2);
    await page.getByRole("button", { name: "Clear queue" }).click();
    await expect.poll(() => waiting.count(), { timeout: 10_000 }).toBe(0);
    await cancelAll(h.server.origin);
  });
});

describe("run history", () => {
  it("survives a server restart, opens a past run's workflow, and clears (on disk too)", async () => {
    const { page } = await h.open({ path: "example=concat" });
    await node(page, "join").waitFor();
    await page.getByTestId("run").click();
    await expect(node(page, "show").getByTestId("node-output").textContent({ timeout: 20_000 })).resolves.toBe("Hello, diffusion");
    const before = await apiRuns(h.server.origin);
    await cancelAll(h.server.origin);
    await h.server.close();

    restarted = await startServer({ port: 0, appDir: h.appDir, log: () => {}, registry: testRegistry(), historyDir });
    const context = await h.browser.newContext({ viewport: { width: 1440, height: 900 } });
    const fresh = await context.newPage();
    await fresh.goto(restarted.url);
    await fresh.locator('.mf-app[data-ready="true"]').waitFor();
    const items = fresh.getByTestId("queue-item");
    await expect.poll(() => items.count(), { timeout: 10_000 }).toBe(before.length);
    await expect(items.first().textContent()).resolves.toContain("Concat");

    // Its own workflow, with its result, on a canvas that had another graph.
    await fresh.getByRole("button", { name: "New" }).click();
    await items.first().getByRole("button", { name: "load this run's workflow" }).click();
    await node(fresh, "join").waitFor();
    await expect(node(fresh, "show").getByTestId("node-output").textContent()).resolves.toBe("Hello, diffusion");

    await fresh.getByRole("button", { name: "Clear history" }).click();
    await expect.poll(() => items.count(), { timeout: 10_000 }).toBe(0);
    await expect.poll(() => readdirSync(historyDir).filter((f) => f.endsWith(".json")).length, { timeout: 10_000 }).toBe(0);
    await context.close();
  });
});

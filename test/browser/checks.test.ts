// Issue 16, items 6-8: no silent no-ops (a Remask that matches nothing warns on the node), every
// output can be shown (a NUMBER in Show Text, beam lanes with the score that ranks them), and
// checks that run early and right (the linked model's max_length before running, a cleared field
// is unset, one toast per message).
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { cancelAll, example, smallEdit } from "./docs.js";
import { autosavedWhen, dragLink, node, nodeStatus, openWorkflow, startHarness, type Harness } from "./harness.js";

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

describe("6: no silent no-ops", () => {
  it("warns on a Remask whose pattern matches nothing, and in the queue", async () => {
    const { page } = await h.open();
    await openWorkflow(page, smallEdit());
    const remask = node(page, "remask");
    await remask.waitFor();
    await remask.getByLabel("strategy").selectOption("pattern");
    await remask.getByLabel("pattern").fill("zzqx");
    await page.getByTestId("run").click();
    await expect.poll(() => nodeStatus(page, "rewrite"), { timeout: 60_000 }).toBe("done");
    await expect(remask.getByTestId("node-warning").textContent()).resolves.toMatch(/nothing matched/);
    await expect(remask.locator(".mf-node").getAttribute("data-warned")).resolves.toBe("true");
    await expect(page.getByTestId("queue-item").first().getByTestId("queue-warnings").textContent()).resolves.toMatch(/1 warning/);
  });
});

describe("7: any output can be shown", () => {
  it("shows Score's NUMBER in Show Text, and each beam lane's score", async () => {
    const doc = example("beam");
    doc.nodes.beam.inputs.gen_length = 12;
    doc.nodes.score.inputs.samples = 16;
    doc.nodes.show_score = { type: "ShowText", inputs: {}, ui: { x: 942, y: 0 } }; // not linked yet, above Score
    const { page } = await h.open();
    await openWorkflow(page, doc);
    await node(page, "show_score").waitFor();
    await dragLink(page, ["score", "score"], ["show_score", "value"], true);
    await expect.poll(() => page.locator(".react-flow__edge").count()).toBe(8);

    await page.getByTestId("run").click();
    const number = node(page, "show_score").getByTestId("node-output");
    await expect(number.textContent({ timeout: 90_000 })).resolves.toMatch(/^-?\d+\.\d+$/);
    const lanes = page.locator('[data-testid="lane"][data-lane^="beam#"]');
    await expect.poll(() => lanes.count()).toBe(4);
    for (let i = 0; i < 4; i++) await expect(lanes.nth(i).locator(".mf-lane-stats").textContent()).resolves.toMatch(/score -?\d+\.\d+/);
  });
});

describe("8: checks run early and right", () => {
  it("reports gen_length over the linked model's max_length before running", async () => {
    const { page } = await h.open({ path: "example=hello" });
    const denoise = node(page, "denoise");
    await denoise.getByLabel("gen_length").fill("253");
    const issue = denoise.locator('[data-input="gen_length"] .mf-issue');
    await expect(issue.textContent({ timeout: 10_000 })).resolves.toMatch(/max_length 256/);
    await denoise.getByLabel("gen_length").fill("32");
    await issue.waitFor({ state: "detached" });
  });

  it("treats a cleared number field as unset, not as its old value", async () => {
    const { page } = await h.open({ path: "example=hello" });
    const field = node(page, "denoise").getByLabel("gen_length");
    await field.fill("5000");
    const issue = node(page, "denoise").locator('[data-input="gen_length"] .mf-issue');
    await expect(issue.textContent({ timeout: 10_000 })).resolves.toMatch(/outside 1\.\.4096/);
    await field.fill("");
    await issue.waitFor({ state: "detached", timeout: 10_000 });
    const saved = await autosavedWhen(page, (d) => !("gen_length" in d.nodes.denoise.inputs));
    expect(saved.nodes.denoise.inputs.gen_length).toBeUndefined();
    await expect(field.getAttribute("placeholder")).resolves.toBe("64"); // the default it falls back to
  });

  it("shows one toast for a message repeated", async () => {
    const { page } = await h.open({ path: "example=hello" });
    await node(page, "denoise").waitFor();
    await dragLink(page, ["model", "model"], ["denoise", "prompt"], false);
    await dragLink(page, ["model", "model"], ["denoise", "prompt"], false);
    await expect.poll(() => page.getByTestId("toast").count()).toBe(1);
    await expect(page.getByTestId("toast").textContent()).resolves.toMatch(/prompt takes TEXT, not MODEL/);
  });
});

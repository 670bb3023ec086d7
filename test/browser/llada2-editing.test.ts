// The LLaDA2.1 editing example in the editor, on the tiny LLaDA2 test checkpoint converted here:
// the denoising view names the block of each step and marks every edited token with what it held.
import { join } from "node:path";
import { afterAll, beforeAll, expect, it } from "vitest";
import { convertCheckpoint } from "../../engine/dllm/convert/index.js";
import { FIXTURES } from "../convert/helpers.js";
import { node, nodeStatus, startWithModels, type Harness } from "./harness.js";

let h: Harness;

beforeAll(async () => {
  h = await startWithModels(async (models) => {
    await convertCheckpoint(join(FIXTURES, "llada2-tiny"), { out: join(models, "llada2-tiny-int8"), dtype: "int8", name: "llada2-tiny" });
  });
}, 180_000);

afterAll(async () => {
  await h?.close();
});

it("shows the blocks and every edit of LLaDA2.1's loop, old -> new, on the timeline", async () => {
  const { page } = await h.open({ path: "example=llada2-editing" });
  await node(page, "model").getByLabel("path").fill("llada2-tiny-int8");
  await node(page, "schedule").getByLabel("block_length").fill("8");
  await node(page, "schedule").getByLabel("threshold", { exact: true }).first().fill("0.5");
  await node(page, "denoise").getByLabel("gen_length").fill("20");
  const advanced = node(page, "denoise").getByText(/more inputs/);
  if (await advanced.count()) await advanced.first().click();
  await node(page, "denoise").getByLabel("editing_threshold").fill("0.3");
  await node(page, "denoise").getByLabel("max_post_steps").fill("3");
  await page.getByTestId("run").click();
  await expect.poll(() => nodeStatus(page, "denoise"), { timeout: 60_000 }).toBe("done");

  const slider = page.getByTestId("step-slider");
  const last = Number(await slider.getAttribute("max"));
  expect(last).toBeGreaterThan(4);
  // the steps that edit, and among them the one whose replaced tokens read best (words, not blanks)
  const edits: { step: number; words: number }[] = [];
  for (let s = 0; s <= last; s++) {
    await slider.fill(String(s));
    if ((await page.getByTestId("edits").count()) === 0) continue;
    const was = await page.locator(".tok-was").allTextContents();
    edits.push({ step: s, words: was.filter((w) => /\w/.test(w)).length });
  }
  expect(edits.length, "some steps edit committed tokens").toBeGreaterThan(0);
  const best = [...edits].sort((a, b) => b.words - a.words || a.step - b.step)[0];
  await slider.fill(String(best.step));
  await expect(page.getByTestId("block").first().textContent()).resolves.toMatch(/^block \d+$/);
  const edited = page.locator(".tok.edited").first();
  await expect(edited.locator(".tok-was").count()).resolves.toBe(1);
  expect(await edited.getAttribute("title")).toMatch(/edited at step \d+: was /);
  await page.screenshot({ path: "test-results/llada2-editing.png" }); // for a look; docs/screenshots/ is retaken by hand
});

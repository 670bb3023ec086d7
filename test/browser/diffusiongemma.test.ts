// The DiffusionGemma example in the editor, on the tiny test checkpoint converted here (with a
// Gemma 4 style chat template beside it, as the real checkpoint keeps it in chat_template.jinja):
// the denoising view shows a canvas settling out of noise, per step which positions were kept and
// which re-drawn, each one's entropy, and the two stop signals; scrubbing goes back and forth.
import { cpSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, expect, it } from "vitest";
import { convertCheckpoint } from "../../engine/dllm/convert/index.js";
import { FIXTURES } from "../convert/helpers.js";
import { laneTokens } from "./docs.js";
import { autosavedWhen, node, nodeStatus, startWithModels, type Harness } from "./harness.js";

let h: Harness;

beforeAll(async () => {
  h = await startWithModels(async (models) => {
    const ckpt = join(models, "..", "checkpoint");
    cpSync(join(FIXTURES, "diffusion-gemma-tiny"), ckpt, { recursive: true });
    writeFileSync(join(ckpt, "chat_template.jinja"), "{{ bos_token }}{% for m in messages %}<|turn>{{ m.role }}\n{{ m.content }}<turn|>\n{% endfor %}{% if add_generation_prompt %}<|turn>model\n{% endif %}");
    await convertCheckpoint(ckpt, { out: join(models, "dg-tiny"), dtype: "fp32", name: "diffusion-gemma-tiny" });
  });
}, 180_000);

afterAll(async () => {
  await h?.close();
});

it("shows the canvas settling: kept and re-drawn positions, entropies, the stop signals, two canvases on one timeline", async () => {
  const { page } = await h.open({ path: "example=diffusiongemma" });
  // the model picker says what kind of model it is
  const choices = node(page, "model").getByTestId("path-choices").locator('option[value="dg-tiny"]');
  await expect.poll(() => choices.getAttribute("label")).toBe("diffusion-gemma-tiny · diffusion_gemma (uniform noise, canvas 8) · fp32");
  await node(page, "model").getByLabel("path").fill("dg-tiny");
  await node(page, "schedule").getByLabel("steps").fill("12");
  await node(page, "denoise").getByLabel("gen_length").fill("16");
  await page.getByTestId("run").click();
  await expect.poll(() => nodeStatus(page, "denoise"), { timeout: 60_000 }).toBe("done");

  const slider = page.getByTestId("step-slider");
  const last = Number(await slider.getAttribute("max"));
  expect(last + 1, "two canvases of at most 12 steps").toBeGreaterThan(12);
  expect(last + 1).toBeLessThanOrEqual(24);
  await expect(page.getByTestId("settling-legend").count()).resolves.toBe(1);

  // the first step: all 8 positions of canvas 1 are on show, kept + re-drawn = 8, each titled with its entropy
  await slider.fill("0");
  await expect(page.getByTestId("settling").getByText("canvas 1", { exact: true }).count()).resolves.toBe(1);
  const kept = Number((await page.getByTestId("kept").textContent())!.match(/kept (\d+)\/8/)![1]);
  expect(await page.getByTestId("tokens").locator(".tok.kept").count()).toBe(kept);
  expect(await page.getByTestId("tokens").locator(".tok.renoised").count()).toBe(8 - kept);
  expect(await page.getByTestId("tokens").locator(".tok.renoised").first().getAttribute("title")).toMatch(/entropy \d+\.\d{3} · re-drawn at random at step 1/);
  // the inspector: what the model offered at a re-drawn position at this step
  await page.getByTestId("tokens").locator(".tok.renoised").first().hover();
  await expect(page.getByTestId("inspector").locator(".mf-inspector-where").textContent()).resolves.toMatch(/^position \d · step 1 · entropy \d+\.\d\d nats$/);
  await expect(page.getByTestId("inspector").getByTestId("candidate").count()).resolves.toBe(5);
  await expect(page.getByTestId("stable").textContent()).resolves.toMatch(/stable/);
  await expect(page.getByTestId("confident").textContent()).resolves.toMatch(/confident/);

  // the last step: canvas 2 settling after canvas 1, which stays committed (no kept / re-drawn marks)
  await slider.fill(String(last));
  await expect(page.getByTestId("settling").getByText("canvas 2", { exact: true }).count()).resolves.toBe(1);
  const tokens = page.getByTestId("tokens").locator(".tok");
  expect(await tokens.count()).toBe(16);
  for (let i = 0; i < 8; i++) expect(await tokens.nth(i).getAttribute("class")).not.toMatch(/kept|renoised/);
  expect(await page.getByTestId("tokens").locator(".tok.kept, .tok.renoised").count()).toBe(8);
  await expect(page.getByTestId("output-text").count()).resolves.toBe(0);
  await page.screenshot({ path: "test-results/diffusiongemma.png" }); // for a look; docs/screenshots/ is retaken by hand
});

it("remask and regenerate on a settled canvas: the selected positions settle again, every other token stays as it was", async () => {
  const { page } = await h.open({ path: "example=diffusiongemma" });
  await node(page, "model").getByLabel("path").fill("dg-tiny");
  await node(page, "schedule").getByLabel("steps").fill("6");
  await node(page, "denoise").getByLabel("gen_length").fill("16");
  await page.getByTestId("run").click();
  await expect.poll(() => nodeStatus(page, "denoise"), { timeout: 60_000 }).toBe("done");
  const lane = (key: string) => page.locator(`[data-testid="lane"][data-lane="${key}"]`);
  const original = await laneTokens(page, "denoise");
  expect(original).toHaveLength(16);
  await lane("denoise").locator('.tok[data-pos="9"]').click();
  await lane("denoise").locator('.tok[data-pos="10"]').click({ modifiers: ["Shift"] });
  await page.getByTestId("token-actions").getByRole("button", { name: /remask and regenerate/i }).click();
  const doc = await autosavedWhen(page, (d) => Object.values(d.nodes).some((n) => n.type === "Remask"));
  const [remaskId] = Object.entries(doc.nodes).find(([, n]) => n.type === "Remask")!;
  const [againId] = Object.entries(doc.nodes).find(([, n]) => n.type === "Denoise" && (n.inputs.canvas as { from?: string })?.from === remaskId)!;
  await expect.poll(() => nodeStatus(page, againId), { timeout: 60_000 }).toBe("done");
  const again = await laneTokens(page, againId);
  expect(again.filter((_, i) => i !== 9 && i !== 10)).toEqual(original.filter((_, i) => i !== 9 && i !== 10));
  // the pinned positions are drawn as given; only the two holes settle (kept / re-drawn marks)
  await expect(lane(againId).locator(".tok.fixed").count()).resolves.toBe(14);
  await expect(lane(againId).locator(".tok.kept, .tok.renoised").count()).resolves.toBe(2);
});

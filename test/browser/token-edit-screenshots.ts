// Takes the screenshot sequence of docs/token-editing.md from a real server and the default
// model: tokens selected in the denoising view, the remask being regenerated, and the
// regenerated text beside the original.
// Usage: npx tsx test/browser/token-edit-screenshots.ts [--light]
import { join } from "node:path";
import { NodeRegistry } from "../../engine/index.js";
import { builtinNodes } from "../../nodes/index.js";
import { node, startHarness } from "./harness.js";

const theme = process.argv.includes("--light") ? "light" : "dark";
const out = join(import.meta.dirname, "../../docs/screenshots");
const suffix = theme === "light" ? "-light" : "";
const shot = (name: string) => join(out, `token-edit-${name}${suffix}.png`);

const h = await startHarness({ registry: new NodeRegistry(builtinNodes) });
try {
  const { page } = await h.open({ theme, path: "example=hello" });
  await node(page, "denoise").waitFor();
  await page.getByTestId("run").click();
  await page.locator('.mf-queue-item[data-status="finished"]').first().waitFor({ timeout: 300_000 });
  const lane = page.locator('[data-testid="lane"][data-lane="denoise"]');

  // 1. Scrub back to step 30 and drag over a dozen tokens in the middle of the text.
  await page.getByTestId("step-slider").fill("29");
  const from = (await lane.locator('.tok[data-pos="9"]').boundingBox())!;
  const to = (await lane.locator('.tok[data-pos="20"]').boundingBox())!;
  await page.mouse.move(from.x + 2, from.y + from.height / 2);
  await page.mouse.down();
  await page.mouse.move(to.x + to.width / 2, to.y + to.height / 2, { steps: 6 });
  await page.mouse.up();
  await page.getByTestId("token-actions").waitFor();
  await page.waitForTimeout(200);
  await page.screenshot({ path: shot("1-select") });

  // 2. Remask and regenerate: the editor adds Remask -> Denoise -> Show Text under the graph,
  // shows them, and runs. Scrubbed half-way through the rewrite: the draft is done, the
  // remasked tokens are being filled in.
  await page.getByTestId("token-actions").getByRole("button", { name: /remask and regenerate/i }).click();
  await node(page, "remask").waitFor();
  await page.locator('.mf-queue-item').first().and(page.locator('[data-status="finished"]')).waitFor({ timeout: 300_000 });
  await page.waitForTimeout(500); // the view moves to the new nodes
  const slider = page.getByTestId("step-slider");
  const last = Number(await slider.getAttribute("max"));
  await slider.fill(String(last - 6));
  await page.waitForTimeout(300);
  await page.screenshot({ path: shot("2-remask") });

  // 3. Done: the regenerated text (its new tokens underlined) beside the original.
  await slider.fill(String(last));
  await page.waitForTimeout(300);
  await page.screenshot({ path: shot("3-regenerated") });
  console.log(`screenshots: ${out}/token-edit-{1-select,2-remask,3-regenerated}${suffix}.png`);
} finally {
  await h.close();
}

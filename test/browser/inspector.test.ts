// The candidate inspector on the hello example with the bundled model: hovering a position at
// step 3 shows what the model offered there at that step (its top candidates with probabilities
// as bars, and its entropy); a position no step has looked at yet shows the hint.
import { afterAll, beforeAll, expect, it } from "vitest";
import { nodeStatus, startHarness, type Harness } from "./harness.js";

let h: Harness;
beforeAll(async () => {
  h = await startHarness();
}, 180_000);
afterAll(async () => {
  await h?.close();
});

it("hover a position at step 3 and read its candidates; a position not looked at yet shows the hint", async () => {
  const { page } = await h.open({ path: "example=hello" });
  await page.getByTestId("run").click();
  await expect.poll(() => nodeStatus(page, "denoise"), { timeout: 60_000 }).toBe("done");
  const slider = page.getByTestId("step-slider");
  await slider.fill("2");
  await expect(page.getByTestId("step-label").textContent()).resolves.toMatch(/^step 3 \//);
  const tokens = page.getByTestId("tokens");

  // the token committed at step 3: its candidates are step 3's
  const committed = tokens.locator(".tok.changed").first();
  const pos = await committed.getAttribute("data-pos");
  await committed.hover();
  const inspector = page.getByTestId("inspector");
  await expect(inspector.locator(".mf-inspector-where").textContent()).resolves.toMatch(new RegExp(`^position ${pos} · step 3 · entropy \\d+\\.\\d\\d nats$`));
  const candidates = inspector.getByTestId("candidate");
  await expect(candidates.count()).resolves.toBe(5);
  const probs = (await inspector.locator(".mf-candidate-p").allTextContents()).map((t) => Number(t.replace("%", "")));
  expect([...probs].sort((a, b) => b - a)).toEqual(probs);
  expect(probs.reduce((a, b) => a + b, 0)).toBeLessThanOrEqual(100.5);
  const widths = await inspector.locator(".mf-candidate-bar").evaluateAll((els) => els.map((e) => (e as HTMLElement).getBoundingClientRect().width));
  expect(widths[0]).toBeGreaterThan(widths[4]);

  // a masked position of the first block: step 3 looked at it too
  const masked = tokens.locator(".tok.masked").first();
  const maskedPos = Number(await masked.getAttribute("data-pos"));
  expect(maskedPos).toBeLessThan(16);
  await masked.hover();
  await expect(inspector.locator(".mf-inspector-where").textContent()).resolves.toMatch(new RegExp(`^position ${maskedPos} · step 3 `));
  await page.screenshot({ path: "test-results/inspector.png" }); // for a look; docs/screenshots/ is retaken by hand

  // the last block's first position: no step up to 3 has looked at it
  await tokens.locator('.tok[data-pos="40"]').hover();
  await expect(page.getByTestId("inspector").count()).resolves.toBe(0);
  await expect(page.getByTestId("token-hint").textContent()).resolves.toMatch(/Hover one to see what the model offered there/);
});

import { startHarness } from "../test/browser/harness.js";
const h = await startHarness();
try {
  for (const name of ["hello", "lora", "edit", "infill", "beam", "chat", "concat"]) {
    const { page } = await h.open({ path: `example=${name}` });
    await page.waitForTimeout(800);
    const sizes = await page.locator(".react-flow__node").evaluateAll((els) => els.map((e) => `${e.getAttribute("data-id")}:${Math.round((e as HTMLElement).offsetWidth)}x${Math.round((e as HTMLElement).offsetHeight)}`));
    const zoom = await page.locator(".react-flow__viewport").evaluate((el) => new DOMMatrix(getComputedStyle(el).transform).a);
    console.log(name, zoom.toFixed(2), sizes.join(" "));
  }
} finally {
  await h.close();
}

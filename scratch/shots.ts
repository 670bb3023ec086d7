import { startHarness } from "../test/browser/harness.js";
const h = await startHarness();
const names = process.argv.slice(2);
try {
  for (const [w, hh] of [[1440, 900], [1280, 720]]) {
    for (const name of names) {
      const { context, page } = await h.open({ path: `example=${name}` });
      await page.setViewportSize({ width: w, height: hh });
      await page.reload();
      await page.locator('.mf-app[data-ready="true"]').waitFor();
      await page.waitForTimeout(800);
      await page.getByTestId("run").click();
      await page.locator('.mf-queue-item[data-status="finished"], .mf-queue-item[data-status="failed"]').first().waitFor({ timeout: 120000 });
      await page.waitForTimeout(500);
      await page.screenshot({ path: `scratch/${name}-${w}.png` });
      await context.close();
    }
  }
} finally {
  await h.close();
}

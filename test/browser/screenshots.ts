// Takes the editor screenshots in docs/screenshots/ (idle, running, finished with the
// timeline and the candidate inspector) from a real server running the hello example with the
// default model.
// Usage: npx tsx test/browser/screenshots.ts [example] [--light]
import { join } from "node:path";
import { NodeRegistry } from "../../engine/index.js";
import { builtinNodes } from "../../nodes/index.js";
import { startHarness } from "./harness.js";

const example = process.argv.slice(2).find((a) => !a.startsWith("--")) ?? "hello";
const theme = process.argv.includes("--light") ? "light" : "dark";
const out = join(import.meta.dirname, "../../docs/screenshots");
const suffix = theme === "light" ? "-light" : "";

const h = await startHarness({ registry: new NodeRegistry(builtinNodes) });
try {
  const { page } = await h.open({ theme, path: `example=${example}` });
  await page.locator(".react-flow__node").first().waitFor();
  await page.waitForTimeout(600); // let fitView settle
  await page.screenshot({ path: join(out, `editor-idle${suffix}.png`) });

  await page.getByTestId("run").click();
  // Mid-run: the first moment a canvas has both decided and masked positions.
  const tokens = page.getByTestId("tokens").first();
  await tokens.waitFor({ timeout: 120_000 });
  for (let i = 0; i < 400; i++) {
    const masked = Number((await tokens.getAttribute("data-masked").catch(() => null)) ?? -1);
    const total = await tokens.locator(".tok").count();
    if (masked > 0 && masked < total * 0.7) break;
    await page.waitForTimeout(25);
  }
  await page.screenshot({ path: join(out, `editor-running${suffix}.png`) });

  await page.locator('.mf-queue-item[data-status="finished"]').first().waitFor({ timeout: 300_000 });
  const slider = page.getByTestId("step-slider");
  const max = Number(await slider.getAttribute("max"));
  await slider.fill(String(Math.round(max * 0.6)));
  // the candidate inspector open on the token decided at that step
  await page.getByTestId("tokens").first().locator(".tok.changed").first().hover();
  await page.waitForTimeout(300);
  await page.screenshot({ path: join(out, `editor-finished${suffix}.png`) });
  console.log(`screenshots: ${out}/editor-{idle,running,finished}${suffix}.png`);
} finally {
  await h.close();
}

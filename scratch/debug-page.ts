// Scratch: open the editor and print console errors (not committed).
import { startHarness } from "../test/browser/harness.js";
const h = await startHarness();
try {
  const context = await h.browser.newContext({ viewport: { width: 1440, height: 900 } });
  const page = await context.newPage();
  page.on("console", (m) => console.log("console:", m.type(), m.text().slice(0, 500)));
  page.on("pageerror", (e) => console.log("pageerror:", e.message.slice(0, 800)));
  await page.goto(h.server.url + (process.argv[2] ?? ""));
  await page.waitForTimeout(5000);
  console.log("ready:", await page.locator(".mf-app").getAttribute("data-ready").catch(() => "none"));
  await page.screenshot({ path: "scratch/debug.png" });
} finally {
  await h.close();
}

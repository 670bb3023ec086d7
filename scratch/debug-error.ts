import { startHarness, node } from "../test/browser/harness.js";
const h = await startHarness();
try {
  const { page } = await h.open({ path: "example=hello" });
  await node(page, "model").getByLabel("path").fill("models/nowhere");
  await page.getByTestId("run").click();
  const error = node(page, "model").getByTestId("node-error");
  await error.waitFor({ timeout: 20000 });
  await page.waitForTimeout(800);
  console.log(await error.evaluate((el) => {
    const r = el.getBoundingClientRect();
    const hit = document.elementFromPoint((r.left + r.right) / 2, (r.top + r.bottom) / 2);
    const hit2 = document.elementFromPoint(r.left + 3, r.top + 3);
    const n = el.closest(".react-flow__node") as HTMLElement;
    return { r: [r.left, r.top, r.right, r.bottom], hit: hit?.className, hit2: hit2?.className, z: n.style.zIndex };
  }));
  await page.screenshot({ path: "scratch/error.png" });
} finally {
  await h.close();
}

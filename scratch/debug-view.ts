import { startHarness, openWorkflow, settled } from "../test/browser/harness.js";
import { example } from "../test/browser/docs.js";
const h = await startHarness();
try {
  const { page } = await h.open();
  const doc = example("beam");
  doc.nodes.show_score = { type: "ShowText", inputs: {}, ui: { x: 942, y: 0 } };
  await openWorkflow(page, doc);
  await settled(page);
  console.log(await page.locator(".react-flow__viewport").evaluate((el) => getComputedStyle(el).transform));
  const { page: p2 } = await h.open({ path: "example=beam" });
  await settled(p2);
  console.log(await p2.locator(".react-flow__viewport").evaluate((el) => getComputedStyle(el).transform));
} finally {
  await h.close();
}

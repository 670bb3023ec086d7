import { startHarness, openWorkflow, settled, handle, node } from "../test/browser/harness.js";
import { example } from "../test/browser/docs.js";
const h = await startHarness();
try {
  const { page } = await h.open();
  const doc = example("beam");
  doc.nodes.beam.inputs.gen_length = 12;
  doc.nodes.show_score = { type: "ShowText", inputs: {}, ui: { x: 942, y: 0 } };
  await openWorkflow(page, doc);
  await node(page, "show_score").waitFor();
  await settled(page);
  console.log(await handle(page, "score", "score", "source").boundingBox(), await handle(page, "show_score", "value", "target").boundingBox());
  await page.screenshot({ path: "scratch/before-drag.png" });
  const { dragLink } = await import("../test/browser/harness.js");
  await dragLink(page, ["score", "score"], ["show_score", "value"], true).catch((e) => console.log("ERR", e.message));
  await page.screenshot({ path: "scratch/after-drag.png" });
} finally {
  await h.close();
}

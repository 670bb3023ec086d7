// Load Model's path in the editor offers the model folders the server finds (the bundled one and
// the converted ones in the user's models directory), free text still allowed, and a converted
// model picked there runs the workflow.
import { join } from "node:path";
import { afterAll, beforeAll, expect, it } from "vitest";
import { convertCheckpoint } from "../../engine/dllm/convert/index.js";
import { checkpointDir } from "../convert/helpers.js";
import { node, nodeStatus, startWithModels, type Harness } from "./harness.js";

let h: Harness;
let converted: string;

beforeAll(async () => {
  h = await startWithModels(async (models) => {
    converted = (await convertCheckpoint(checkpointDir("llada"), { out: join(models, "llada-tiny-int4"), dtype: "int4", name: "llada-tiny" })).dir;
  });
}, 180_000);

afterAll(async () => {
  await h?.close();
});

it("Load Model offers the bundled and the converted models, and runs the one picked", async () => {
  const { page } = await h.open({ path: "example=hello" });
  const path = node(page, "model").getByLabel("path");
  await path.waitFor();
  const choices = node(page, "model").getByTestId("path-choices").locator("option");
  await expect.poll(() => choices.evaluateAll((os) => os.map((o) => (o as HTMLOptionElement).value))).toEqual(["models/default", "llada-tiny-int4"]);
  expect(await choices.nth(1).getAttribute("label")).toBe("llada-tiny · llada · int4");
  expect(await path.getAttribute("list")).toBe(await node(page, "model").getByTestId("path-choices").getAttribute("id"));

  await path.fill("llada-tiny-int4"); // a converted model is named by its folder in the models directory
  await node(page, "denoise").getByLabel("gen_length").fill("16");
  await node(page, "schedule").getByLabel("steps").fill("8");
  await node(page, "schedule").getByLabel("block_length").fill("8");
  await page.getByTestId("run").click();
  await expect.poll(() => nodeStatus(page, "denoise"), { timeout: 60_000 }).toBe("done");
  await expect.poll(() => page.getByTestId("tokens").getAttribute("data-masked")).toBe("0");
  await expect(page.getByTestId("tokens").locator(".tok").count()).resolves.toBe(16);
  await page.screenshot({ path: "test-results/converted-model-run.png" }); // for a look: test-results/ is not committed
});

// The end-to-end path with the real default model: build the hello workflow from an
// empty canvas through the palette and dragged links, have a wrong link refused, run it, watch
// the text appear and scrub its steps, save, reload, reopen the file and get the same graph.
import { readFileSync } from "node:fs";
import { afterAll, beforeAll, expect, it } from "vitest";
import { autosaved, dragLink, graphOf, moveNode, node, nodeStatus, savedGraph, startHarness, type Harness, type SavedDoc } from "./harness.js";

let h: Harness;

beforeAll(async () => {
  h = await startHarness();
}, 180_000);

afterAll(async () => {
  await h?.close();
});

/** The hello example, as built by hand below (the editor names nodes after their types). */
const expected = {
  prompt: { type: "Prompt", inputs: { text: "He looked at the door and", chat: false } },
  load_model: { type: "LoadModel", inputs: { path: "models/default", device: "cpu", threads: 0 } },
  mask_schedule: { type: "MaskSchedule", inputs: expect.objectContaining({ kind: "linear", steps: 48, block_length: 16 }) },
  denoise: {
    type: "Denoise",
    inputs: expect.objectContaining({
      model: { from: "load_model", output: "model" },
      prompt: { from: "prompt", output: "text" },
      schedule: { from: "mask_schedule", output: "schedule" },
      gen_length: 48,
      temperature: 0.8,
      remasking: "low_confidence",
      seed: 1,
    }),
  },
  show_text: { type: "ShowText", inputs: { value: { from: "denoise", output: "canvas" } } },
};

it("builds, runs, scrubs, saves and reopens the hello workflow with the default model", async () => {
  const { page } = await h.open();
  await page.getByRole("button", { name: "New" }).click();
  await expect.poll(() => page.locator(".react-flow__node").count()).toBe(0);
  await page.getByLabel("workflow name").fill("Hello, diffusion");

  // Add every node from the palette and lay them out left to right.
  const place = async (type: string, id: string, x: number, y: number) => {
    await page.getByTestId(`palette-${type}`).click();
    await node(page, id).waitFor();
    await moveNode(page, id, x, y);
  };
  await place("Prompt", "prompt", 270, 70);
  await place("LoadModel", "load_model", 270, 290);
  await place("MaskSchedule", "mask_schedule", 270, 450);
  await place("Denoise", "denoise", 640, 70);
  await place("ShowText", "show_text", 1000, 110);

  // Widgets.
  await node(page, "prompt").getByLabel("text").fill("He looked at the door and");
  await node(page, "mask_schedule").getByLabel("steps").fill("48");
  await node(page, "mask_schedule").getByLabel("block_length").fill("16");
  await node(page, "denoise").getByLabel("gen_length").fill("48");
  await node(page, "denoise").getByRole("spinbutton", { name: "temperature" }).fill("0.8");
  await node(page, "denoise").getByRole("spinbutton", { name: "seed" }).fill("1");

  // A MODEL output cannot be Denoise's prompt: refused, with the reason.
  await dragLink(page, ["load_model", "model"], ["denoise", "prompt"], false);
  await expect(page.getByTestId("toast").first().textContent()).resolves.toMatch(/prompt takes TEXT, not MODEL/);
  await expect.poll(() => page.locator(".react-flow__edge").count()).toBe(0);

  // The right links, dragged.
  await dragLink(page, ["load_model", "model"], ["denoise", "model"], true);
  await dragLink(page, ["prompt", "text"], ["denoise", "prompt"], true);
  await dragLink(page, ["mask_schedule", "schedule"], ["denoise", "schedule"], true);
  await dragLink(page, ["denoise", "canvas"], ["show_text", "value"], true);
  await expect.poll(() => page.locator(".react-flow__edge").count()).toBe(4);
  await expect.poll(() => savedGraph(page)).toEqual(expected);

  // Run: the text appears on the output node; the denoising view shows every step.
  await page.getByTestId("run").click();
  const output = node(page, "show_text").getByTestId("node-output");
  await output.waitFor({ timeout: 120_000 });
  const text = (await output.textContent())!;
  expect(text.trim().length).toBeGreaterThan(0);
  await expect.poll(() => nodeStatus(page, "denoise")).toBe("done");
  const tokens = page.getByTestId("tokens");
  await expect.poll(() => tokens.getAttribute("data-masked")).toBe("0");
  await expect(tokens.locator(".tok").count()).resolves.toBe(48);

  const slider = page.getByTestId("step-slider");
  const last = Number(await slider.getAttribute("max"));
  expect(last).toBe(47); // 48 steps
  await slider.fill("0");
  await expect(page.getByTestId("step-label").textContent()).resolves.toBe("step 1 / 48");
  await expect(tokens.getAttribute("data-masked")).resolves.toBe("47"); // one token per step
  await slider.fill("23");
  await expect(tokens.getAttribute("data-masked")).resolves.toBe("24");
  await slider.fill(String(last));
  await expect(tokens.getAttribute("data-masked")).resolves.toBe("0");

  // The same run through the API gives the same text: one document, one result.
  const runs = (await (await fetch(`${h.server.origin}/api/runs`)).json()) as { id: string }[];
  const detail = await (await fetch(`${h.server.origin}/api/runs/${runs[0].id}`)).json();
  expect(detail.outputs.show_text.text).toBe(text);

  // Save, reload (the autosave restores it), clear, reopen the saved file: the same graph.
  const downloadPromise = page.waitForEvent("download");
  await page.keyboard.press("Control+s");
  const download = await downloadPromise;
  expect(download.suggestedFilename()).toBe("hello-diffusion.maskflow.json");
  const savedPath = await download.path();
  const saved = JSON.parse(readFileSync(savedPath, "utf8")) as SavedDoc;
  expect(graphOf(saved)).toEqual(expected);

  await page.reload();
  await node(page, "denoise").waitFor();
  await expect.poll(() => savedGraph(page)).toEqual(graphOf(saved));
  await page.getByRole("button", { name: "New" }).click();
  await expect.poll(() => savedGraph(page)).toEqual({});
  await page.getByTestId("open-file").setInputFiles(savedPath);
  await node(page, "denoise").waitFor();
  await expect.poll(() => savedGraph(page)).toEqual(graphOf(saved));
  const reopened = (await autosaved(page))!;
  for (const id of Object.keys(saved.nodes)) expect(reopened.nodes[id].ui).toEqual(saved.nodes[id].ui);

  // Running the reopened graph reuses the cached model and sampler output.
  await page.getByTestId("run").click();
  await expect.poll(() => nodeStatus(page, "denoise"), { timeout: 60_000 }).toBe("cached");
  await expect(node(page, "show_text").getByTestId("node-output").textContent()).resolves.toBe(text);
});

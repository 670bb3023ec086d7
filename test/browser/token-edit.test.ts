// Issue 16, item 5: editing tokens from the denoising view. Select tokens (click, shift-click,
// drag) at any step, then remask and regenerate them, keep them and regenerate the rest, or type
// replacement text over them; the editor adds (or updates) the nodes after the Denoise and runs,
// the regenerated text appears beside the original, and undo restores the graph.
import { afterAll, afterEach, beforeAll, expect, it } from "vitest";
import { cancelAll, laneTokens, smallHello } from "./docs.js";
import { autosavedWhen, node, nodeStatus, openWorkflow, startHarness, type Harness, type SavedDoc } from "./harness.js";

let h: Harness;

beforeAll(async () => {
  h = await startHarness();
}, 180_000);

afterAll(async () => {
  await h?.close();
});

afterEach(async () => {
  if (h) await cancelAll(h.server.origin);
});

const lane = (page: import("playwright-core").Page, key: string) => page.locator(`[data-testid="lane"][data-lane="${key}"]`);
const token = (page: import("playwright-core").Page, key: string, pos: number) => lane(page, key).locator(`.tok[data-pos="${pos}"]`);
const selected = (page: import("playwright-core").Page, key: string) =>
  lane(page, key).locator(".tok.selected").evaluateAll((els) => els.map((e) => Number(e.getAttribute("data-pos"))));

/** The node the editor added of a type, from the autosave. */
function added(doc: SavedDoc, type: string, before: SavedDoc): [string, SavedDoc["nodes"][string]] {
  const found = Object.entries(doc.nodes).find(([id, n]) => n.type === type && !(id in before.nodes));
  if (!found) throw new Error(`no new ${type} node in ${JSON.stringify(Object.keys(doc.nodes))}`);
  return found;
}

it("remasks selected tokens, keeps others, replaces a span with typed text, beside the original; undo restores the graph", async () => {
  const { page } = await h.open();
  await openWorkflow(page, smallHello("token edits"));
  await node(page, "denoise").waitFor();
  const before = await autosavedWhen(page, (d) => d.name === "token edits");
  await page.getByTestId("run").click();
  await expect.poll(() => nodeStatus(page, "denoise"), { timeout: 60_000 }).toBe("done");
  await expect.poll(() => lane(page, "denoise").getByTestId("tokens").getAttribute("data-masked")).toBe("0");
  const original = await laneTokens(page, "denoise");

  // Select at an earlier step: click, then shift-click extends the selection.
  await page.getByTestId("step-slider").fill("9");
  await token(page, "denoise", 2).click();
  await token(page, "denoise", 4).click({ modifiers: ["Shift"] });
  await expect.poll(() => selected(page, "denoise")).toEqual([2, 3, 4]);

  // Remask and regenerate: a Remask of those positions, a Denoise and a Show Text after the original.
  await page.getByTestId("token-actions").getByRole("button", { name: /remask and regenerate/i }).click();
  let doc = await autosavedWhen(page, (d) => Object.values(d.nodes).some((n) => n.type === "Remask"));
  const [remaskId, remask] = added(doc, "Remask", before);
  expect(remask.inputs).toMatchObject({ canvas: { from: "denoise", output: "canvas" }, strategy: "positions", positions: "2-4" });
  const [rewriteId] = Object.entries(doc.nodes).find(([, n]) => n.type === "Denoise" && (n.inputs.canvas as { from?: string })?.from === remaskId)!;
  await expect.poll(() => nodeStatus(page, rewriteId), { timeout: 60_000 }).toBe("done");
  await expect.poll(() => lane(page, rewriteId).getByTestId("tokens").getAttribute("data-masked")).toBe("0");
  // The original lane stays beside the regenerated one; only the selected positions were redone.
  await expect(lane(page, "denoise").count()).resolves.toBe(1);
  const remasked = await laneTokens(page, rewriteId);
  expect(remasked.filter((_, i) => i < 2 || i > 4)).toEqual(original.filter((_, i) => i < 2 || i > 4));

  // Undo restores the graph.
  await page.locator(".react-flow__pane").click({ position: { x: 30, y: 30 } });
  await page.keyboard.press("Control+z");
  doc = await autosavedWhen(page, (d) => Object.keys(d.nodes).length === Object.keys(before.nodes).length);
  expect(Object.keys(doc.nodes).sort()).toEqual(Object.keys(before.nodes).sort());

  // Keep: drag over positions 0-3, keep them, regenerate everything else.
  await expect.poll(() => lane(page, "denoise").count(), { timeout: 10_000 }).toBe(1);
  const a = (await token(page, "denoise", 0).boundingBox())!;
  const b = (await token(page, "denoise", 3).boundingBox())!;
  await page.mouse.move(a.x + 2, a.y + a.height / 2);
  await page.mouse.down();
  await page.mouse.move(b.x + b.width / 2, b.y + b.height / 2, { steps: 5 });
  await page.mouse.up();
  await expect.poll(() => selected(page, "denoise")).toEqual([0, 1, 2, 3]);
  await page.getByTestId("token-actions").getByRole("button", { name: /keep/i }).click();
  doc = await autosavedWhen(page, (d) => Object.values(d.nodes).some((n) => n.type === "Remask"));
  const [keepId, keep] = added(doc, "Remask", before);
  expect(keep.inputs).toMatchObject({ strategy: "positions", positions: "4-15" });
  const [keepRewrite] = Object.entries(doc.nodes).find(([, n]) => n.type === "Denoise" && (n.inputs.canvas as { from?: string })?.from === keepId)!;
  await expect.poll(() => nodeStatus(page, keepRewrite), { timeout: 60_000 }).toBe("done");
  await expect.poll(() => lane(page, keepRewrite).getByTestId("tokens").getAttribute("data-masked")).toBe("0");
  expect((await laneTokens(page, keepRewrite)).slice(0, 4)).toEqual(original.slice(0, 4));

  // Replace: type over positions 6-7; the text is fixed, its neighbours regenerated.
  await token(page, "denoise", 6).click();
  await token(page, "denoise", 7).click({ modifiers: ["Shift"] });
  const replacement = page.getByTestId("token-actions").getByLabel("replacement text");
  await replacement.fill(" old house");
  await replacement.press("Enter");
  doc = await autosavedWhen(page, (d) => Object.values(d.nodes).some((n) => n.type === "ReplaceTokens"));
  const [replaceId, replace] = added(doc, "ReplaceTokens", before);
  expect(replace.inputs).toMatchObject({ canvas: { from: "denoise", output: "canvas" }, positions: "6-7", text: " old house" });
  const [replaceRewrite] = Object.entries(doc.nodes).find(([, n]) => n.type === "Denoise" && (n.inputs.canvas as { from?: string })?.from === replaceId)!;
  await expect.poll(() => nodeStatus(page, replaceRewrite), { timeout: 60_000 }).toBe("done");
  await expect.poll(() => lane(page, replaceRewrite).getByTestId("tokens").textContent()).toContain(" old house");
  // The typed tokens are fixed, and drawn as such.
  await expect(lane(page, replaceRewrite).locator(".tok.fixed").count()).resolves.toBeGreaterThan(0);
});

// What ComfyUI users reach for: right-click menus on the canvas, nodes and links; bypass and
// mute (Ctrl+B / Ctrl+M) honoured by the engine; groups that move their nodes; notes; reroute
// points on links; Space+drag to pan, even over a node.
import type { Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { example } from "./docs.js";
import { autosavedWhen, node, nodeStatus, openWorkflow, settled, startHarness, type Harness, type SavedDoc } from "./harness.js";

let h: Harness;

beforeAll(async () => {
  h = await startHarness();
}, 180_000);

afterAll(async () => {
  await h?.close();
});

/** concat with a second output straight from the greeting, so muting join leaves something to run. */
function concatTwice() {
  const doc = example("concat");
  doc.nodes.show2 = { type: "ShowText", inputs: { value: { from: "greeting", output: "text" } }, ui: { x: 640, y: 260 } };
  return doc;
}

const menu = (page: Page, name: string) => page.getByRole("menu", { name });

/** The reroute points saved for show's value link (node ui.reroutes). */
const reroutes = (doc: SavedDoc): { x: number; y: number }[] => ((doc.nodes.show.ui as { reroutes?: { value?: { x: number; y: number }[] } } | undefined)?.reroutes?.value ?? []);

async function emptySpot(page: Page): Promise<{ x: number; y: number }> {
  // Below every node, inside the canvas.
  const box = (await page.locator(".react-flow").boundingBox())!;
  const bottom = await page.locator(".react-flow__node").evaluateAll((els) => Math.max(...els.map((e) => e.getBoundingClientRect().bottom)));
  return { x: box.x + box.width / 2, y: Math.min(bottom + 60, box.y + box.height - 40) };
}

describe("right-click menus", () => {
  it("on the canvas (add a note), on a node (bypass), on a link (reroute point), closed by Escape", async () => {
    const { page } = await h.open({ path: "example=concat" });
    await node(page, "join").waitFor();
    await settled(page);

    const spot = await emptySpot(page);
    await page.mouse.click(spot.x, spot.y, { button: "right" });
    await expect(menu(page, "Canvas").getByRole("menuitem").allTextContents()).resolves.toEqual(
      expect.arrayContaining([expect.stringMatching(/^Add node/), "Add note", "Add group", expect.stringMatching(/^Paste/)]),
    );
    await page.keyboard.press("Escape");
    await menu(page, "Canvas").waitFor({ state: "detached" });
    await page.mouse.click(spot.x, spot.y, { button: "right" });
    await menu(page, "Canvas").getByRole("menuitem", { name: "Add note" }).click();
    await page.getByTestId("note").getByLabel("note").fill("The greeting is fixed.");
    let doc = await autosavedWhen(page, (d) => (d as { ui?: { notes?: unknown[] } }).ui?.notes?.length === 1);
    expect((doc as { ui?: { notes?: { text: string }[] } }).ui!.notes![0].text).toBe("The greeting is fixed.");

    await node(page, "join").locator(".mf-title").click({ button: "right" });
    await menu(page, "join").getByRole("menuitem", { name: /^Bypass/ }).click();
    await expect(node(page, "join").locator(".mf-node").getAttribute("data-mode")).resolves.toBe("bypass");

    // A link: add a reroute point, drag it, remove it.
    const link = page.locator('.react-flow__edge[data-id="join.text->show.value"]');
    const path = link.locator(".react-flow__edge-interaction");
    const mid = await path.evaluate((el) => {
      const p = el as SVGPathElement;
      const point = p.getPointAtLength(p.getTotalLength() / 2);
      const m = p.getScreenCTM()!;
      return { x: point.x * m.a + m.e, y: point.y * m.d + m.f };
    });
    await page.mouse.click(mid.x, mid.y, { button: "right" });
    await page.getByRole("menuitem", { name: "Add reroute point here" }).click();
    const point = page.getByTestId("reroute");
    await point.waitFor();
    doc = await autosavedWhen(page, (d) => reroutes(d).length === 1);
    const before = reroutes(doc)[0];
    const box = (await point.boundingBox())!;
    await page.mouse.move(box.x + box.width / 2, box.y + box.height / 2);
    await page.mouse.down();
    await page.mouse.move(box.x + box.width / 2, box.y + 120, { steps: 6 });
    await page.mouse.up();
    doc = await autosavedWhen(page, (d) => reroutes(d)[0]?.y !== before.y);
    expect(reroutes(doc)[0].y).toBeGreaterThan(before.y + 80);
    await point.click({ button: "right" });
    await page.getByRole("menuitem", { name: "Remove reroute point" }).click();
    await point.waitFor({ state: "detached" });
  });
});

describe("bypass and mute", () => {
  it("Ctrl+B passes a node's input through, Ctrl+M stops it and what needs it, and the engine does as shown", async () => {
    const { page } = await h.open();
    await openWorkflow(page, concatTwice());
    await node(page, "show2").waitFor();

    await node(page, "join").locator(".mf-title").click();
    await page.keyboard.press("Control+b");
    await expect(node(page, "join").locator(".mf-node").getAttribute("data-mode")).resolves.toBe("bypass");
    await autosavedWhen(page, (d) => (d.nodes.join as { mode?: string }).mode === "bypass");
    await page.getByTestId("run").click();
    // Concat bypassed: its first TEXT input (the greeting) goes on to Show Text.
    await expect(node(page, "show").getByTestId("node-output").textContent({ timeout: 20_000 })).resolves.toBe("Hello,");

    await page.keyboard.press("Control+b"); // off again
    await page.keyboard.press("Control+m");
    await expect(node(page, "join").locator(".mf-node").getAttribute("data-mode")).resolves.toBe("mute");
    await autosavedWhen(page, (d) => (d.nodes.join as { mode?: string }).mode === "mute");
    await page.getByTestId("run").click();
    await expect.poll(() => nodeStatus(page, "show"), { timeout: 20_000 }).toBe("skipped");
    await expect(node(page, "show2").getByTestId("node-output").textContent()).resolves.toBe("Hello,");
    await expect(nodeStatus(page, "join")).resolves.toBe("skipped");
  });
});

describe("groups", () => {
  it("groups the selected nodes, and dragging the group moves them", async () => {
    const { page } = await h.open({ path: "example=concat" });
    await node(page, "greeting").waitFor();
    await settled(page);
    await node(page, "greeting").locator(".mf-title").click();
    await node(page, "name").locator(".mf-title").click({ modifiers: ["Control"] });
    const spot = await emptySpot(page);
    await page.mouse.click(spot.x, spot.y, { button: "right" });
    await menu(page, "Canvas").getByRole("menuitem", { name: "Add group" }).click();
    const group = page.getByTestId("group");
    await group.waitFor();
    const before = await autosavedWhen(page, (d) => ((d as { ui?: { groups?: unknown[] } }).ui?.groups?.length ?? 0) === 1);

    const title = (await group.locator(".mf-group-title").boundingBox())!;
    await page.mouse.move(title.x + 40, title.y + title.height / 2);
    await page.mouse.down();
    await page.mouse.move(title.x + 40 + 100, title.y + title.height / 2 + 60, { steps: 8 });
    await page.mouse.up();
    const after = await autosavedWhen(page, (d) => d.nodes.greeting.ui!.x !== before.nodes.greeting.ui!.x);
    for (const id of ["greeting", "name"]) {
      expect(after.nodes[id].ui!.x - before.nodes[id].ui!.x).toBeGreaterThan(80);
      expect(after.nodes[id].ui!.y - before.nodes[id].ui!.y).toBeGreaterThan(40);
    }
    expect(after.nodes.join.ui).toEqual(before.nodes.join.ui); // outside the group: stays
  });
});

describe("space+drag", () => {
  it("pans the canvas even when the drag starts on a node", async () => {
    const { page } = await h.open({ path: "example=concat" });
    await node(page, "join").waitFor();
    await settled(page);
    const transform = () => page.locator(".react-flow__viewport").evaluate((el) => new DOMMatrix(getComputedStyle(el).transform).e);
    const x0 = await transform();
    const before = await autosavedWhen(page, (d) => "join" in d.nodes);
    const title = (await node(page, "join").locator(".mf-title").boundingBox())!;
    await page.mouse.move(title.x + 20, title.y + 5);
    await page.keyboard.down("Space");
    await page.mouse.down();
    await page.mouse.move(title.x + 170, title.y + 5, { steps: 8 });
    await page.mouse.up();
    await page.keyboard.up("Space");
    await expect.poll(transform).toBeGreaterThan(x0 + 100);
    await page.waitForTimeout(400);
    const after = await autosavedWhen(page, (d) => "join" in d.nodes);
    expect(after.nodes.join.ui).toEqual(before.nodes.join.ui);
  });
});

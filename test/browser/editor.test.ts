// The editor in a real browser against a real engine server: building, wiring, refusing,
// running, saving and reopening a workflow, and the editing conveniences around it.
import { readFileSync } from "node:fs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { addBySearch, autosaved, autosavedWhen, dragLink, graphOf, handle, moveNode, node, savedGraph, startHarness, type Harness, type SavedDoc } from "./harness.js";

let h: Harness;

beforeAll(async () => {
  h = await startHarness();
}, 180_000);

afterAll(async () => {
  await h?.close();
});

describe("building and running a workflow", () => {
  it("builds a workflow from an empty canvas with the palette, search and dragged links, then runs it", async () => {
    const { page } = await h.open();
    await page.getByRole("button", { name: "New" }).click();
    await expect.poll(() => page.locator(".react-flow__node").count()).toBe(0);
    await page.getByLabel("workflow name").fill("built in a test");

    // From the palette: two Text nodes and a Concat.
    await page.getByTestId("palette-Text").click();
    await moveNode(page, "text", 420, 180);
    await page.getByTestId("palette-Text").click();
    await moveNode(page, "text_2", 420, 400);
    await page.getByLabel("Search nodes").fill("conc");
    await page.getByTestId("palette-Concat").click();
    await moveNode(page, "concat", 760, 260);
    // From the search box: a ShowText.
    await addBySearch(page, "show", { x: 1060, y: 300 });
    await expect.poll(() => node(page, "show_text").count()).toBe(1);

    await node(page, "text").getByLabel("value").fill("Hello,");
    await node(page, "text_2").getByLabel("value").fill("masked world");
    await node(page, "concat").getByLabel("separator").fill(" ");
    await dragLink(page, ["text", "text"], ["concat", "a"]);
    await dragLink(page, ["text_2", "text"], ["concat", "b"]);
    await dragLink(page, ["concat", "text"], ["show_text", "value"]);
    await expect.poll(() => page.locator(".react-flow__edge").count()).toBe(3);

    await expect.poll(() => savedGraph(page)).toEqual({
      text: { type: "Text", inputs: { value: "Hello," } },
      text_2: { type: "Text", inputs: { value: "masked world" } },
      concat: {
        type: "Concat",
        inputs: { separator: " ", a: { from: "text", output: "text" }, b: { from: "text_2", output: "text" } },
      },
      show_text: { type: "ShowText", inputs: { value: { from: "concat", output: "text" } } },
    });
    expect((await autosaved(page))!.name).toBe("built in a test");

    await page.getByTestId("run").click();
    await expect(node(page, "show_text").getByTestId("node-output").textContent({ timeout: 20_000 })).resolves.toBe("Hello, masked world");
    await node(page, "show_text").locator('[data-status="done"]').or(node(page, "show_text").locator(".mf-node.status-done")).first().waitFor();
    await expect(page.getByTestId("queue-item").first().getAttribute("data-status")).resolves.toBe("finished");
  });

  it("drops a link on empty canvas to add a node that takes it, linked", async () => {
    const { page } = await h.open();
    await page.getByRole("button", { name: "New" }).click();
    await page.getByTestId("palette-Text").click();
    await moveNode(page, "text", 420, 250);
    const from = (await handle(page, "text", "text", "source").boundingBox())!;
    await page.mouse.move(from.x + from.width / 2, from.y + from.height / 2);
    await page.mouse.down();
    await page.mouse.move(900, 320, { steps: 10 });
    await page.mouse.up();
    const search = page.getByRole("dialog", { name: "Add a node" });
    await expect(search.textContent()).resolves.toContain("nodes that take TEXT");
    // Only node types with a TEXT input are offered.
    await expect.poll(() => search.getByTestId("search-Text").count()).toBe(0);
    await search.getByLabel("Node search").fill("show");
    await search.getByLabel("Node search").press("Enter");
    await expect.poll(() => page.locator(".react-flow__edge").count()).toBe(1);
    await expect.poll(() => savedGraph(page)).toMatchObject({ show_text: { inputs: { value: { from: "text", output: "text" } } } });
  });

  it("refuses a link that closes a cycle and says why", async () => {
    const { page } = await h.open({ path: "example=concat" });
    await node(page, "join").waitFor();
    await dragLink(page, ["join", "text"], ["join", "b"], false);
    await expect(page.getByTestId("toast").first().textContent()).resolves.toMatch(/cannot feed itself|cycle/);
    await expect.poll(() => page.locator(".react-flow__edge").count()).toBe(3);
  });

  it("marks validation errors on the node and input they concern", async () => {
    const { page } = await h.open({ path: "example=concat" });
    await node(page, "show").waitFor();
    // Delete the link into ShowText: running now fails validation.
    await page.locator('.react-flow__edge[data-id="join.text->show.value"]').click({ force: true });
    await page.keyboard.press("Delete");
    await expect.poll(() => page.locator(".react-flow__edge").count()).toBe(2);
    await page.getByTestId("run").click();
    const issue = node(page, "show").locator('[data-input="value"] .mf-issue');
    await expect(issue.textContent()).resolves.toMatch(/required input/i);
    await expect(page.getByTestId("toast").first().textContent()).resolves.toMatch(/Cannot run yet/);
    // Undo brings the link back and the error goes away.
    await page.locator(".react-flow__pane").click({ position: { x: 20, y: 20 } });
    await page.keyboard.press("Control+z");
    await expect.poll(() => page.locator(".react-flow__edge").count()).toBe(3);
    await issue.waitFor({ state: "detached" });
  });
});

describe("files", () => {
  it("saves, survives a reload, and reopens the saved file (picker and drag-and-drop) as the same graph", async () => {
    const { page } = await h.open({ path: "example=concat" });
    await node(page, "greeting").getByLabel("value").fill("Saved text");
    const downloadPromise = page.waitForEvent("download");
    await page.getByRole("button", { name: "Save" }).click();
    const download = await downloadPromise;
    expect(download.suggestedFilename()).toBe("concat.maskflow.json");
    const savedPath = await download.path();
    const saved = JSON.parse(readFileSync(savedPath, "utf8")) as SavedDoc;
    expect(saved.version).toBe(1);
    expect(saved.nodes.greeting.inputs.value).toBe("Saved text");
    expect(saved.nodes.join.inputs.a).toEqual({ from: "greeting", output: "text" });

    // Reload: the autosave brings back the same graph.
    await page.goto(h.server.url);
    await node(page, "greeting").waitFor();
    await expect(node(page, "greeting").getByLabel("value").inputValue()).resolves.toBe("Saved text");
    await expect.poll(() => savedGraph(page)).toEqual(graphOf(saved));

    // Clear, then open the saved file with the file picker.
    await page.getByRole("button", { name: "New" }).click();
    await expect.poll(() => savedGraph(page)).toEqual({});
    await page.getByTestId("open-file").setInputFiles(savedPath);
    await node(page, "greeting").waitFor();
    await expect.poll(() => savedGraph(page)).toEqual(graphOf(saved));
    const reopened = (await autosaved(page))!;
    expect(reopened.nodes.join.ui).toEqual(saved.nodes.join.ui);

    // Clear, then drop the file on the canvas.
    await page.getByRole("button", { name: "New" }).click();
    await expect.poll(() => savedGraph(page)).toEqual({});
    const text = readFileSync(savedPath, "utf8");
    const dataTransfer = await page.evaluateHandle((content) => {
      const dt = new DataTransfer();
      dt.items.add(new File([content], "dropped.maskflow.json", { type: "application/json" }));
      return dt;
    }, text);
    await page.locator(".mf-canvas").dispatchEvent("drop", { dataTransfer });
    await node(page, "greeting").waitFor();
    await expect.poll(() => savedGraph(page)).toEqual(graphOf(saved));
  });

  it("opens every example, drawing each of its nodes from the catalog", async () => {
    const { page } = await h.open();
    const examples = (await (await fetch(`${h.server.origin}/api/workflows`)).json()) as { name: string }[];
    for (const { name } of examples) {
      const doc = (await (await fetch(`${h.server.origin}/api/workflows/${name}`)).json()) as SavedDoc;
      await page.getByRole("button", { name: /Examples/ }).click();
      await page.getByTestId(`example-${name}`).click();
      await expect.poll(() => page.locator(".react-flow__node").count()).toBe(Object.keys(doc.nodes).length);
      for (const [id, n] of Object.entries(doc.nodes)) {
        await expect(node(page, id).locator(".mf-node").getAttribute("data-type")).resolves.toBe(n.type);
      }
      await expect.poll(() => page.locator(".react-flow__edge").count()).toBe(
        Object.values(doc.nodes).flatMap((n) => Object.values(n.inputs)).filter((v) => typeof v === "object" && v !== null && "from" in v).length,
      );
    }
  });

  it("opens examples from the menu", async () => {
    const { page } = await h.open();
    await page.getByRole("button", { name: "New" }).click();
    await page.getByRole("button", { name: /Examples/ }).click();
    await page.getByTestId("example-concat").click();
    await node(page, "join").waitFor();
    await expect(page.getByLabel("workflow name").inputValue()).resolves.toBe("Concat");
  });
});

describe("editing", () => {
  it("undoes and redoes, copies and pastes, duplicates and deletes", async () => {
    const { page } = await h.open({ path: "example=concat" });
    const count = () => page.locator(".react-flow__node").count();
    await node(page, "join").waitFor();
    await expect.poll(count).toBe(4);

    await node(page, "greeting").locator(".mf-title").click();
    await page.keyboard.press("Control+d");
    await expect.poll(count).toBe(5);
    await node(page, "text").waitFor(); // the copy gets a fresh id
    await expect(node(page, "text").getByLabel("value").inputValue()).resolves.toBe("Hello,");

    await page.keyboard.press("Delete");
    await expect.poll(count).toBe(4);
    await page.keyboard.press("Control+z");
    await expect.poll(count).toBe(5);
    await page.keyboard.press("Control+Shift+z");
    await expect.poll(count).toBe(4);

    // Multi-select two linked nodes, copy and paste: the link between them comes along.
    await node(page, "greeting").locator(".mf-title").click();
    await node(page, "join").locator(".mf-title").click({ modifiers: ["Control"] });
    await expect.poll(() => page.locator(".react-flow__node.selected").count()).toBe(2);
    await page.keyboard.press("Control+c");
    await page.mouse.move(700, 650);
    await page.keyboard.press("Control+v");
    await expect.poll(count).toBe(6);
    const doc = await autosavedWhen(page, (d) => Object.keys(d.nodes).length === 6);
    const pastedJoin = Object.entries(doc.nodes).find(([id, n]) => n.type === "Concat" && id !== "join")!;
    const pastedText = Object.entries(doc.nodes).find(([id, n]) => n.type === "Text" && !["greeting", "name"].includes(id))!;
    expect(pastedJoin[1].inputs.a).toEqual({ from: pastedText[0], output: "text" });
    expect(pastedJoin[1].inputs.b).toBeUndefined();

    // Widget edits are undoable too, one step per field edit.
    await node(page, "greeting").getByLabel("value").fill("changed");
    await page.locator(".react-flow__pane").click({ position: { x: 20, y: 20 } });
    await page.keyboard.press("Control+z");
    await expect(node(page, "greeting").getByLabel("value").inputValue()).resolves.toBe("Hello,");
  });

  it("shows the shortcut help and switches theme", async () => {
    const { page } = await h.open({ theme: "dark" });
    await expect(page.evaluate(() => document.documentElement.dataset.theme)).resolves.toBe("dark");
    await page.locator(".react-flow__pane").click({ position: { x: 20, y: 20 } });
    await page.keyboard.press("?");
    await expect(page.getByRole("dialog", { name: "Keyboard shortcuts" }).textContent()).resolves.toContain("Undo");
    await page.keyboard.press("Escape");
    await page.getByRole("button", { name: "switch to light theme" }).click();
    await expect(page.evaluate(() => document.documentElement.dataset.theme)).resolves.toBe("light");
  });

  it("folds inputs marked advanced until asked, and never hides a set one", async () => {
    const { page } = await h.open();
    await page.getByRole("button", { name: "New" }).click();
    await page.getByTestId("palette-SlowSteps").click();
    const slow = node(page, "slow_steps");
    await expect.poll(() => slow.getByLabel("ms").count()).toBe(0);
    await slow.getByRole("button", { name: "▾ 1 more input" }).click();
    await slow.getByLabel("ms").fill("25");
    await slow.getByRole("button", { name: "▴ fewer inputs" }).click();
    await expect(slow.getByLabel("ms").inputValue()).resolves.toBe("25"); // set: stays visible
  });

  it("gives input handles the colours of their socket types", async () => {
    const { page } = await h.open({ path: "example=concat" });
    await node(page, "greeting").waitFor();
    const output = await handle(page, "greeting", "text", "source").evaluate((el) => getComputedStyle(el).backgroundColor);
    expect(output).toBe("rgb(52, 211, 153)"); // TEXT
  });
});

// The example node package in the editor: its nodes come from the catalog like built-in ones,
// with the package's name on the node, are found by search, and run.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { assembleRegistry } from "../../engine/index.js";
import { builtinNodes } from "../../nodes/index.js";
import { EXAMPLE } from "../plugins/packages.js";
import { addBySearch, node, openWorkflow, startHarness, type Harness } from "./harness.js";

let h: Harness;

beforeAll(async () => {
  const { registry, skipped } = await assembleRegistry(builtinNodes, { folders: [EXAMPLE], userDir: null, npmRoots: [] });
  expect(skipped).toEqual([]);
  h = await startHarness({ registry });
}, 180_000);

afterAll(async () => {
  await h?.close();
});

describe("a node package in the editor", () => {
  it("draws its nodes with their widgets and package name, finds them by search, and runs them", async () => {
    const { page } = await h.open();
    await openWorkflow(page, JSON.parse(readFileSync(join(EXAMPLE, "tidy.maskflow.json"), "utf8")), "tidy.maskflow.json");
    await expect.poll(() => node(page, "swap").count()).toBe(1);
    for (const id of ["tidy", "swap"]) {
      await expect(node(page, id).getByTestId("node-package").textContent()).resolves.toBe("maskflow-nodes-text-tools");
    }
    await expect(node(page, "draft").getByTestId("node-package").count()).resolves.toBe(0); // a built-in node
    await expect(node(page, "swap").getByLabel("pattern").inputValue()).resolves.toBe("\\bdoor\\b");
    await expect(node(page, "swap").locator(".mf-title").textContent()).resolves.toBe("Regex Replace");

    await page.getByTestId("run").click();
    await expect(node(page, "show").getByTestId("node-output").textContent({ timeout: 20_000 })).resolves.toBe(
      "He went to the window. He turned to the window. The window was open.",
    );

    // Searching by the package's name finds its nodes.
    await addBySearch(page, "text-tools drop", { x: 600, y: 480 });
    await expect.poll(() => node(page, "drop_repeats").count()).toBe(1);
    await expect(node(page, "drop_repeats").getByTestId("node-package").textContent()).resolves.toBe("maskflow-nodes-text-tools");
  });
});

// Issue 16, item 9: layout and legibility. Every example, run, at 1440x900 and 1280x720: no node
// overlaps another, no lane is cut off, nothing on screen is smaller than 11 px at the opening
// zoom. And the small things: Edit's lanes are told apart, Infill's fixed text is not tinted as
// low confidence, Escape closes menus, renaming replaces the title, labels have contrast.
import type { Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { example } from "./docs.js";
import { node, settled, startHarness, type Harness } from "./harness.js";

let h: Harness;

beforeAll(async () => {
  h = await startHarness();
}, 180_000);

afterAll(async () => {
  await h?.close();
});

/** Pairs of nodes whose boxes intersect. */
function overlaps(page: Page): Promise<string[]> {
  return page.locator(".react-flow__node").evaluateAll((els) => {
    const boxes = els.map((e) => ({ id: e.getAttribute("data-id"), r: e.getBoundingClientRect() }));
    const out: string[] = [];
    for (let i = 0; i < boxes.length; i++) {
      for (let j = i + 1; j < boxes.length; j++) {
        const a = boxes[i].r;
        const b = boxes[j].r;
        if (a.left < b.right - 1 && b.left < a.right - 1 && a.top < b.bottom - 1 && b.top < a.bottom - 1) out.push(`${boxes[i].id} / ${boxes[j].id}`);
      }
    }
    return out;
  });
}

/** Visible text drawn smaller than 11 px (canvas text at the canvas's zoom). */
function tinyText(page: Page): Promise<string[]> {
  return page.evaluate(() => {
    const viewport = document.querySelector(".react-flow__viewport");
    const zoom = viewport ? new DOMMatrix(getComputedStyle(viewport).transform).a : 1;
    const flowBox = document.querySelector(".react-flow")?.getBoundingClientRect();
    const out: string[] = [];
    const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
    while (walker.nextNode()) {
      const text = walker.currentNode.textContent?.trim();
      const el = walker.currentNode.parentElement;
      if (!text || !el || el.closest("option, datalist, script, style")) continue;
      const r = el.getBoundingClientRect();
      if (r.width === 0 || r.height === 0 || r.bottom <= 0 || r.right <= 0 || r.top >= innerHeight || r.left >= innerWidth) continue;
      const onCanvas = viewport?.contains(el) ?? false;
      // Canvas text outside the canvas's box is clipped away, not on screen.
      if (onCanvas && flowBox && (r.bottom <= flowBox.top || r.top >= flowBox.bottom || r.right <= flowBox.left || r.left >= flowBox.right)) continue;
      const style = getComputedStyle(el);
      if (style.visibility === "hidden" || Number(style.opacity) === 0) continue;
      const px = parseFloat(style.fontSize) * (onCanvas ? zoom : 1);
      if (px < 10.95) out.push(`${px.toFixed(1)}px "${text.slice(0, 30)}" (${el.className})`);
    }
    return [...new Set(out)];
  });
}

/** Lanes that stick out of the denoising view's lane area (cut off rather than wrapped or scrolled). */
function cutLanes(page: Page): Promise<string[]> {
  return page.evaluate(() => {
    const area = document.querySelector(".mf-lanes");
    if (!area) return [];
    const box = area.getBoundingClientRect();
    const scrolls = getComputedStyle(area).overflowY === "auto" || getComputedStyle(area).overflowY === "scroll";
    return [...area.querySelectorAll<HTMLElement>('[data-testid="lane"]')]
      .filter((lane) => {
        const r = lane.getBoundingClientRect();
        return r.left < box.left - 1 || r.right > box.right + 1 || (!scrolls && r.bottom > box.bottom + 1);
      })
      .map((lane) => lane.getAttribute("data-lane") ?? "?");
  });
}

const EXAMPLES = ["hello", "lora", "edit", "infill", "beam", "chat", "concat"];

describe("every example at 1440x900 and 1280x720", () => {
  for (const [width, height] of [
    [1440, 900],
    [1280, 720],
  ]) {
    it(`${width}x${height}: opens readable, runs, and shows its result without overlap`, async () => {
      const problems: string[] = [];
      for (const name of EXAMPLES) {
        const { context, page } = await h.open({ path: `example=${name}` });
        await page.setViewportSize({ width, height });
        await page.reload();
        await page.locator('.mf-app[data-ready="true"]').waitFor();
        await node(page, Object.keys(example(name).nodes)[0]).waitFor();
        await settled(page);
        for (const t of await tinyText(page)) problems.push(`${name} opening: ${t}`);
        for (const o of await overlaps(page)) problems.push(`${name} opening: ${o} overlap`);
        await page.getByTestId("run").click();
        await expect.poll(() => page.getByTestId("queue-item").first().getAttribute("data-status"), { timeout: 120_000 }).toBe("finished");
        await page.waitForTimeout(300);
        for (const o of await overlaps(page)) problems.push(`${name} after the run: ${o} overlap`);
        for (const lane of await cutLanes(page)) problems.push(`${name}: lane ${lane} cut off`);
        for (const t of await tinyText(page)) problems.push(`${name} after the run: ${t}`);
        await context.close();
      }
      expect(problems).toEqual([]);
    });
  }
});

describe("legibility", () => {
  it("titles Edit's two lanes apart and draws Infill's fixed text as fixed, not as low confidence", async () => {
    const { page } = await h.open({ path: "example=edit" });
    await page.getByTestId("run").click();
    await expect.poll(() => page.getByTestId("queue-item").first().getAttribute("data-status"), { timeout: 90_000 }).toBe("finished");
    const titles = await page.locator('[data-testid="lane"] .mf-lane-title').allTextContents();
    expect(titles).toHaveLength(2);
    expect(new Set(titles).size).toBe(2);

    const infill = await h.open({ path: "example=infill" });
    await infill.page.getByTestId("run").click();
    await expect.poll(() => infill.page.getByTestId("queue-item").first().getAttribute("data-status"), { timeout: 90_000 }).toBe("finished");
    const fixed = infill.page.locator('[data-testid="lane"] .tok.fixed');
    await expect.poll(() => fixed.count()).toBeGreaterThan(3);
    const [fixedBg, lowBg] = await infill.page.evaluate(() => {
      const f = document.querySelector('[data-testid="lane"] .tok.fixed')!;
      const probe = document.createElement("span");
      probe.className = "tok";
      probe.style.setProperty("--conf", "0");
      probe.textContent = "x";
      document.querySelector('[data-testid="tokens"]')!.appendChild(probe);
      const out = [getComputedStyle(f).backgroundColor, getComputedStyle(probe).backgroundColor];
      probe.remove();
      return out;
    });
    expect(fixedBg).not.toBe(lowBg);
  });

  it("closes menus with Escape and replaces a node's title when renaming", async () => {
    const { page } = await h.open({ path: "example=hello" });
    await page.getByRole("button", { name: /Examples/ }).click();
    await page.getByTestId("examples-menu").waitFor();
    await page.keyboard.press("Escape");
    await page.getByTestId("examples-menu").waitFor({ state: "detached", timeout: 3000 });

    await node(page, "denoise").locator(".mf-title").dblclick();
    await page.keyboard.type("Draft");
    await page.keyboard.press("Enter");
    await expect(node(page, "denoise").locator(".mf-title").textContent()).resolves.toBe("Draft");
  });

  it("gives socket labels and node ids enough contrast in the light theme", async () => {
    const { page } = await h.open({ theme: "light", path: "example=hello" });
    await node(page, "schedule").waitFor();
    const poor = await page.evaluate(() => {
      const rgb = (c: string) => (c.match(/[\d.]+/g) ?? []).slice(0, 3).map(Number);
      const lum = ([r, g, b]: number[]) => {
        const f = (v: number) => ((v /= 255) <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4);
        return 0.2126 * f(r) + 0.7152 * f(g) + 0.0722 * f(b);
      };
      const background = (el: Element | null): string => {
        for (; el; el = el.parentElement) {
          const bg = getComputedStyle(el).backgroundColor;
          if (bg && bg !== "transparent" && !bg.startsWith("rgba(0, 0, 0, 0")) return bg;
        }
        return "rgb(255, 255, 255)";
      };
      const out: string[] = [];
      for (const el of document.querySelectorAll(".mf-socket-name, .mf-node-id, .mf-label")) {
        const a = lum(rgb(getComputedStyle(el).color));
        const b = lum(rgb(background(el)));
        const ratio = (Math.max(a, b) + 0.05) / (Math.min(a, b) + 0.05);
        if (ratio < 4.5) out.push(`${el.textContent} ${ratio.toFixed(2)}`);
      }
      return out;
    });
    expect(poor).toEqual([]);
  });
});

// Browser tests drive a Chromium (the system's, or the npm package's: chromium.ts) with
// playwright-core against a real engine server that serves a fresh build of the editor.
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { chromium, type Browser, type BrowserContext, type Locator, type Page } from "playwright-core";
import { build } from "vite";
import { startServer, type RunningServer, type ServerOptions } from "../../engine/server/index.js";
import { testRegistry } from "../server/helpers.js";
import { resolveChromium } from "./chromium.js";

const ARGS = [
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
];

export interface Harness {
  server: RunningServer;
  browser: Browser;
  appDir: string;
  /** A fresh browser context (own localStorage) with a page open on the editor. */
  open(options?: { theme?: "dark" | "light"; path?: string }): Promise<{ context: BrowserContext; page: Page }>;
  close(): Promise<void>;
}

/** Builds the editor into a temporary folder (quietly), once per test file. */
export async function buildApp(): Promise<string> {
  const outDir = mkdtempSync(join(tmpdir(), "maskflow-app-build-"));
  await build({
    configFile: join(import.meta.dirname, "../../app/vite.config.ts"),
    logLevel: "error",
    build: { outDir, emptyOutDir: true },
  });
  return outDir;
}

export async function startHarness(options: Partial<ServerOptions> = {}): Promise<Harness> {
  const appDir = await buildApp();
  // The built-in nodes plus two test nodes (a slow counter, a failing node) for queue, cancel
  // and error display.
  const server = await startServer({ port: 0, appDir, log: () => {}, registry: testRegistry(), ...options });
  // Already found or unpacked by the global setup: this only looks it up again.
  const { path: executablePath } = await resolveChromium();
  const browser = await chromium.launch({ executablePath, headless: true, args: ARGS });
  const contexts: BrowserContext[] = [];
  return {
    server,
    browser,
    appDir,
    async open({ theme = "dark", path = "" } = {}) {
      const context = await browser.newContext({ viewport: { width: 1440, height: 900 }, acceptDownloads: true, colorScheme: theme });
      contexts.push(context);
      const page = await context.newPage();
      page.on("pageerror", (err) => {
        throw err;
      });
      const url = new URL(server.url);
      if (path) url.search = new URLSearchParams({ ...Object.fromEntries(url.searchParams), ...Object.fromEntries(new URLSearchParams(path)) }).toString();
      await page.goto(url.toString());
      await page.locator('.mf-app[data-ready="true"]').waitFor();
      return { context, page };
    },
    async close() {
      for (const context of contexts) await context.close().catch(() => {});
      await browser.close();
      await server.close();
      rmSync(appDir, { recursive: true, force: true });
    },
  };
}

// ------------------------------------------------------------------ page helpers

export const node = (page: Page, id: string): Locator => page.locator(`.react-flow__node[data-id="${id}"]`);

/** A node's run state: idle, queued, running, cached, done, error or skipped. */
export const nodeStatus = (page: Page, id: string): Promise<string | null> =>
  node(page, id).locator(".mf-node").getAttribute("data-status", { timeout: 2000 }).catch(() => null);

export const handle = (page: Page, nodeId: string, name: string, type: "source" | "target"): Locator =>
  page.locator(`.react-flow__handle.${type}[data-nodeid="${nodeId}"][data-handleid="${name}"]`);

/**
 * Waits until the canvas stops moving: a freshly opened graph is fitted into view a moment
 * after it renders, and a drag that starts before that ends somewhere else.
 */
export async function settled(page: Page): Promise<void> {
  await page.locator('.mf-app[data-fitting="false"]').waitFor();
  const transform = () => page.locator(".react-flow__viewport").evaluate((el) => getComputedStyle(el).transform);
  let last = await transform();
  for (let stable = 0; stable < 2; ) {
    await page.waitForTimeout(80);
    const now = await transform();
    stable = now === last ? stable + 1 : 0;
    last = now;
  }
}

/**
 * Drags a link from an output handle to an input handle with the mouse. With `expectValid`,
 * checks, while still holding the button over the input, whether the editor accepts the link
 * (React Flow marks the hovered handle "connectingto", plus "valid" when isValidConnection agrees).
 */
export async function dragLink(page: Page, from: [string, string], to: [string, string], expectValid?: boolean): Promise<void> {
  await settled(page);
  const target = handle(page, to[0], to[1], "target");
  const a = await handle(page, from[0], from[1], "source").boundingBox();
  const b = await target.boundingBox();
  if (!a || !b) throw new Error(`handle not visible: ${from.join(".")} or ${to.join(".")}`);
  await page.mouse.move(a.x + a.width / 2, a.y + a.height / 2);
  await page.mouse.down();
  await page.mouse.move((a.x + b.x) / 2, (a.y + b.y) / 2 + 20, { steps: 6 });
  await page.mouse.move(b.x + b.width / 2, b.y + b.height / 2, { steps: 6 });
  if (expectValid !== undefined) {
    await target
      .and(page.locator(".connectingto"))
      .waitFor({ timeout: 10_000 })
      .catch(async (err: Error) => {
        // Say what was under the pointer, and keep a picture (test-results/ is not committed).
        const under = await page.evaluate(([x, y]) => {
          const el = document.elementFromPoint(x, y) as HTMLElement | null;
          return el ? `${el.className} ${el.dataset.nodeid ?? ""}.${el.dataset.handleid ?? ""}` : "nothing";
        }, [b.x + b.width / 2, b.y + b.height / 2]);
        await page.screenshot({ path: `test-results/drag-${from.join(".")}-${to.join(".")}.png` }).catch(() => {});
        throw new Error(`dragging ${from.join(".")} -> ${to.join(".")}: the input never became the link's target (under the pointer: ${under}); ${err.message}`);
      });
    const classes = (await target.getAttribute("class")) ?? "";
    if (classes.split(/\s+/).includes("valid") !== expectValid) {
      await page.mouse.up();
      throw new Error(`link ${from.join(".")} -> ${to.join(".")} was ${expectValid ? "refused" : "accepted"} while dragging`);
    }
  }
  await page.mouse.up();
}

/** Drags a node by its header so it sits at (x, y) on the screen. */
export async function moveNode(page: Page, id: string, x: number, y: number): Promise<void> {
  await settled(page);
  const header = node(page, id).locator(".mf-title");
  const box = await header.boundingBox();
  if (!box) throw new Error(`node ${id} not visible`);
  await page.mouse.move(box.x + 10, box.y + box.height / 2);
  await page.mouse.down();
  await page.mouse.move(x, y, { steps: 8 });
  await page.mouse.up();
}

export interface SavedDoc {
  version: number;
  name?: string;
  nodes: Record<string, { type: string; title?: string; inputs: Record<string, unknown>; ui?: { x: number; y: number } }>;
}

/** The workflow the editor autosaved last (what a reload restores). */
export async function autosaved(page: Page): Promise<SavedDoc | null> {
  const text = await page.evaluate(() => localStorage.getItem("maskflow.autosave.v1"));
  return text ? (JSON.parse(text) as SavedDoc) : null;
}

/** Waits for an autosave that satisfies `ready` (saves settle shortly after each change). */
export async function autosavedWhen(page: Page, ready: (doc: SavedDoc) => boolean, timeoutMs = 15_000): Promise<SavedDoc> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const doc = await autosaved(page);
    if (doc && ready(doc)) return doc;
    if (Date.now() > deadline) throw new Error(`no matching autosave; last: ${JSON.stringify(doc)?.slice(0, 400)}`);
    await page.waitForTimeout(100);
  }
}

/** The autosaved graph, for expect.poll(() => savedGraph(page)).toEqual(...). */
export async function savedGraph(page: Page): Promise<ReturnType<typeof graphOf>> {
  const doc = await autosaved(page);
  return doc ? graphOf(doc) : {};
}

/** Node types and links of a document, ignoring layout: what "the same graph" means. */
export function graphOf(doc: SavedDoc): Record<string, { type: string; inputs: Record<string, unknown> }> {
  return Object.fromEntries(Object.entries(doc.nodes).map(([id, n]) => [id, { type: n.type, inputs: n.inputs, ...(n.title ? { title: n.title } : {}) }]));
}

/** Adds a node through the search box (double-click on empty canvas) at a screen point. */
export async function addBySearch(page: Page, query: string, at: { x: number; y: number }): Promise<void> {
  await page.mouse.dblclick(at.x, at.y);
  const box = page.getByRole("dialog", { name: "Add a node" });
  await box.getByLabel("Node search").fill(query);
  await box.getByLabel("Node search").press("Enter");
  await box.waitFor({ state: "detached" });
}

/** Opens a workflow document through the file picker, as a user would. */
export async function openWorkflow(page: Page, doc: unknown, name = "test.maskflow.json"): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), "maskflow-open-"));
  const path = join(dir, name);
  writeFileSync(path, JSON.stringify(doc));
  await page.getByTestId("open-file").setInputFiles(path);
}

/**
 * A harness whose server finds the model folders `convert(modelsDir)` writes there, as a user's
 * `maskflow convert` output (MASKFLOW_MODELS, restored on close). Call in beforeAll.
 */
export async function startWithModels(convert: (modelsDir: string) => Promise<void>): Promise<Harness> {
  const dir = mkdtempSync(join(tmpdir(), "maskflow-models-"));
  const saved = process.env.MASKFLOW_MODELS;
  process.env.MASKFLOW_MODELS = join(dir, "models");
  const restore = () => {
    if (saved === undefined) delete process.env.MASKFLOW_MODELS;
    else process.env.MASKFLOW_MODELS = saved;
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    await convert(process.env.MASKFLOW_MODELS);
    const h = await startHarness();
    return { ...h, close: async () => { await h.close(); restore(); } };
  } catch (err) {
    restore();
    throw err;
  }
}

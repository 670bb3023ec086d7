// Example workflows shrunk for the browser tests (fewer tokens and steps, so a run on the real
// default model takes a moment), and small page probes several tests share.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import type { Locator, Page } from "playwright-core";
import type { SavedDoc } from "./harness.js";

const WORKFLOWS = join(import.meta.dirname, "../../workflows");

export function example(name: string): SavedDoc & { ui?: unknown } {
  return JSON.parse(readFileSync(join(WORKFLOWS, `${name}.maskflow.json`), "utf8")) as SavedDoc;
}

/** hello with 16 tokens, one per step (16 steps, one block): every step's snapshot differs by one token. */
export function smallHello(name = "small hello"): SavedDoc {
  const doc = example("hello");
  doc.name = name;
  doc.nodes.denoise.inputs.gen_length = 16;
  doc.nodes.schedule.inputs.steps = 16;
  doc.nodes.schedule.inputs.block_length = 16;
  return doc;
}

/** edit with a 16-token draft. */
export function smallEdit(): SavedDoc {
  const doc = example("edit");
  doc.nodes.draft.inputs.gen_length = 16;
  doc.nodes.schedule.inputs.steps = 16;
  return doc;
}

/** What covers an element ([] when nothing): the points near its corners and centre should all hit it (or its children). */
export function obstructions(target: Locator): Promise<string[]> {
  return target.evaluate((el) => {
    const r = el.getBoundingClientRect();
    const points = [
      [r.left + 4, r.top + 4],
      [r.right - 4, r.bottom - 4],
      [(r.left + r.right) / 2, (r.top + r.bottom) / 2],
    ];
    return points.flatMap(([x, y]) => {
      const hit = document.elementFromPoint(x, y);
      return hit !== null && el.contains(hit) ? [] : [`(${Math.round(x)}, ${Math.round(y)}): ${hit ? `${hit.tagName} ${hit.className}` : "outside the window"}`];
    });
  });
}

/** The text of each token of a lane, by position. */
export function laneTokens(page: Page, lane: string): Promise<string[]> {
  return page
    .locator(`[data-testid="lane"][data-lane="${lane}"] [data-testid="tokens"] .tok`)
    .evaluateAll((els) => els.map((e) => (e.classList.contains("masked") ? "<mask>" : (e.textContent ?? ""))));
}

export interface RunRow {
  id: string;
  status: string;
  name: string | null;
}

export async function apiRuns(origin: string): Promise<RunRow[]> {
  return (await (await fetch(`${origin}/api/runs`)).json()) as RunRow[];
}

/** Cancels whatever is still queued or running, so one test's runs do not slow the next. */
export async function cancelAll(origin: string): Promise<void> {
  for (const run of await apiRuns(origin)) {
    if (run.status === "queued" || run.status === "running") await fetch(`${origin}/api/runs/${run.id}`, { method: "DELETE" });
  }
}

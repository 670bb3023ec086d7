import { resolveChromium } from "./chromium.js";

/**
 * Finds (or unpacks, the first time on a machine without Chromium) the browser once per test run,
 * before any browser test starts, so no test pays for the unpack and none races another for it.
 */
export default async function setup(): Promise<void> {
  const { path, source } = await resolveChromium();
  if (source === "npm") console.log(`browser tests: Chromium from @sparticuz/chromium (${path})`);
}

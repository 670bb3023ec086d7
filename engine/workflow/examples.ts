import { readdir, readFile } from "node:fs/promises";
import { join } from "node:path";
import { PACKAGE_ROOT } from "../paths.js";

const SUFFIX = ".maskflow.json";
const dir = (): string => join(PACKAGE_ROOT, "workflows");

/** The example workflows shipped in workflows/: name (file name without the suffix) and description. */
export async function listExampleWorkflows(): Promise<{ name: string; title: string; description: string }[]> {
  const files = (await readdir(dir())).filter((f) => f.endsWith(SUFFIX)).sort();
  return Promise.all(
    files.map(async (file) => {
      const doc = JSON.parse(await readFile(join(dir(), file), "utf8")) as { name?: string; description?: string };
      const name = file.slice(0, -SUFFIX.length);
      return { name, title: doc.name ?? name, description: doc.description ?? "" };
    }),
  );
}

/** The parsed JSON of one example, or null when there is none of that name. */
export async function readExampleWorkflow(name: string): Promise<unknown | null> {
  if (!/^[A-Za-z0-9_-]+$/.test(name)) return null;
  try {
    return JSON.parse(await readFile(join(dir(), name + SUFFIX), "utf8"));
  } catch {
    return null;
  }
}

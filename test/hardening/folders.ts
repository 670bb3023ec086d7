// Hostile model and adapter folders, made from the bundled ones: every file linked to the bundled
// copy (inside the bundled root, so a served instance may read it) except the ones a test replaces.
import { mkdirSync, readdirSync, readFileSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { DEFAULT_MODEL, ROMANCE } from "./served.js";

/** A model folder `root/name`: the bundled model's files, with `files` (name -> content) written instead. */
export function modelFolder(root: string, name: string, files: Record<string, string | Buffer> = {}): string {
  const dir = join(root, name);
  mkdirSync(dir, { recursive: true });
  for (const file of readdirSync(DEFAULT_MODEL)) {
    if (!(file in files)) symlinkSync(join(DEFAULT_MODEL, file), join(dir, file));
  }
  for (const [file, content] of Object.entries(files)) writeFileSync(join(dir, file), content);
  return dir;
}

/** An adapter folder `root/name`: the romance adapter's weights with this adapter_config.json. */
export function adapterFolder(root: string, name: string, config: Record<string, unknown>): string {
  const dir = join(root, name);
  mkdirSync(dir, { recursive: true });
  symlinkSync(join(ROMANCE, "adapter_model.safetensors"), join(dir, "adapter_model.safetensors"));
  const base = JSON.parse(readFileSync(join(ROMANCE, "adapter_config.json"), "utf8"));
  writeFileSync(join(dir, "adapter_config.json"), JSON.stringify({ ...base, ...config }));
  return dir;
}

/** The bundled tokenizer.json with one more added token of id `id`. */
export function tokenizerWithAddedId(id: number): string {
  const tok = JSON.parse(readFileSync(join(DEFAULT_MODEL, "tokenizer.json"), "utf8"));
  tok.added_tokens.push({ id, content: "<|hostile|>", single_word: false, lstrip: false, rstrip: false, normalized: false, special: true });
  return JSON.stringify(tok);
}

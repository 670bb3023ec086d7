// Fuzzed model folders: the bundled model's files (linked) with maskflow.json, tokenizer.json,
// tokenizer_config.json, config.json or model.onnx replaced by a mutated or broken one (ids
// outside the vocabulary, paths out of the folder, wrong types, not JSON, truncated or random
// graph bytes, a FIFO, a device, a folder where a file belongs) or missing.
import { execFileSync } from "node:child_process";
import { mkdirSync, readdirSync, readFileSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { Random } from "./random.js";

const MANIFEST_FIELDS: Record<string, unknown[]> = {
  format: [2, "1", null],
  family: ["", "dream", 7],
  mask_token_id: [5000, -1, "1", 1.5, 4095],
  eos_token_id: [4096, null, 3],
  vocab_size: [0, 1e9, 10, 4095, "4096"],
  max_length: [0, 1e9, 1, 8, -5],
  model: ["../../../etc/passwd", "nope.onnx", "", "tokenizer.json", "/etc/hostname"],
  weights: ["../x.json", "nope.json", "maskflow.json"],
  inputs: [{}, { input_ids: "nope" }, { input_ids: "input_ids", bogus_role: "x" }, "x"],
  outputs: [{}, { logits: "nope" }, { logits: "logits", head_top_ids: "nope" }],
  heads: ["top_k", [1, 2], null],
  head_top_k: [1e9, -1, 8],
  kv_cache: [{ layers: 0 }, "x", { layers: 2, heads: 2, head_dim: 8, layout: "x" }],
  shift_logits: ["yes", true, null],
};

type Edit = (rng: Random, files: Record<string, string | Buffer | "missing" | "fifo" | "folder" | "device">, base: Record<string, string>) => void;

const linux = process.platform === "linux";

const EDITS: Edit[] = [
  // maskflow.json, field by field
  (rng, files, base) => {
    const manifest = JSON.parse(base["maskflow.json"]) as Record<string, unknown>;
    for (let m = rng.int(1, 3); m > 0; m--) {
      const field = rng.pick(Object.keys(MANIFEST_FIELDS));
      if (rng.chance(0.15)) delete manifest[field];
      else manifest[field] = rng.pick(MANIFEST_FIELDS[field]);
    }
    files["maskflow.json"] = JSON.stringify(manifest);
  },
  (rng, files, base) => {
    const manifest = JSON.parse(base["maskflow.json"]) as Record<string, unknown>;
    manifest[rng.pick(Object.keys(MANIFEST_FIELDS))] = rng.pick(MANIFEST_FIELDS[rng.pick(Object.keys(MANIFEST_FIELDS))]);
    files["maskflow.json"] = JSON.stringify(manifest);
  },
  (rng, files) => {
    files["maskflow.json"] = rng.pick(["TOPSECRET not json", "[]", "", "null", "x".repeat(2 << 20)]);
  },
  // tokenizer.json
  (rng, files, base) => {
    const tok = JSON.parse(base["tokenizer.json"]);
    switch (rng.int(0, 7)) {
      case 0:
        tok.added_tokens.push({ id: rng.pick([1e9, -1, "x", 4096, 2 ** 40]), content: "<x>", special: true, single_word: false, lstrip: false, rstrip: false, normalized: false });
        break;
      case 1:
        tok.model.vocab[rng.pick(["zzz", "the"])] = rng.pick([1e9, -5, 4096, "7"]);
        break;
      case 2:
        tok.model.type = rng.pick(["Nope", "Unigram", null]);
        break;
      case 3:
        tok.added_tokens = rng.pick(["x", null, {}]);
        break;
      case 4:
        delete tok.model;
        break;
      case 5:
        tok.normalizer = rng.pick([{ type: "Nope" }, { type: "Replace", pattern: { Regex: "(.*)*Z" }, content: "" }, null]);
        break;
      case 6:
        tok.pre_tokenizer = { type: "Split", pattern: { Regex: "((" }, behavior: "Isolated", invert: false };
        break;
      default:
        for (let i = 0; i < 5000; i++) tok.model.vocab[`extra${i}`] = 4096 + i;
    }
    files["tokenizer.json"] = JSON.stringify(tok);
  },
  (rng, files, base) => {
    files["tokenizer.json"] = rng.pick(["TOPSECRET not json", "{}", "[]", base["tokenizer.json"].slice(0, 1000)]);
  },
  // tokenizer_config.json, config.json
  (rng, files) => {
    files["tokenizer_config.json"] = rng.pick(["[]", "not json", JSON.stringify({ chat_template: rng.pick([7, "{% if %}", "{{ messages[0].content }}", [{ name: "default", template: "{{ x" }]]) }), JSON.stringify({ bos_token: { nope: 1 } })]);
  },
  (rng, files) => {
    files["config.json"] = rng.pick(["[]", "not json", "7", JSON.stringify({ n_layers: "x" })]);
  },
  // model.onnx
  (rng, files, base) => {
    const graph = readFileSync(base["model.onnx"]);
    switch (rng.int(0, 5)) {
      case 0:
        files["model.onnx"] = graph.subarray(0, rng.int(0, 4000));
        break;
      case 1:
        files["model.onnx"] = Buffer.from(Array.from({ length: 2000 }, () => rng.int(0, 255)));
        break;
      case 2:
        files["model.onnx"] = "folder";
        break;
      case 3:
        files["model.onnx"] = linux ? "fifo" : "missing";
        break;
      case 4:
        files["model.onnx"] = linux ? "device" : "missing";
        break;
      default:
        files["model.onnx"] = Buffer.alloc(0);
    }
  },
  // a file missing
  (rng, files) => {
    files[rng.pick(["maskflow.json", "tokenizer.json", "model.onnx", "weights.json"])] = "missing";
  },
];

/** Writes `count` model folders under `root` from the bundled model in `defaultModel`; returns their names. */
export function generateModels(rng: Random, count: number, root: string, defaultModel: string): string[] {
  const base: Record<string, string> = {
    "maskflow.json": readFileSync(join(defaultModel, "maskflow.json"), "utf8"),
    "tokenizer.json": readFileSync(join(defaultModel, "tokenizer.json"), "utf8"),
    "model.onnx": join(defaultModel, "model.onnx"),
  };
  const names: string[] = [];
  for (let i = 0; i < count; i++) {
    const name = `model-${String(i).padStart(3, "0")}`;
    const dir = join(root, name);
    mkdirSync(dir, { recursive: true });
    const files: Parameters<Edit>[1] = {};
    // One in twenty unchanged: those must load and run.
    if (!rng.chance(0.04)) for (let e = rng.int(1, 3); e > 0; e--) rng.pick(EDITS)(rng, files, base);
    for (const file of readdirSync(defaultModel)) if (!(file in files)) symlinkSync(join(defaultModel, file), join(dir, file));
    for (const [file, content] of Object.entries(files)) {
      const path = join(dir, file);
      if (content === "missing") continue;
      else if (content === "folder") mkdirSync(path);
      else if (content === "fifo") execFileSync("mkfifo", [path]);
      else if (content === "device") symlinkSync("/dev/zero", path);
      else writeFileSync(path, content);
    }
    names.push(name);
  }
  return names;
}

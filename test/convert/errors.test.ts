// Bad checkpoints get a clear error naming the file (and the tensor), before anything is written,
// and a failed or interrupted conversion leaves no half-written model folder.
import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, readdirSync, rmSync, truncateSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { convertCheckpoint } from "../../engine/dllm/convert/index.js";
import { SafetensorsFile, encodeSafetensors } from "../../engine/dllm/lora/safetensors.js";
import { copyCheckpoint, tempDir } from "./helpers.js";

const tmp = tempDir();
afterAll(() => tmp.cleanup());
let n = 0;
const fresh = () => join(tmp.dir, `case-${n++}`);

/** Rewrites one shard with `edit` applied to its tensors (as bf16, like the originals). */
function rewriteShard(path: string, edit: (t: Record<string, { dtype: "BF16"; shape: number[]; data: Float32Array }>) => void, rawHeader?: (h: Record<string, unknown>) => void): void {
  const f = SafetensorsFile.open(path);
  const tensors: Record<string, { dtype: "BF16"; shape: number[]; data: Float32Array }> = {};
  for (const name of f.names()) tensors[name] = { dtype: "BF16", shape: f.entry(name).shape, data: f.readFloat32(name) };
  edit(tensors);
  let bytes = encodeSafetensors(tensors, { format: "pt" });
  if (rawHeader) {
    const len = Number(new DataView(bytes.buffer).getBigUint64(0, true));
    const header = JSON.parse(new TextDecoder().decode(bytes.subarray(8, 8 + len)));
    rawHeader(header);
    let js = JSON.stringify(header);
    js += " ".repeat((8 - (js.length % 8)) % 8);
    const enc = new TextEncoder().encode(js);
    const out = new Uint8Array(8 + enc.length + bytes.length - 8 - len);
    new DataView(out.buffer).setBigUint64(0, BigInt(enc.length), true);
    out.set(enc, 8);
    out.set(bytes.subarray(8 + len), 8 + enc.length);
    bytes = out;
  }
  writeFileSync(path, bytes);
}

async function failure(dir: string, opts: Partial<Parameters<typeof convertCheckpoint>[1]> = {}): Promise<string> {
  const out = fresh();
  const err = await convertCheckpoint(dir, { out, dtype: "fp32", ...opts }).then(
    () => null,
    (e: Error) => e,
  );
  expect(err, "the conversion should fail").not.toBeNull();
  expect(existsSync(out), "nothing is written at --out").toBe(false);
  expect(readdirSync(tmp.dir).filter((f) => f.includes(".partial-")), "no partial folder is left").toEqual([]);
  return err!.message;
}

describe("convert refuses bad checkpoints, naming the file and the tensor", () => {
  it("a missing shard", async () => {
    const dir = copyCheckpoint("llada", fresh());
    rmSync(join(dir, "model-00002-of-00003.safetensors"));
    const msg = await failure(dir);
    expect(msg).toContain("missing shard");
    expect(msg).toContain("model-00002-of-00003.safetensors");
    expect(msg).toMatch(/puts model\.transformer\.[\w.]+, /);
  });

  it("a tensor of the wrong shape", async () => {
    const dir = copyCheckpoint("dream", fresh());
    const shard = join(dir, "model-00001-of-00002.safetensors");
    rewriteShard(shard, (t) => {
      const k = t["model.layers.0.self_attn.k_proj.weight"];
      t["model.layers.0.self_attn.k_proj.weight"] = { dtype: "BF16", shape: [16, 64], data: k.data.subarray(0, 16 * 64) };
    });
    const msg = await failure(dir);
    expect(msg).toContain(shard);
    expect(msg).toContain('tensor "model.layers.0.self_attn.k_proj.weight" has shape [16, 64], but config.json implies [32, 64]');
  });

  it("a tensor of a dtype the converter does not read, and one safetensors does not know", async () => {
    const dir = copyCheckpoint("llada", fresh());
    const shard = join(dir, "model-00001-of-00003.safetensors");
    rewriteShard(shard, () => undefined, (h) => {
      (h["model.transformer.ln_f.weight"] as { dtype: string }).dtype = "I16";
    });
    expect(await failure(dir)).toContain(`${shard}: tensor "model.transformer.ln_f.weight" has dtype I16; the converter reads F32, F16 and BF16 weights`);
    const dir2 = copyCheckpoint("llada", fresh());
    const shard2 = join(dir2, "model-00001-of-00003.safetensors");
    rewriteShard(shard2, () => undefined, (h) => {
      (h["model.transformer.ln_f.weight"] as { dtype: string }).dtype = "Q4_K";
    });
    const msg = await failure(dir2);
    expect(msg).toContain(shard2);
    expect(msg).toContain('tensor "model.transformer.ln_f.weight" has unknown dtype "Q4_K"');
  });

  it("a truncated safetensors file", async () => {
    const dir = copyCheckpoint("dream", fresh());
    const shard = join(dir, "model-00002-of-00002.safetensors");
    truncateSync(shard, readFileSync(shard).byteLength - 1000);
    const msg = await failure(dir);
    expect(msg).toContain(shard);
    expect(msg).toMatch(/truncated/);
  });

  it("an architecture it does not convert: names what it found and what it supports", async () => {
    const dir = copyCheckpoint("dream", fresh());
    const cfg = JSON.parse(readFileSync(join(dir, "config.json"), "utf8"));
    writeFileSync(join(dir, "config.json"), JSON.stringify({ ...cfg, model_type: "llama", architectures: ["LlamaForCausalLM"] }));
    const msg = await failure(dir);
    expect(msg).toContain('model_type "llama", architectures ["LlamaForCausalLM"] is not an architecture Maskflow converts');
    expect(msg).toContain('model_type "llada"');
    expect(msg).toContain('model_type "Dream"');
  });

  it("a config value the graph does not build (LLaDA with biases)", async () => {
    const dir = copyCheckpoint("llada", fresh());
    const cfg = JSON.parse(readFileSync(join(dir, "config.json"), "utf8"));
    writeFileSync(join(dir, "config.json"), JSON.stringify({ ...cfg, include_bias: true }));
    expect(await failure(dir)).toContain('"include_bias" is true; Maskflow converts LLaDA checkpoints with include_bias false');
  });

  it("no config.json, no weights, no tokenizer", async () => {
    const dir = copyCheckpoint("llada", fresh());
    rmSync(join(dir, "tokenizer.json"));
    expect(await failure(dir)).toContain("has no tokenizer: it needs tokenizer.json, or vocab.json and merges.txt");
    rmSync(join(dir, "config.json"));
    expect(await failure(dir)).toContain("config.json is missing");
    const empty = fresh();
    mkdirSync(empty);
    writeFileSync(join(empty, "config.json"), "{}");
    writeFileSync(join(empty, "pytorch_model.bin"), "");
    expect(await failure(empty)).toContain("has no *.safetensors weights (it has pytorch_model.bin: PyTorch pickles are not read");
  });

  it("an interrupted conversion writes nothing", async () => {
    const controller = new AbortController();
    let calls = 0;
    const msg = await failure(copyCheckpoint("llada", fresh()), {
      signal: controller.signal,
      onProgress: () => {
        if (++calls === 5) controller.abort();
      },
    });
    expect(msg).toMatch(/abort/i);
  });

  it("refuses to overwrite an existing folder unless forced", async () => {
    const out = fresh();
    mkdirSync(out);
    writeFileSync(join(out, "keep.txt"), "mine");
    const err = await convertCheckpoint(copyCheckpoint("dream", fresh()), { out, dtype: "int4" }).catch((e: Error) => e);
    expect((err as Error).message).toContain("already exists (pass --force to replace it)");
    expect(readFileSync(join(out, "keep.txt"), "utf8")).toBe("mine");
  });
});

// Needs a small file system of its own: a 1 MB tmpfs, which only root can mount.
const canMount = process.getuid?.() === 0 && (() => {
  try {
    execFileSync("mount", ["--version"], { stdio: "ignore" });
    return true;
  } catch {
    return false;
  }
})();

describe.skipIf(!canMount)("not enough disk space", () => {
  it("is said before anything is written, with what is needed and what is free", async () => {
    const mnt = join(tmp.dir, "small-disk");
    mkdirSync(mnt);
    execFileSync("mount", ["-t", "tmpfs", "-o", "size=1m", "tmpfs", mnt]);
    try {
      const err = await convertCheckpoint(copyCheckpoint("llada", fresh()), { out: join(mnt, "model"), dtype: "fp32" }).catch((e: Error) => e);
      expect((err as Error).message).toMatch(/^not enough disk space at .*small-disk: the fp32 model needs about [\d.]+ MiB, [\d.]+ (KiB|MiB) is free$/);
      expect(readdirSync(mnt)).toEqual([]);
    } finally {
      execFileSync("umount", [mnt]);
    }
  });
});

describe("values that are not numbers", () => {
  it("a NaN anywhere in a bf16 tensor stops the conversion, naming the file and tensor", async () => {
    const dir = copyCheckpoint("llada", fresh());
    const shard = join(dir, "model-00002-of-00003.safetensors");
    rewriteShard(shard, (t) => {
      const name = Object.keys(t).find((n) => n.endsWith("blocks.0.v_proj.weight"))!;
      t[name].data[1234] = NaN;
    });
    const msg = await failure(dir, { dtype: "fp16" });
    expect(msg).toContain(`${shard}: tensor "model.transformer.blocks.0.v_proj.weight" holds NaN or infinite values`);
  });
});

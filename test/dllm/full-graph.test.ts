// A model exported with `export.py --graph full` (graph.py: KV-cache inputs and sampling heads)
// loads, gets neutral values for its extra inputs, and serves rows through its in-graph head.
// Needs torch to export, so it runs where /usr/bin/python3 has it and is skipped elsewhere (CI).
import { spawnSync } from "node:child_process";
import { copyFileSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { DllmModel } from "../../engine/dllm/index.js";
import { MODEL_DIR, ROOT } from "./fixtures.js";

const hasTorch = spawnSync("/usr/bin/python3", ["-c", "import torch, onnx"], { encoding: "utf8" }).status === 0;
const dir = mkdtempSync(join(tmpdir(), "maskflow-full-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe.skipIf(!hasTorch)("full graph export", () => {
  it("loads and returns the same rows through `decide`/`head_logits` as through `logits`", async () => {
    // Re-export the default model's own weights (export.py reads a checkpoint; build one from the ONNX).
    const py = `
import sys, torch
sys.path.insert(0, "models/reference"); sys.path.insert(0, "models/train")
from pathlib import Path
from onnx_weights import load_model
import export
m, _ = load_model(Path(${JSON.stringify(MODEL_DIR)}))
export.export(m, Path(${JSON.stringify(dir)}), {}, "full")
import onnx
g = onnx.load(${JSON.stringify(join(dir, "model.onnx"))}, load_external_data=False).graph
inits = {i.name for i in g.initializer}
print("weight transposes:", sum(1 for n in g.node if n.op_type == "Transpose" and n.input[0] in inits))
`;
    const r = spawnSync("/usr/bin/python3", ["-c", py], { cwd: ROOT, encoding: "utf8", timeout: 120_000 });
    expect(r.status, r.stderr).toBe(0);
    // weights are stored as the graph multiplies them: no Transpose for onnxruntime to fold at every load
    expect(r.stdout).toContain("weight transposes: 0");
    const manifest = JSON.parse(readFileSync(join(dir, "weights.json"), "utf8")) as { weights: { name: string; layout: string }[] };
    expect(manifest.weights.filter((w) => w.name.endsWith("q_proj.weight")).map((w) => w.layout)).toEqual(Array(6).fill("in_out"));
    copyFileSync(join(MODEL_DIR, "tokenizer.json"), join(dir, "tokenizer.json"));
    const full = await DllmModel.load(dir);
    const bundled = await DllmModel.load(MODEL_DIR);
    try {
      // the same weights give the same logits as the bundled export
      const probe = full.tokenizer.encode("She smiled and said");
      const a = await full.forward(probe, 1, probe.length);
      const b = await bundled.forward(probe, 1, probe.length);
      let worst = 0;
      for (let i = 0; i < a.length; i++) worst = Math.max(worst, Math.abs(a[i] - b[i]));
      expect(worst).toBeLessThan(1e-4);
      expect(full.graph.inputNames.length).toBeGreaterThan(1);
      const ids = full.tokenizer.encode("The man opened the door and looked");
      const S = ids.length;
      const V = full.manifest.vocab_size;
      const rows = await full.forward([...ids, ...ids], 2, S, [2, S - 1]);
      const all = await full.forward([...ids, ...ids], 2, S);
      expect(rows.length).toBe(2 * 2 * V);
      for (const [b, r, row] of [[0, 0, 2], [1, 1, S - 1]]) {
        expect(rows.subarray((b * 2 + r) * V, (b * 2 + r + 1) * V)).toEqual(all.subarray((b * S + row) * V, (b * S + row + 1) * V));
      }
    } finally {
      await bundled.dispose();
      await full.dispose();
    }
  });
});

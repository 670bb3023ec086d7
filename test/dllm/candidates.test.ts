// Denoise's recorded candidates (the inspector's data): at a step, for every masked position of
// the block, the top-k ids with their probabilities and the entropy equal what the model gives for
// that canvas computed independently (one plain forward over the canvas as it stood before the
// step, softmax in float64), through the sampling head (greedy) and through the logits rows
// (sampled, where the head is not used).
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { convertCheckpoint } from "../../engine/dllm/convert/index.js";
import { DllmModel } from "../../engine/dllm/runtime/model.js";
import { Executor, NodeRegistry, type RunEvent } from "../../engine/index.js";
import type { CanvasSnapshot } from "../../engine/types.js";
import { builtinNodes } from "../../nodes/index.js";
import { FIXTURES } from "../convert/helpers.js";

const PROMPT = "The man opened the door and";
const executor = new Executor(new NodeRegistry(builtinNodes));
let model: DllmModel;
beforeAll(async () => {
  model = await DllmModel.load("models/default", { threads: 1 });
});
afterAll(async () => {
  await model?.dispose();
  executor.clearCache();
});

function workflow(denoise: Record<string, unknown>) {
  return {
    version: 1,
    nodes: {
      model: { type: "LoadModel", inputs: { path: "models/default", threads: 1 } },
      schedule: { type: "MaskSchedule", inputs: { kind: "linear", steps: 8, block_length: 8 } },
      denoise: { type: "Denoise", inputs: { model: { from: "model", output: "model" }, schedule: { from: "schedule", output: "schedule" }, prompt: PROMPT, gen_length: 16, seed: 4, ...denoise } },
      show: { type: "ShowText", inputs: { value: { from: "denoise", output: "canvas" } } },
    },
  } as never;
}

async function snapshots(denoise: Record<string, unknown>): Promise<CanvasSnapshot[]> {
  const events: RunEvent[] = [];
  const r = await executor.run(workflow(denoise), { onEvent: (e) => events.push(e) });
  expect(r.status, JSON.stringify(r.error)).toBe("finished");
  return events.flatMap((e) => (e.type === "progress" && e.nodeId === "denoise" && e.canvas ? [e.canvas] : []));
}

/** The model's top k and entropy at the step after `before`, by a plain forward over that canvas. */
async function independent(before: CanvasSnapshot, positions: number[], k: number) {
  const prompt = model.tokenizer.encode(PROMPT);
  const mask = model.manifest.mask_token_id;
  const ids = [...prompt, ...before.tokens.map((t, i) => (before.pieces[i] === null ? mask : t))];
  const logits = await model.forward(ids, 1, ids.length, positions.map((p) => p + prompt.length));
  const V = model.manifest.vocab_size;
  return positions.map((_, r) => {
    const row = Array.from(logits.subarray(r * V, (r + 1) * V));
    const max = Math.max(...row);
    const e = row.map((l) => Math.exp(l - max));
    const sum = e.reduce((a, b) => a + b, 0);
    const p = e.map((x) => x / sum);
    const order = [...p.keys()].sort((a, b) => p[b] - p[a]).slice(0, k);
    return { ids: order, probs: order.map((i) => p[i]), entropy: -p.reduce((h, x) => (x > 0 ? h + x * Math.log(x) : h), 0) };
  });
}

describe("Denoise's candidates", () => {
  for (const [name, settings] of [
    ["through the sampling head (greedy, low confidence)", { temperature: 0 }],
    ["through the logits rows (sampled at temperature 0.7: the head is not used)", { temperature: 0.7 }],
  ] as const) {
    it(`${name}: the top 5 and the entropy of every masked position of the block equal an independent forward's`, async () => {
      const snaps = await snapshots({ ...settings, candidates: 5 });
      expect(snaps).toHaveLength(8);
      const step3 = snaps[2];
      const before = snaps[1];
      // the positions looked at: the first block's (0..7) still masked after step 2
      const masked = before.pieces.flatMap((p, i) => (p === null && i < 8 ? [i] : []));
      expect(step3.candidates!.map((c) => c.position)).toEqual(masked);
      const ref = await independent(before, masked, 5);
      step3.candidates!.forEach((c, i) => {
        expect(c.ids).toEqual(ref[i].ids);
        expect(c.pieces).toEqual(c.ids.map((t) => model.tokenizer.piece(t)));
        c.probs.forEach((p, j) => expect(Math.abs(p - ref[i].probs[j])).toBeLessThan(1e-4));
        expect(Math.abs(c.entropy! - ref[i].entropy)).toBeLessThan(1e-3);
      });
      // what was committed at step 3 is among what it offered
      for (const pos of step3.changed) expect(step3.candidates!.find((c) => c.position === pos)!.ids).toContain(step3.tokens[pos]);
      // the second block's steps look at the second block
      expect(snaps[5].candidates!.every((c) => c.position >= 8)).toBe(true);
    });
  }

  it("records nothing with candidates 0, and the text does not depend on recording", async () => {
    const off = await snapshots({ temperature: 0.7, candidates: 0 });
    expect(off.every((s) => s.candidates === undefined)).toBe(true);
    const on = await snapshots({ temperature: 0.7, candidates: 3 });
    expect(on.at(-1)!.tokens).toEqual(off.at(-1)!.tokens);
    expect(on[0].candidates![0].ids).toHaveLength(3);
  });
});

describe("Denoise's candidates on block-causal models (converted tiny LLaDA2 and Fast-dLLM v2)", () => {
  const tmp = mkdtempSync(join(tmpdir(), "maskflow-cand-"));
  afterAll(() => rmSync(tmp, { recursive: true, force: true }));
  for (const family of ["llada2", "fast-dllm-v2"] as const) {
    it(`${family}: each step offers the block's open positions, and the greedy commit is each one's first candidate`, async () => {
      const dir = (await convertCheckpoint(join(FIXTURES, `${family}-tiny`), { out: join(tmp, family), dtype: "fp32" })).dir;
      const events: RunEvent[] = [];
      const doc = {
        version: 1,
        nodes: {
          model: { type: "LoadModel", inputs: { path: dir, threads: 1 } },
          denoise: { type: "Denoise", inputs: { model: { from: "model", output: "model" }, prompt: "hello there", gen_length: 12, candidates: 4 } },
          show: { type: "ShowText", inputs: { value: { from: "denoise", output: "canvas" } } },
        },
      } as never;
      const r = await executor.run(doc, { onEvent: (e) => events.push(e) });
      expect(r.status, JSON.stringify(r.error)).toBe("finished");
      const snaps = events.flatMap((e) => (e.type === "progress" && e.nodeId === "denoise" && e.canvas ? [e.canvas] : []));
      const looked = snaps.filter((s) => s.candidates?.length);
      expect(looked.length).toBeGreaterThan(0);
      let prev: CanvasSnapshot | null = null;
      for (const s of snaps) {
        if (s.candidates) {
          // what it looked at was open before the step
          for (const c of s.candidates) if (prev) expect(prev.pieces[c.position], `position ${c.position}`).toBeNull();
          for (const c of s.candidates) {
            expect(c.ids).toHaveLength(4);
            expect([...c.probs].sort((a, b) => b - a)).toEqual(c.probs);
            expect(c.entropy).toBeGreaterThan(0);
          }
          for (const pos of s.changed) {
            const c = s.candidates.find((k) => k.position === pos)!;
            expect(s.tokens[pos]).toBe(c.ids[0]);
            expect(Math.abs(s.confidence[pos] - c.probs[0])).toBeLessThan(1e-5);
          }
        }
        prev = s;
      }
    });
  }
});

describe("Beam's candidates", () => {
  it("every beam lane carries what its parent was offered: each committed token is among the candidates at its position", async () => {
    const events: RunEvent[] = [];
    const doc = {
      version: 1,
      nodes: {
        model: { type: "LoadModel", inputs: { path: "models/default", threads: 1 } },
        schedule: { type: "MaskSchedule", inputs: { kind: "linear", steps: 8, block_length: 8 } },
        beam: { type: "Beam", inputs: { model: { from: "model", output: "model" }, schedule: { from: "schedule", output: "schedule" }, prompt: PROMPT, gen_length: 16, width: 2, candidates: 5 } },
        show: { type: "ShowText", inputs: { value: { from: "beam", output: "best" } } },
      },
    } as never;
    const r = await executor.run(doc, { onEvent: (e) => events.push(e) });
    expect(r.status, JSON.stringify(r.error)).toBe("finished");
    const snaps = events.flatMap((e) => (e.type === "progress" && e.nodeId === "beam" && e.canvas?.candidates ? [e.canvas] : []));
    expect(new Set(snaps.map((s) => s.beam))).toEqual(new Set([0, 1]));
    let checked = 0;
    for (const s of snaps) {
      for (const pos of s.changed) {
        const c = s.candidates!.find((k) => k.position === pos);
        expect(c, `beam ${s.beam} step ${s.step} position ${pos}`).toBeDefined();
        expect(c!.ids).toContain(s.tokens[pos]);
        expect(c!.entropy).toBeGreaterThan(0);
        checked++;
      }
    }
    expect(checked).toBeGreaterThan(16);
  });
});

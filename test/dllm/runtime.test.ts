// The ONNX worker keeps the event loop free; the sampler batches CFG, reports steps, and cancels.
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createCanvas } from "../../engine/dllm/canvas.js";
import { DllmModel, type LogitsModel } from "../../engine/dllm/runtime/model.js";
import { generate, type SamplerOptions } from "../../engine/dllm/samplers/index.js";
import { MODEL_DIR, ROOT } from "./fixtures.js";

let model: DllmModel;
beforeAll(async () => {
  model = await DllmModel.load(MODEL_DIR, { threads: 1 });
});
afterAll(() => model?.dispose());

const greedy = (steps: number, extra: Partial<SamplerOptions> = {}): SamplerOptions => ({
  schedule: { kind: "linear", steps, blockLength: 0 },
  temperature: 0,
  remasking: "low_confidence",
  cfgScale: 0,
  seed: 0,
  ...extra,
});

/** Records every forward the sampler asks for, then passes it to the real model. */
function recording(inner: LogitsModel) {
  const calls: { batch: number; seq: number; rows: number; ids: number[] }[] = [];
  const wrapped: LogitsModel = {
    manifest: inner.manifest,
    forward: (ids, batch, seq, rows) => {
      calls.push({ batch, seq, rows: rows?.length ?? seq, ids: [...ids] });
      return inner.forward(ids, batch, seq, rows);
    },
  };
  return { wrapped, calls };
}

describe("runtime", () => {
  it("a forward does not block the event loop", async () => {
    const ids = Array.from({ length: 4 * 256 }, (_, i) => 3 + (i % 1000));
    let ticks = 0;
    const timer = setInterval(() => ticks++, 2);
    const started = performance.now();
    let forwards = 0;
    while (performance.now() - started < 300) {
      await model.forward(ids, 4, 256);
      forwards++;
    }
    clearInterval(timer);
    // Had the forwards blocked, the timer could only fire between them.
    // (No wall-clock bound: under a loaded CI machine timers fire late, but never only between forwards.)
    expect(ticks).toBeGreaterThan(forwards * 2);
  });

  it("returns only the requested rows, identical to the full logits", async () => {
    const ids = model.tokenizer.encode("The man opened the door and looked");
    const S = ids.length;
    const V = model.manifest.vocab_size;
    const full = await model.forward(ids, 1, S);
    const some = await model.forward(ids, 1, S, [S - 1, 2]);
    expect(full.length).toBe(S * V);
    expect(some.length).toBe(2 * V);
    expect(some.subarray(0, V)).toEqual(full.subarray((S - 1) * V, S * V));
    expect(some.subarray(V, 2 * V)).toEqual(full.subarray(2 * V, 3 * V));
    await expect(model.forward([0, 1, 99999], 1, 3)).rejects.toThrow(/outside the vocabulary/);
  });

  it("withOnnxBytes builds a second session from bytes with the same manifest and tokenizer", async () => {
    const bytes = new Uint8Array(readFileSync(join(MODEL_DIR, "model.onnx")));
    const copy = await model.withOnnxBytes(bytes, "same-weights");
    try {
      expect(copy.key).toBe(`${model.key}+same-weights`);
      expect(copy.tokenizer).toBe(model.tokenizer);
      expect(bytes.byteLength).toBe(0); // transferred, not copied
      const ids = model.tokenizer.encode("It was a long time");
      expect(await copy.forward(ids, 1, ids.length)).toEqual(await model.forward(ids, 1, ids.length));
    } finally {
      await copy.dispose();
    }
    await expect(copy.forward([3], 1, 1)).rejects.toThrow(/disposed/);
  });

  it("CFG runs the conditional and unconditional rows as one batch of 2, prompt masked in the second", async () => {
    const { wrapped, calls } = recording(model);
    const prompt = model.tokenizer.encode("She said that");
    await generate(wrapped, createCanvas(prompt, 8, 1), greedy(4, { cfgScale: 1.5 }));
    expect(calls.length).toBe(4);
    const P = prompt.length;
    for (const c of calls) {
      expect(c.batch).toBe(2);
      const S = c.seq;
      const cond = c.ids.slice(0, S);
      const uncond = c.ids.slice(S);
      expect(cond.slice(0, P)).toEqual(prompt);
      expect(uncond.slice(0, P)).toEqual(Array(P).fill(1));
      expect(uncond.slice(P)).toEqual(cond.slice(P)); // generated tokens are kept in both rows
      expect(c.rows).toBeLessThan(S); // only the undecided rows come back
    }
    // And the batched rows are the same logits as two separate forwards.
    const last = calls[calls.length - 1];
    const both = await model.forward(last.ids, 2, last.seq);
    const second = await model.forward(last.ids.slice(last.seq), 1, last.seq);
    const V = model.manifest.vocab_size;
    const a = both.subarray(last.seq * V);
    for (let i = 0; i < a.length; i += 997) expect(a[i]).toBeCloseTo(second[i], 4);
  });

  it("reports every step with the committed positions and stops on abort", async () => {
    const prompt = model.tokenizer.encode("In the morning");
    const seen: { step: number; total: number; changed: number[] }[] = [];
    const out = await generate(model, createCanvas(prompt, 12, 1), greedy(6), {
      onStep: ({ step, total, changed }) => seen.push({ step, total, changed }),
      decoder: model.tokenizer,
    });
    expect(seen.map((s) => s.step)).toEqual([1, 2, 3, 4, 5, 6]);
    expect(seen.every((s) => s.total === 6 && s.changed.length === 2)).toBe(true);
    expect(out.finished).toBe(true);
    expect(out.trace.length).toBe(6);
    expect(out.committedAt.every((s) => s >= 0 && s < 6)).toBe(true);

    const ctl = new AbortController();
    let steps = 0;
    const run = generate(model, createCanvas(prompt, 12, 1), greedy(6), {
      signal: ctl.signal,
      onStep: () => {
        if (++steps === 2) ctl.abort();
      },
    });
    await expect(run).rejects.toMatchObject({ name: "AbortError" });
    expect(steps).toBe(2);
  });

  it("abort during a forward rejects without waiting for it", async () => {
    const ctl = new AbortController();
    const run = generate(model, createCanvas([], 200, 1), greedy(200), { signal: ctl.signal });
    setTimeout(() => ctl.abort(), 5);
    await expect(run).rejects.toMatchObject({ name: "AbortError" });
  });

  it("continues from a canvas: committed and fixed tokens stay, steps count on", async () => {
    const prompt = model.tokenizer.encode("The church stood");
    const first = await generate(model, createCanvas(prompt, 8, 1), greedy(2));
    // Remask half of it, fix one position to a chosen word (what a remask/infill node does).
    const start = { ...first, tokens: first.tokens.map((t, i) => (i % 2 ? 1 : t)), fixed: first.fixed.map((_, i) => i === 7) };
    start.tokens[7] = model.tokenizer.encode(" end")[0];
    const second = await generate(model, start, greedy(4), { decoder: model.tokenizer });
    expect(second.finished).toBe(true);
    start.tokens.forEach((t, i) => t !== 1 && expect(second.tokens[i]).toBe(t));
    expect(second.trace.map((t) => t.step)).toEqual([0, 1, 2, 3, 4, 5]);
    expect(second.trace.slice(2).flatMap((t) => t.positions).sort()).toEqual([1, 3, 5]);
    expect(start.tokens.filter((t) => t === 1).length).toBe(3); // the input canvas is not modified
  });

  // A prewarmed worker is taken by the next load; an unused one, like an idle model, must not
  // keep the process alive.
  for (const [name, body] of [
    ["an idle loaded model does not keep the process alive", ""],
    ["a prewarmed worker serves the next load", "prewarmWorker();"],
    ["an unused prewarmed worker does not keep the process alive", "prewarmWorker(); prewarmWorker();"],
  ] as const) {
    it(name, () => {
      const dir = mkdtempSync(join(tmpdir(), "maskflow-exit-"));
      const script = join(dir, "load.mts");
      const load = !name.includes("unused");
      writeFileSync(
        script,
        `import { DllmModel, prewarmWorker } from ${JSON.stringify(join(ROOT, "engine/dllm/runtime/model.ts"))};
        ${body}
        if (${load}) {
          const m = await DllmModel.load(${JSON.stringify(MODEL_DIR)});
          const ids = m.tokenizer.encode("Hello there");
          await m.forward(ids, 1, ids.length);
        }
        console.log("done");`,
      );
      try {
        const r = spawnSync(process.execPath, ["--import", "tsx", script], { cwd: ROOT, timeout: 30_000, encoding: "utf8" });
        expect(r.stdout.trim(), r.stderr).toBe("done");
        expect(r.status).toBe(0);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    });
  }
});

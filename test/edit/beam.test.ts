// Beam search over denoising trajectories: width 1 is greedy low_confidence decoding exactly,
// wider beams never score below it, beams are distinct and ranked, fixed tokens survive, and
// each step is one batched forward (B = beams).
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createCanvas, generate, type DllmModel, type Schedule } from "../../engine/dllm/index.js";
import { beamSearch } from "../../engine/dllm/samplers/beam.js";
import { infillCanvas } from "../../engine/dllm/samplers/infill.js";
import { PROMPTS, RecordingModel, loadModel, logitsOnly } from "./helpers.js";

const MASK = 1;

describe("Beam with the default model", () => {
  let model: DllmModel;
  beforeAll(async () => {
    model = await loadModel();
  });
  afterAll(() => model?.dispose());

  const cases: [string, number, Schedule][] = [
    ["one token per step", 16, { kind: "linear", steps: 16, blockLength: 0 }],
    ["two tokens per step in blocks of 8", 16, { kind: "linear", steps: 8, blockLength: 8 }],
    ["cosine schedule", 16, { kind: "cosine", steps: 6, blockLength: 0 }],
  ];

  for (const [name, G, schedule] of cases) {
    it(`width 1 equals greedy low_confidence decoding (${name}; with the in-graph head and with logits rows)`, async () => {
      for (const [prompt, m] of [
        [PROMPTS[0], model],
        [PROMPTS[1], model],
        [PROMPTS[0], logitsOnly(model)],
        [PROMPTS[2], logitsOnly(model)],
      ] as const) {
        const start = createCanvas(model.tokenizer.encode(prompt), G, MASK);
        const greedy = await generate(m, start, { schedule, temperature: 0, remasking: "low_confidence", cfgScale: 0, seed: 0 });
        const [beam] = await beamSearch(m, start, { schedule, width: 1 });
        expect(beam.tokens).toEqual(greedy.tokens);
        expect(beam.trace.map((s) => [s.step, s.positions, s.tokens])).toEqual(greedy.trace.map((s) => [s.step, s.positions, s.tokens]));
        expect(beam.confidence).toEqual(greedy.confidence);
        // Its score is the sum of log p of what it committed.
        const sum = beam.trace.flatMap((s) => s.confidence).reduce((a, p) => a + Math.log(p), 0);
        expect(beam.score).toBeCloseTo(sum, 5);
        expect(beam.greedy).toBe(true);
      }
    });
  }

  it("with CFG, width 1 equals greedy decoding with the same CFG (head and logits rows), and CFG changes the text", async () => {
    const schedule: Schedule = { kind: "linear", steps: 8, blockLength: 8 };
    for (const [prompt, m] of [
      [PROMPTS[0], model],
      [PROMPTS[1], logitsOnly(model)],
    ] as const) {
      const start = createCanvas(model.tokenizer.encode(prompt), 16, MASK);
      const greedy = await generate(m, start, { schedule, temperature: 0, remasking: "low_confidence", cfgScale: 1.5, seed: 0 });
      const [beam] = await beamSearch(m, start, { schedule, width: 1, cfgScale: 1.5 });
      expect(beam.tokens).toEqual(greedy.tokens);
      expect(beam.trace.map((s) => [s.step, s.positions, s.tokens])).toEqual(greedy.trace.map((s) => [s.step, s.positions, s.tokens]));
      const [plain] = await beamSearch(m, start, { schedule, width: 1 });
      expect(plain.tokens).not.toEqual(beam.tokens);
      const wide = await beamSearch(m, start, { schedule, width: 3, cfgScale: 1.5 });
      expect(wide[0].score).toBeGreaterThanOrEqual(beam.score - 1e-9);
    }
    await expect(beamSearch(model, createCanvas([5, 6], 4, MASK), { schedule, width: 2, cfgScale: -1 })).rejects.toThrow(/cfg_scale/);
  });

  it("wider beams never score below width 1, are distinct, ranked, and batch their forwards", async () => {
    const schedule: Schedule = { kind: "linear", steps: 12, blockLength: 0 };
    for (const prompt of PROMPTS) {
      const start = createCanvas(model.tokenizer.encode(prompt), 12, MASK);
      const [one] = await beamSearch(model, start, { schedule, width: 1 });
      for (const width of [2, 4]) {
        const rec = new RecordingModel(model);
        const beams = await beamSearch(rec, start, { schedule, width });
        expect(beams.length).toBeLessThanOrEqual(width);
        expect(beams[0].score, `${prompt}, width ${width}`).toBeGreaterThanOrEqual(one.score - 1e-9);
        expect(beams.every((b, i) => i === 0 || b.score <= beams[i - 1].score)).toBe(true);
        expect(new Set(beams.map((b) => b.tokens.join(","))).size).toBe(beams.length);
        expect(beams.every((b) => b.finished)).toBe(true);
        // The greedy trajectory is one of them.
        expect(beams.some((b) => b.tokens.join(",") === one.tokens.join(","))).toBe(true);
        // One forward per step, the beams as one batch (through the in-graph head: no logits rows).
        expect(rec.calls).toHaveLength(12);
        expect(rec.calls.every((c) => c.want === "top")).toBe(true);
        expect(rec.calls[0].batch).toBe(1);
        expect(Math.max(...rec.calls.map((c) => c.batch))).toBe(width);
        // Each beam's score is the sum of log p of its own commits.
        for (const b of beams) {
          const sum = b.trace.flatMap((s) => s.confidence).reduce((a, p) => a + Math.log(p), 0);
          expect(b.score).toBeCloseTo(sum, 5);
        }
        // The reference path (full logits rows) finds the same best score, up to float32 rounding.
        const [viaRows] = await beamSearch(logitsOnly(model), start, { schedule, width });
        expect(viaRows.score).toBeCloseTo(beams[0].score, 3);
      }
    }
  });

  it("keeps fixed tokens (beam over an infill template)", async () => {
    const tok = model.tokenizer;
    const start = infillCanvas([], "The [MASK:4] said that [MASK:5].", tok, MASK);
    const beams = await beamSearch(model, start, { schedule: { kind: "linear", steps: 9, blockLength: 0 }, width: 3 }, { decoder: tok });
    for (const b of beams) {
      start.tokens.forEach((t, g) => {
        if (start.fixed[g]) expect(b.tokens[g]).toBe(t);
      });
      expect(b.finished).toBe(true);
      // (b.text stops at a first EOS, which the model may put in a hole: read the tokens instead.)
      const text = tok.decode(b.tokens.filter((t) => t !== model.manifest.eos_token_id));
      expect(text.startsWith("The")).toBe(true);
      expect(text).toContain(" said that");
    }
  });

  it("reports every step with every beam and stops when cancelled", async () => {
    const start = createCanvas(model.tokenizer.encode(PROMPTS[0]), 8, MASK);
    const seen: number[] = [];
    await beamSearch(model, start, { schedule: { kind: "linear", steps: 8, blockLength: 0 }, width: 2 }, { onStep: ({ step, beams }) => seen.push(step * 10 + beams.length) });
    expect(seen.map((s) => Math.floor(s / 10))).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
    const ac = new AbortController();
    const run = beamSearch(model, start, { schedule: { kind: "linear", steps: 8, blockLength: 0 }, width: 2 }, { signal: ac.signal, onStep: ({ step }) => step === 2 && ac.abort() });
    await expect(run).rejects.toMatchObject({ name: "AbortError" });
  });
});

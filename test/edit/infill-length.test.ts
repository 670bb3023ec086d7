// Infill templates (fixed text never changes, holes filled with context on both sides) and
// variable length (EOS stop, auto length), with the real model.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createCanvas, generate, type DllmModel, type SamplerOptions } from "../../engine/dllm/index.js";
import { EOS_STOP_NOTE, generateExtended } from "../../engine/dllm/samplers/extended.js";
import { holeRanges, infillCanvas, parseTemplate } from "../../engine/dllm/samplers/infill.js";
import { eosConfidence, generateAutoLength, initialLength, scaledSchedule } from "../../engine/dllm/samplers/length.js";
import { PROMPTS, RecordingModel, loadModel } from "./helpers.js";

const MASK = 1;
const EOS = 2;

describe("infill templates", () => {
  it("parses holes and fixed text", () => {
    expect(parseTemplate("The [MASK:6] said that [MASK:10].")).toEqual([{ text: "The " }, { hole: 6 }, { text: " said that " }, { hole: 10 }, { text: "." }]);
    expect(parseTemplate("[MASK]x[MASK:2]")).toEqual([{ hole: 1 }, { text: "x" }, { hole: 2 }]);
    expect(parseTemplate("a [mask:3] [MASK:2]")).toEqual([{ text: "a [mask:3] " }, { hole: 2 }]);
    expect(() => parseTemplate("no holes here")).toThrow(/no hole/);
    expect(() => parseTemplate("bad [MASK:0]")).toThrow(/1\.\.1024/);
  });

  it("builds a canvas: fixed text tokens, masked holes, the space before a hole left to the hole", () => {
    const tok = { encode: (s: string) => [...s].map((ch) => ch.charCodeAt(0)) };
    const c = infillCanvas([7], "ab [MASK:2] c.", tok, MASK);
    expect(c.promptIds).toEqual([7]);
    expect(c.tokens).toEqual([97, 98, MASK, MASK, 32, 99, 46]);
    expect(c.fixed).toEqual([true, true, false, false, true, true, true]);
    expect(holeRanges(c)).toEqual([[2, 4]]);
  });
});

describe("infill and variable length with the default model", () => {
  let model: DllmModel;
  beforeAll(async () => {
    model = await loadModel();
  });
  afterAll(() => model?.dispose());

  const opts = (steps: number, temperature = 0.7, seed = 1, blockLength = 0): SamplerOptions => ({
    schedule: { kind: "linear", steps, blockLength },
    temperature,
    remasking: "low_confidence",
    cfgScale: 0,
    seed,
  });

  it("fills the holes and never changes the fixed text (plain, blocks, ReMDM, EOS stop)", async () => {
    const tok = model.tokenizer;
    const start = infillCanvas([], "The [MASK:6] said that [MASK:10].", tok, MASK);
    expect(start.tokens.filter((t) => t === MASK)).toHaveLength(16);
    const runs = [
      await generate(model, start, opts(16), { decoder: tok }),
      await generate(model, start, opts(8, 0, 0, 8), { decoder: tok }),
      await generateExtended(model, start, opts(24, 0.9, 3), { remdm: { strategy: "rescale", eta: 0.3 } }, { decoder: tok }),
      await generateExtended(model, start, opts(16, 0.5, 4), { eosStop: true }, { decoder: tok }),
    ];
    for (const out of runs) {
      start.tokens.forEach((t, g) => {
        if (start.fixed[g]) expect(out.tokens[g], `fixed position ${g}`).toBe(t);
      });
      expect(out.finished).toBe(true);
      expect(out.trace.flatMap((s) => s.positions).every((g) => !start.fixed[g])).toBe(true);
      expect(out.trace.flatMap((s) => s.remasked ?? []).every((g) => !start.fixed[g])).toBe(true);
      // The fixed text shows in the output in order (up to a first EOS the model may put in a hole).
      const text = tok.decode(out.tokens.filter((t) => t !== EOS));
      expect(text.startsWith("The")).toBe(true);
      expect(text.indexOf(" said that")).toBeGreaterThan(3);
      expect(text.endsWith(".")).toBe(true);
    }
  });

  it("EOS stop: masks between EOS runs are all decided EOS at the first step", async () => {
    const tok = model.tokenizer;
    const body = tok.encode(" walked into the room.");
    const tokens = [...body, EOS, EOS, EOS, EOS, MASK, MASK, MASK, MASK, EOS, EOS, EOS, EOS];
    const start = createCanvas(tok.encode(PROMPTS[0]), tokens.length, MASK);
    start.tokens = tokens;
    start.fixed = tokens.map((t) => t !== MASK);
    const out = await generateExtended(model, start, opts(4, 0), { eosStop: true });
    expect(out.trace).toHaveLength(1);
    expect(out.trace[0].note).toBe(EOS_STOP_NOTE);
    expect(out.trace[0].tokens).toEqual([EOS, EOS, EOS, EOS]);
    expect(out.finished).toBe(true);
  });

  it("EOS stop only ever stops when every remaining mask is decided EOS, and changes nothing before", async () => {
    const tok = model.tokenizer;
    let stops = 0;
    for (const [i, seed] of [1, 2, 3, 4].entries()) {
      const start = createCanvas(tok.encode(PROMPTS[i % PROMPTS.length]), 24, MASK);
      const o = opts(24, 0.8, seed, 8);
      const plain = await generate(model, start, o);
      const rec = new RecordingModel(model);
      const out = await generateExtended(rec, start, o, { eosStop: true });
      expect(out.finished).toBe(true);
      const last = out.trace.length - 1;
      // Every step before the stop is plain sampling's.
      expect(out.trace.slice(0, last).map((s) => [s.positions, s.tokens])).toEqual(plain.trace.slice(0, last).map((s) => [s.positions, s.tokens]));
      if (out.trace[last].note === EOS_STOP_NOTE) {
        stops++;
        expect(out.trace.length).toBeLessThan(plain.trace.length);
        expect(out.trace[last].tokens.every((t) => t === EOS)).toBe(true);
        // What was masked before the stop step is exactly what the stop step filled.
        const before = new Set(out.trace.slice(0, last).flatMap((s) => s.positions));
        expect(out.trace[last].positions).toEqual(Array.from({ length: 24 }, (_, g) => g).filter((g) => !before.has(g)));
      } else {
        expect(out.tokens).toEqual(plain.tokens);
      }
    }
    // Reported, not required: whether these prompts end early depends on the (still training) model.
    console.info(`EOS stop ended ${stops} of 4 sampled runs early`);
  });

  it("eos_conf is DAEDAL's: p(EOS) at argmax-EOS positions from the end, summed over 32", () => {
    const V = 3;
    // rows: argmax 0, argmax EOS (p = e^2/(e^2+2)), argmax EOS
    const l = Float32Array.from([5, 0, 0, 0, 0, 2, 0, 0, 2]);
    const p = Math.exp(2) / (Math.exp(2) + 2);
    expect(eosConfidence(l, 3, V, 2, 32)).toBeCloseTo((2 * p) / 32, 6);
    expect(eosConfidence(l, 3, V, 2, 1)).toBeCloseTo(p, 6); // stops after one
  });

  it("auto length: grows from the initial length in steps of 8 up to the maximum, keeping steps per token", async () => {
    const tok = model.tokenizer;
    const prompt = tok.encode(PROMPTS[2]);
    const { length, probes } = await initialLength(model, prompt, { initial: 8, max: 40 });
    expect(probes[0].length).toBe(8);
    probes.forEach((p, i) => i > 0 && expect(p.length).toBe(Math.min(8 + 8 * i, 40)));
    expect(length).toBe(probes.at(-1)!.length);
    const lastConf = probes.at(-1)!.eosConfidence;
    expect(lastConf >= 0.5 || length === 40).toBe(true);
    probes.slice(0, -1).forEach((p) => expect(p.eosConfidence).toBeLessThan(0.5));

    expect(scaledSchedule({ kind: "linear", steps: 64, blockLength: 16 }, 24, 64, false)).toEqual({ kind: "linear", steps: 24, blockLength: 16 });
    expect(scaledSchedule({ kind: "linear", steps: 32, blockLength: 16 }, 8, 64, true)).toEqual({ kind: "linear", steps: 4, blockLength: 0 });

    const { canvas } = await generateAutoLength(model, prompt, opts(40, 0.8, 2), {}, { initial: 8, max: 40 }, { decoder: tok });
    expect(canvas.finished).toBe(true);
    expect(canvas.tokens.length).toBeGreaterThanOrEqual(length);
    expect(canvas.tokens.length).toBeLessThanOrEqual(40);
    // It grew past stage 1 only while no EOS had been placed.
    const grew = canvas.trace.filter((s) => s.note?.startsWith("auto length: no EOS yet"));
    expect(canvas.tokens.length).toBe(length + grew.length * 8 - Math.max(0, length + grew.length * 8 - 40));
    if (canvas.tokens.length < 40) expect(canvas.tokens).toContain(EOS);
    expect(canvas.trace[0].note).toMatch(/^auto length: \d+ tokens/);
  });
});

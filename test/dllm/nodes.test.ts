// The model nodes, run through the real executor: progress carries canvas snapshots, failures
// name the node and the input, the loaded model is cached across runs.
import { afterAll, describe, expect, it } from "vitest";
import type { Canvas } from "../../engine/dllm/index.js";
import { NodeRegistry } from "../../engine/registry.js";
import { Executor } from "../../engine/run/executor.js";
import type { RunEvent } from "../../engine/types.js";
import type { WorkflowDoc } from "../../engine/workflow/schema.js";
import Denoise from "../../nodes/denoise.js";
import LoadModel from "../../nodes/load-model.js";
import MaskSchedule from "../../nodes/mask-schedule.js";
import Prompt from "../../nodes/prompt.js";
import ShowText from "../../nodes/show-text.js";
import { nodeFiles, unrestrictedFiles } from "../../engine/files/access.js";

const executor = new Executor(new NodeRegistry([LoadModel, Prompt, MaskSchedule, Denoise, ShowText]));
afterAll(() => executor.clearCache?.());

function hello(overrides: { path?: string; denoise?: Record<string, unknown>; schedule?: Record<string, unknown>; chat?: boolean } = {}): WorkflowDoc {
  return {
    version: 1,
    nodes: {
      model: { type: "LoadModel", inputs: { path: overrides.path ?? "models/default", device: "cpu" } },
      prompt: {
        type: "Prompt",
        inputs: { text: "The man opened the door and", chat: overrides.chat ?? false, ...(overrides.chat ? { model: { from: "model", output: "model" } } : {}) },
      },
      schedule: { type: "MaskSchedule", inputs: { kind: "linear", steps: 8, block_length: 8, ...overrides.schedule } },
      denoise: {
        type: "Denoise",
        inputs: {
          model: { from: "model", output: "model" },
          prompt: { from: "prompt", output: "text" },
          schedule: { from: "schedule", output: "schedule" },
          gen_length: 16,
          seed: 3,
          ...overrides.denoise,
        },
      },
      show: { type: "ShowText", inputs: { value: { from: "denoise", output: "canvas" } } },
    },
  } as WorkflowDoc;
}

describe("model nodes", () => {
  it("hello: prompt -> model -> denoise -> text, with a canvas snapshot per step", async () => {
    const events: RunEvent[] = [];
    const r = await executor.run(hello({ denoise: { temperature: 0.7 } }), { onEvent: (e) => events.push(e) });
    expect(r.status, JSON.stringify(r.error)).toBe("finished");
    const out = r.outputs.show as { text: string; tokens: number[]; trace: unknown[] };
    expect(typeof out.text).toBe("string");
    expect(out.tokens).toHaveLength(16);
    expect(out.trace).toHaveLength(8);
    const steps = events.filter((e): e is Extract<RunEvent, { type: "progress" }> => e.type === "progress" && e.nodeId === "denoise");
    expect(steps.map((s) => s.step)).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
    expect(steps.every((s) => s.total === 8 && s.canvas?.tokens.length === 16)).toBe(true);
    const first = steps[0].canvas!;
    expect(first.changed).toHaveLength(2);
    expect(first.pieces.filter((p) => p !== null)).toHaveLength(2);
    expect(steps[7].canvas!.pieces.every((p) => p !== null)).toBe(true);
  });

  it("is reproducible and reuses the loaded model", async () => {
    const a = await executor.run(hello({ denoise: { temperature: 0.9, seed: 11 } }));
    const events: RunEvent[] = [];
    const b = await executor.run(hello({ denoise: { temperature: 0.9, seed: 11, gen_length: 16 } }), { onEvent: (e) => events.push(e) });
    expect((b.outputs.show as { tokens: number[] }).tokens).toEqual((a.outputs.show as { tokens: number[] }).tokens);
    expect(events.some((e) => e.type === "node_cached" && e.nodeId === "model")).toBe(true);
  });

  it("a bad model path fails naming LoadModel's path input", async () => {
    const r = await executor.run(hello({ path: "models/does-not-exist" }));
    expect(r.status).toBe("failed");
    expect(r.error).toMatchObject({ nodeId: "model", input: "path" });
    expect(r.error!.message).toMatch(/model folder "models\/does-not-exist" not found/);
  });

  it("too long a generation is refused before running, naming gen_length (the check knows the linked model)", async () => {
    const run = executor.run(hello({ denoise: { gen_length: 4000 }, schedule: { steps: 4000 } }));
    await expect(run).rejects.toMatchObject({
      issues: [expect.objectContaining({ nodeId: "denoise", input: "gen_length", code: "out_of_range", message: expect.stringMatching(/max_length 256/) })],
    });
  });

  it("a schedule that cannot cover the blocks fails naming the schedule", async () => {
    const r = await executor.run(hello({ schedule: { steps: 1, block_length: 4 } }));
    expect(r.error).toMatchObject({ nodeId: "denoise", input: "schedule" });
    const list = await executor.run(hello({ schedule: { kind: "list", counts: "4, x" } }));
    expect(list.error).toMatchObject({ nodeId: "schedule", input: "counts" });
  });

  it("chat applies the model's template, and needs the model linked", async () => {
    const r = await executor.run(hello({ chat: true }));
    expect(r.status, JSON.stringify(r.error)).toBe("finished");
    const ctx = {
      nodeId: "p",
      signal: new AbortController().signal,
      progress: () => {},
      log: { info: () => {}, warn: () => {} },
      files: nodeFiles(unrestrictedFiles),
      fail: (input: string | null, message: string): never => {
        throw Object.assign(new Error(message), { input });
      },
    };
    expect(() => Prompt.execute({ text: "hi", chat: true }, ctx)).toThrow(/link a model/);
    expect(Prompt.execute({ text: "hi", chat: false }, ctx)).toEqual({ text: "hi" });
  });

  it("continues from a canvas and cancels between steps", async () => {
    const first = await executor.run(hello());
    expect(first.status).toBe("finished");
    const model = (await LoadModel.execute({ path: "models/default", device: "cpu", threads: 1 }, ctxFor("m"))) as { model: { dispose(): Promise<void> } };
    try {
      const denoised = (await Denoise.execute(
        { ...defaults(), model: model.model, prompt: "It was", gen_length: 12 },
        ctxFor("d"),
      )) as { canvas: Canvas };
      const remasked: Canvas = { ...denoised.canvas, tokens: denoised.canvas.tokens.map((t, i) => (i >= 6 ? 1 : t)) };
      const cont = (await Denoise.execute({ ...defaults(), model: model.model, canvas: remasked }, ctxFor("d2"))) as { canvas: Canvas };
      expect(cont.canvas.tokens.slice(0, 6)).toEqual(denoised.canvas.tokens.slice(0, 6));
      expect(cont.canvas.finished).toBe(true);
      expect(cont.canvas.trace.length).toBe(denoised.canvas.trace.length + 6);

      const ctl = new AbortController();
      let seen = 0;
      const run = Denoise.execute({ ...defaults(), model: model.model, prompt: "It was", gen_length: 12 }, {
        ...ctxFor("d3"),
        signal: ctl.signal,
        progress: () => {
          if (++seen === 3) ctl.abort();
        },
      });
      await expect(run).rejects.toMatchObject({ name: "AbortError" });
      expect(seen).toBe(3);
    } finally {
      await model.model.dispose();
    }
  });
});

function defaults(): Record<string, unknown> {
  return Object.fromEntries(Object.entries(Denoise.inputs).filter(([, d]) => d.default !== undefined).map(([k, d]) => [k, d.default]));
}

function ctxFor(nodeId: string) {
  return {
    nodeId,
    signal: new AbortController().signal,
    progress: () => {},
    log: { info: () => {}, warn: () => {} },
    files: nodeFiles(unrestrictedFiles),
    fail: (input: string | null, message: string): never => {
      throw Object.assign(new Error(message), { input });
    },
  };
}

// Bypass and mute (workflow node `mode`), warnings in a run's result, a cache hit showing again
// what the node showed, and the static checks nodes make before anything runs (inspect).
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { Executor, NodeRegistry, type NodeDefinition, type RunEvent } from "../../engine/index.js";
import { confinedFiles, unrestrictedFiles } from "../../engine/files/access.js";
import { DEFAULT_LIMITS } from "../../engine/limits.js";
import { PACKAGE_ROOT } from "../../engine/paths.js";
import { checkWorkflow } from "../../engine/workflow/check.js";
import type { WorkflowDoc } from "../../engine/workflow/schema.js";
import { builtinNodes } from "../../nodes/index.js";
import { doc, link, testRegistry } from "./helpers.js";

const concat = () =>
  doc({
    a: { type: "Text", inputs: { value: "Hello," } },
    b: { type: "Text", inputs: { value: "world" } },
    join: { type: "Concat", inputs: { a: link("a"), b: link("b"), separator: " " } },
    up: { type: "Upper", inputs: { text: link("join") } },
    show: { type: "ShowText", inputs: { value: link("up") } },
  });

const events = () => {
  const list: RunEvent[] = [];
  return { list, onEvent: (e: RunEvent) => list.push(e) };
};

describe("bypass", () => {
  it("passes a node's first input of the output's socket type on to what reads the output", async () => {
    const { registry, calls } = testRegistry();
    const wf = concat();
    wf.nodes.up.mode = "bypass";
    const seen = events();
    const result = await new Executor(registry).run(wf, seen);
    expect(result.outputs.show).toEqual({ text: "Hello, world" });
    expect(calls.up).toBeUndefined();
    expect(seen.list).toContainEqual(expect.objectContaining({ type: "node_skipped", nodeId: "up", because: "bypassed" }));

    // Through a chain of bypassed nodes, down to the first linked TEXT input (Concat's a).
    wf.nodes.join.mode = "bypass";
    expect((await new Executor(registry).run(wf)).outputs.show).toEqual({ text: "Hello," });
  });

  it("passes a constant when no input of that type is linked, and reports an output it cannot pass on", () => {
    const { registry } = testRegistry();
    const wf = doc({
      join: { type: "Concat", inputs: { a: "given", b: "other", separator: " " }, mode: "bypass" },
      show: { type: "ShowText", inputs: { value: link("join") } },
    });
    expect(checkWorkflow(wf, registry).ok).toBe(true);

    // A MODEL output from a bypassed Load Model: nothing of type MODEL to pass on.
    const bad = doc({
      model: { type: "LoadModel", inputs: {}, mode: "bypass" },
      prompt: { type: "Prompt", inputs: { text: "x" } },
      denoise: { type: "Denoise", inputs: { model: link("model", "model"), prompt: link("prompt") } },
      show: { type: "ShowText", inputs: { value: link("denoise", "canvas") } },
    });
    const checked = checkWorkflow(bad, registry);
    expect(checked.ok).toBe(false);
    expect(checked.issues).toEqual([{ nodeId: "denoise", input: "model", code: "bypass", message: "model is bypassed and has no MODEL input to pass on" }]);
  });

  it("does not check a bypassed node's own unset inputs, and caches as if linked straight through", async () => {
    const { registry, calls } = testRegistry();
    const executor = new Executor(registry);
    const direct = doc({ t: { type: "Text", inputs: { value: "x" } }, up: { type: "Upper", inputs: { text: link("t") } }, show: { type: "ShowText", inputs: { value: link("up") } } });
    await executor.run(direct);
    const through = doc({ ...direct.nodes, mid: { type: "Slow", inputs: { text: link("t") }, mode: "bypass" } });
    through.nodes.up = { type: "Upper", inputs: { text: link("mid") } };
    const seen = events();
    await executor.run(through, seen);
    expect(calls).toEqual({ up: 1 });
    expect(seen.list.filter((e) => e.type === "node_cached").map((e) => (e as { nodeId: string }).nodeId)).toEqual(["t", "up", "show"]);
  });
});

describe("mute", () => {
  it("skips a muted node and what needs it, runs the rest, and checks nothing about it", async () => {
    const { registry, calls } = testRegistry();
    const wf = concat();
    wf.nodes.show2 = { type: "ShowText", inputs: { value: link("a") } };
    wf.nodes.up = { type: "Upper", inputs: {}, mode: "mute" }; // unfinished: no text input
    const seen = events();
    const result = await new Executor(registry).run(wf, seen);
    expect(result.status).toBe("finished");
    expect(result.outputs).toEqual({ show2: { text: "Hello," } });
    expect(calls.up).toBeUndefined();
    const skipped = seen.list.filter((e) => e.type === "node_skipped").map((e) => [e.nodeId, (e as { because: string }).because]);
    expect(skipped).toEqual([
      ["up", "muted"],
      ["show", "value comes from up, which is muted"],
    ]);
  });

  it("says nothing would run when every output is muted or needs a muted node", () => {
    const { registry } = testRegistry();
    const wf = concat();
    wf.nodes.join.mode = "mute";
    const checked = checkWorkflow(wf, registry);
    expect(checked.issues).toEqual([expect.objectContaining({ code: "no_output_node", message: expect.stringMatching(/muted/) })]);
  });

  it("leaves an optional input from a muted node unset", async () => {
    const registry = new NodeRegistry(builtinNodes);
    const wf = doc({
      model: { type: "LoadModel", inputs: {}, mode: "mute" },
      prompt: { type: "Prompt", inputs: { text: "plain", model: link("model", "model") } },
      show: { type: "ShowText", inputs: { value: link("prompt") } },
    });
    expect((await new Executor(registry).run(wf)).outputs.show).toEqual({ text: "plain" });
  });

  it("refuses a mode that is neither bypass nor mute", () => {
    const wf = concat() as unknown as { nodes: Record<string, Record<string, unknown>> };
    wf.nodes.up.mode = "off";
    const checked = checkWorkflow(wf, testRegistry().registry);
    expect(checked.issues).toContainEqual(expect.objectContaining({ nodeId: "up", code: "schema", message: 'mode: expected "bypass" or "mute", got the string "off"' }));
  });
});

describe("warnings and replay", () => {
  const Warns: NodeDefinition = {
    type: "Warns",
    version: 1,
    title: "Warns",
    category: "test",
    description: "Reports a canvas per step and warns.",
    inputs: { text: { socket: "TEXT" } },
    outputs: { text: { socket: "TEXT" } },
    execute: ({ text }, ctx) => {
      for (let step = 1; step <= 3; step++) {
        ctx.progress({ step, total: 3, canvas: { step, tokens: [step], pieces: [`t${step}`], confidence: [0.5], changed: [0] } });
      }
      ctx.log.warn("nothing matched");
      return { text };
    },
  };
  const registry = new NodeRegistry([...builtinNodes, Warns]);
  const wf = doc({ t: { type: "Text", inputs: { value: "x" } }, w: { type: "Warns", inputs: { text: link("t") } }, show: { type: "ShowText", inputs: { value: link("w") } } });

  it("lists warnings in the result and sends them as warning events", async () => {
    const seen = events();
    const result = await new Executor(registry).run(wf, seen);
    expect(result.warnings).toEqual([{ nodeId: "w", message: "nothing matched" }]);
    expect(seen.list).toContainEqual(expect.objectContaining({ type: "warning", nodeId: "w", message: "nothing matched" }));
  });

  it("shows a cached node's steps and warnings again, marked as replayed", async () => {
    const executor = new Executor(registry);
    const first = events();
    await executor.run(wf, first);
    const again = events();
    const result = await executor.run(wf, again);
    expect(result.stats.cached).toBe(3);
    expect(result.warnings).toEqual([{ nodeId: "w", message: "nothing matched" }]);
    const shown = (list: RunEvent[]) => list.filter((e) => e.type === "progress" || e.type === "warning").map(({ runId: _r, replayed: _p, ...e }) => e);
    expect(shown(again.list)).toEqual(shown(first.list));
    expect(again.list.filter((e) => e.type === "progress").every((e) => e.replayed)).toBe(true);
    const order = again.list.map((e) => e.type);
    expect(order.indexOf("node_cached")).toBeLessThan(order.indexOf("progress"));
  });
});

describe("static checks (inspect)", () => {
  const registry = new NodeRegistry(builtinNodes);
  const hello = (genLength: number, prompt = "He looked at the door and") =>
    doc({
      model: { type: "LoadModel", inputs: { path: "models/default" } },
      prompt: { type: "Prompt", inputs: { text: prompt } },
      denoise: { type: "Denoise", inputs: { model: link("model", "model"), prompt: link("prompt"), gen_length: genLength } },
      show: { type: "ShowText", inputs: { value: link("denoise", "canvas") } },
    });

  it("checks prompt plus gen_length against the linked model's max_length before running", () => {
    expect(checkWorkflow(hello(200), registry).ok).toBe(true);
    const checked = checkWorkflow(hello(253), registry);
    expect(checked.issues).toEqual([
      {
        nodeId: "denoise",
        input: "gen_length",
        code: "out_of_range",
        message: expect.stringMatching(/^prompt \(\d+ tokens\) \+ gen_length 253 = \d+ tokens, more than the model's max_length 256 \(maskflow\.json\)$/),
      },
    ]);
  });

  it("says nothing when the model folder cannot be read (Load Model reports that when it runs)", () => {
    const wf = hello(253);
    wf.nodes.model.inputs.path = "models/nowhere";
    expect(checkWorkflow(wf, registry).ok).toBe(true);
  });

  it("reads the model folder only where a run could: a served instance's roots", () => {
    const elsewhere = mkdtempSync(join(tmpdir(), "maskflow-inspect-root-"));
    try {
      // Confined to a folder without the model: nothing is read, so nothing is said (the run refuses the path).
      const confined = confinedFiles([{ path: elsewhere, shown: "", label: "--models" }]);
      expect(checkWorkflow(hello(253), registry, {}, DEFAULT_LIMITS, confined).ok).toBe(true);
      // Confined to the bundled models/: the check is made as with the CLI.
      const bundled = confinedFiles([{ path: join(PACKAGE_ROOT, "models"), shown: "models/", label: "the bundled models/" }]);
      expect(checkWorkflow(hello(253), registry, {}, DEFAULT_LIMITS, bundled).issues).toEqual([expect.objectContaining({ nodeId: "denoise", input: "gen_length" })]);
      expect(checkWorkflow(hello(253), registry, {}, DEFAULT_LIMITS, unrestrictedFiles).issues).toHaveLength(1);
    } finally {
      rmSync(elsewhere, { recursive: true, force: true });
    }
  });

  it("refuses a prompt far too long for the model without tokenising it, on the prompt input", () => {
    const t0 = performance.now();
    const checked = checkWorkflow(hello(16, "word ".repeat(400_000)), registry);
    expect(performance.now() - t0).toBeLessThan(2_000);
    expect(checked.issues).toEqual([
      { nodeId: "denoise", input: "prompt", code: "out_of_range", message: expect.stringMatching(/^the text is 2000000 characters long: far more than the 256 tokens/) },
    ]);
  });

  it("passes on no text longer than maxValueBytes: Concat nodes that double their text stay cheap to check", () => {
    const nodes: WorkflowDoc["nodes"] = { t0: { type: "Text", inputs: { value: "ab" } } };
    for (let i = 1; i <= 60; i++) nodes[`t${i}`] = { type: "Concat", inputs: { a: link(`t${i - 1}`, "text"), b: link(`t${i - 1}`, "text"), separator: "" } };
    nodes.model = { type: "LoadModel", inputs: { path: "models/default" } };
    nodes.denoise = { type: "Denoise", inputs: { model: link("model", "model"), prompt: link("t60", "text"), gen_length: 16 } };
    nodes.show = { type: "ShowText", inputs: { value: link("denoise", "canvas") } };
    const t0 = performance.now();
    const checked = checkWorkflow(doc(nodes), registry, {}, { ...DEFAULT_LIMITS, maxValueBytes: 1 << 20 });
    expect(performance.now() - t0).toBeLessThan(2_000);
    // t60's text (2^61 characters) is unknown when checking: nothing to say about the prompt.
    expect(checked.ok).toBe(true);
  });

  it("orders and resolves a long chain of bypassed nodes without overflowing the stack", () => {
    // Listed output first, so that every walk (sources first, the run order, bypass resolution) goes deep.
    const n = 20_000;
    const nodes: WorkflowDoc["nodes"] = { show: { type: "ShowText", inputs: { value: link(`u${n}`, "text") } } };
    for (let i = n; i >= 1; i--) nodes[`u${i}`] = { type: "Concat", mode: "bypass", inputs: { a: link(i === 1 ? "t0" : `u${i - 1}`, "text") } };
    nodes.t0 = { type: "Text", inputs: { value: "x" } };
    const checked = checkWorkflow(doc(nodes), registry, {}, { ...DEFAULT_LIMITS, maxNodes: n + 10 });
    expect(checked.issues).toEqual([]);
  });
});

describe("Show Text shows any output", () => {
  const registry = new NodeRegistry(builtinNodes);
  const show = (value: unknown) => registry.get("ShowText")!.execute({ value }, {} as never);

  it("numbers, text, booleans, canvases, and other values described", () => {
    expect(show(-45.123456)).toEqual({ text: "-45.1235", value: -45.123456 });
    expect(show(3)).toEqual({ text: "3", value: 3 });
    expect(show("hi")).toEqual({ text: "hi" });
    expect(show({ kind: "linear", steps: 8 })).toEqual({ text: JSON.stringify({ kind: "linear", steps: 8 }, null, 2) });
    expect(show({ describe: () => "a model" })).toEqual({ text: "a model" });
  });

  it("accepts a link from a NUMBER output in a workflow", () => {
    const wf = doc({
      t: { type: "Text", inputs: { value: "x" } },
      model: { type: "LoadModel", inputs: {} },
      score: { type: "Score", inputs: { model: link("model", "model"), canvas: link("t") } },
      show: { type: "ShowText", inputs: { value: link("score", "score") } },
    });
    const checked = checkWorkflow(wf, registry);
    // The canvas link is wrong (TEXT), the NUMBER into Show Text is fine.
    expect(checked.issues.map((i) => `${i.nodeId}.${i.input}`)).toEqual(["score.canvas"]);
  });
});

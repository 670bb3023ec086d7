// Issue 18, item 8: no main-thread stalls and no silent nonsense. A tokenizer with an added id of
// 1e9 is refused before it is built (tokenizers.js would size a table by it: a 40 s stall); a
// 6 MB prompt is refused before it is tokenised; a LoRA whose lora_alpha overflows the merged
// weights is refused instead of "finishing" with empty text; Infinity is reported as Infinity;
// a request aborted mid-body is not logged with a stack trace.
import { connect } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { mayBacktrackExponentially } from "../../engine/dllm/tokenizer-patterns.js";
import { cli } from "../cli/run-cli.js";
import { adapterFolder, modelFolder, tokenizerWithAddedId } from "./folders.js";
import { startServed, helloWith, loraWith, runToEnd, whileHealthy, hasStackTrace, type Served } from "./served.js";

describe("a served instance and inputs that used to stall it", () => {
  let served: Served;
  beforeAll(async () => {
    served = await startServed();
  });
  afterAll(async () => {
    await served?.close();
  });

  it("refuses a tokenizer with an added token id of 1e9 at once, on model.path", async () => {
    const folder = modelFolder(served.models, "huge-id", { "tokenizer.json": tokenizerWithAddedId(1e9) });
    const t0 = performance.now();
    const { value: run, addedMs, budgetMs } = await whileHealthy(served, () => runToEnd(served, helloWith({ model: folder }), undefined, 60_000));
    expect(performance.now() - t0).toBeLessThan(10_000);
    expect(run.status).toBe("failed");
    expect(run.error).toMatchObject({ nodeId: "model", input: "path" });
    expect(run.error.message).toMatch(/added token id 1000000000 is outside the vocabulary \(vocab_size 4096/);
    expect(addedMs).toBeLessThan(budgetMs);
  });

  it("refuses a tokenizer whose normalizer pattern backtracks exponentially (found by the fuzz test), on model.path", async () => {
    const tok = JSON.parse(tokenizerWithAddedId(4095));
    tok.added_tokens.pop();
    tok.normalizer = { type: "Replace", pattern: { Regex: "(.*)*Z" }, content: "" };
    const folder = modelFolder(served.models, "redos-tokenizer", { "tokenizer.json": JSON.stringify(tok) });
    const { value: run, addedMs, budgetMs } = await whileHealthy(served, () => runToEnd(served, helloWith({ model: folder }), undefined, 30_000));
    expect(run.status).toBe("failed");
    expect(run.error).toMatchObject({ nodeId: "model", input: "path" });
    expect(run.error.message).toMatch(/the pattern at normalizer.pattern \("\(\.\*\)\*Z"\) repeats a group that itself repeats or branches/);
    expect(addedMs).toBeLessThan(budgetMs);
  });

  it("refuses a 6 MB prompt before tokenising it, on denoise.prompt", async () => {
    // Known while validating (Denoise's static check, issue 16): the run is refused before it is queued.
    const { value: refused, addedMs, budgetMs } = await whileHealthy(served, () => runToEnd(served, helloWith({ prompt: "the door ".repeat(700_000) }), undefined, 60_000));
    expect(refused.httpStatus).toBe(400);
    expect(refused.details).toEqual([
      expect.objectContaining({ nodeId: "denoise", input: "prompt", code: "out_of_range", message: expect.stringMatching(/6300000 characters long: far more than the 256 tokens/) }),
    ]);
    expect(addedMs).toBeLessThan(budgetMs);

    // Known only when it runs (a chat prompt's template is applied then): refused by the node, before tokenising.
    const chat = helloWith({ prompt: "the door ".repeat(700_000) });
    Object.assign(chat.nodes.prompt.inputs, { chat: true, model: { from: "model", output: "model" } });
    const ran = await whileHealthy(served, () => runToEnd(served, chat, undefined, 60_000));
    expect(ran.value.status, JSON.stringify(ran.value)).toBe("failed");
    expect(ran.value.error).toMatchObject({ nodeId: "denoise", input: "prompt" });
    expect(ran.value.error.message).toMatch(/630\d{4} characters long: far more than the 256 tokens/);
    expect(ran.addedMs).toBeLessThan(ran.budgetMs);
  });

  it("refuses a merge whose lora_alpha of 1e308 makes the weights non-finite, on lora.path", async () => {
    const run = await runToEnd(served, loraWith(adapterFolder(served.models, "overflow", { lora_alpha: 1e308 })));
    expect(run.status, JSON.stringify(run.outputs)).toBe("failed");
    expect(run.error).toMatchObject({ nodeId: "lora", input: "path" });
    expect(run.error.message).toMatch(/non-finite weights .* lora_alpha \/ r = 1e\+308 \/ 8 is too large/);
    const huge = await runToEnd(served, loraWith("models/loras/romance", 1e300));
    expect(huge.status).toBe("failed");
    expect(huge.error).toMatchObject({ nodeId: "lora", input: "strength" });
  });

  it("says Infinity, not null, for an infinite number", async () => {
    // 1e999 is valid JSON and parses to Infinity.
    const r = await served.api("POST", "/api/validate", '{"workflow": ' + JSON.stringify(helloWith()) + ', "overrides": {"schedule.steps": 1e999}}');
    expect(r.status).toBe(200);
    expect(r.json.issues[0]).toMatchObject({ nodeId: "schedule", input: "steps", code: "wrong_type" });
    expect(r.json.issues[0].message).toBe("expected a whole number, got number Infinity");
  });

  it("logs no stack trace for requests the client aborts mid-body", async () => {
    for (let i = 0; i < 5; i++) {
      await new Promise<void>((resolve) => {
        const { port, hostname } = new URL(served.origin);
        const socket = connect(Number(port), hostname, () => {
          socket.write(`POST /api/runs HTTP/1.1\r\nHost: ${hostname}:${port}\r\nAuthorization: Bearer ${served.token}\r\nContent-Type: application/json\r\nContent-Length: 100000\r\n\r\n{"workflow": {"version": 1, "nodes": {`);
          setTimeout(() => {
            socket.destroy();
            resolve();
          }, 50);
        });
      });
    }
    await new Promise((r) => setTimeout(r, 300));
    expect((await served.api("GET", "/api/health")).status).toBe(200);
    expect(hasStackTrace(served.stderr()), served.stderr()).toBe(false);
  });
});

describe("tokenizer patterns", () => {
  it("pass real tokenizers' split patterns and refuse nested repetition", () => {
    const real = [
      "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+",
      "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+",
      " ?[^(\\s|[.,!?…。，、।۔،])]+",
    ];
    for (const p of real) expect(mayBacktrackExponentially(p), p).toBe(false);
    for (const p of ["(.*)*Z", "(a|a)*b", "(a+)+$", "((ab)*c)*", "(x{2,})+"]) expect(mayBacktrackExponentially(p), p).toBe(true);
  });
});

describe("the CLI and infinite numbers", () => {
  it("validate says Infinity", () => {
    const r = cli(["run", "workflows/hello.maskflow.json", "--set", "schedule.steps=1e999"]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/schedule\.steps: expected a whole number, got number Infinity/);
  });
});

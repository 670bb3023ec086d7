import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { readModelFolder } from "../../engine/dllm/model-folder.js";
import { DllmTokenizer } from "../../engine/dllm/tokenizer.js";
import { MODEL_DIR, fixture } from "./fixtures.js";

const { tokenizer } = readModelFolder(MODEL_DIR);

describe("tokenizer", () => {
  it("encodes held-out Brown text exactly as models/train/bpe.py does", () => {
    const doc = fixture<{ cases: { text: string; ids: number[] }[] }>("tokenizer.json");
    expect(doc.cases.length).toBeGreaterThan(20);
    for (const c of doc.cases) expect(tokenizer.encode(c.text), JSON.stringify(c.text.slice(0, 60))).toEqual(c.ids);
  });

  it("decodes byte-level BPE back to the same text", () => {
    const text = "He looked at the door. The man's \"old\" café, 1,234 times.\n\nNext.";
    expect(tokenizer.decode(tokenizer.encode(text))).toBe(text);
    expect(tokenizer.decode([])).toBe("");
  });

  it("drops special tokens unless asked to keep them, and shows them as pieces", () => {
    const ids = [...tokenizer.encode("Hello"), 2, 1];
    expect(tokenizer.decode(ids)).toBe("Hello");
    expect(tokenizer.decode(ids, { skipSpecial: false })).toBe("Hello[EOS][MASK]");
    expect(tokenizer.piece(1)).toBe("[MASK]");
    expect(tokenizer.piece(tokenizer.encode(" the")[0])).toBe(" the");
    expect(tokenizer.specialIds.has(2)).toBe(true);
  });

  it("renders the model folder's chat template", () => {
    expect(tokenizer.hasChatTemplate).toBe(true);
    const text = tokenizer.applyChatTemplate([{ role: "user", content: "  Tell me a story.  " }]);
    expect(text).toContain("Tell me a story.");
    expect(text.startsWith("  ")).toBe(false);
  });

  it("renders LLaDA's chat template with the config's special tokens", () => {
    const json = JSON.parse(readFileSync(join(MODEL_DIR, "tokenizer.json"), "utf8"));
    const llada = new DllmTokenizer(json, {
      bos_token: { content: "<|startoftext|>" },
      chat_template:
        "{% set loop_messages = messages %}{% for message in loop_messages %}{% set content = '<|start_header_id|>' + message['role'] + '<|end_header_id|>\n\n'+ message['content'] | trim + '<|eot_id|>' %}{% if loop.index0 == 0 %}{% set content = bos_token + content %}{% endif %}{{ content }}{% endfor %}{% if add_generation_prompt %}{{ '<|start_header_id|>assistant<|end_header_id|>\n\n' }}{% endif %}",
    });
    expect(llada.applyChatTemplate([{ role: "user", content: " Hi " }])).toBe(
      "<|startoftext|><|start_header_id|>user<|end_header_id|>\n\nHi<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n",
    );
    expect(() => new DllmTokenizer(json, {}).applyChatTemplate([])).toThrow(/chat_template/);
  });
});

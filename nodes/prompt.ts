import { DllmModel } from "../engine/dllm/index.js";
import type { NodeDefinition } from "../engine/types.js";

const Prompt: NodeDefinition = {
  type: "Prompt",
  version: 1,
  title: "Prompt",
  category: "text",
  description:
    "The text the model continues. With chat on, the text becomes a user message wrapped in the model's chat template (tokenizer_config.json), so link the model too.",
  inputs: {
    text: { socket: "TEXT", kind: "string", widget: "textarea", default: "", description: "The prompt (or the user's message when chat is on)." },
    chat: { kind: "boolean", widget: "toggle", default: false, description: "Apply the model's chat template (needs the model input)." },
    model: { socket: "MODEL", optional: true, description: "Only used with chat on: whose chat template to apply." },
  },
  outputs: { text: { socket: "TEXT", description: "The prompt as the model will read it." } },
  // The prompt's text when it is known before running (chat's template is applied only when it runs).
  inspect: ({ values, upstream }) => {
    const text = values.text ?? upstream.text;
    return values.chat === false && typeof text === "string" ? { outputs: { text } } : undefined;
  },
  execute({ text, chat, model }, ctx) {
    if (!chat) return { text: text as string };
    if (!(model instanceof DllmModel)) {
      return ctx.fail("model", "chat is on: link a model (Load Model) so its chat template can be applied, or turn chat off");
    }
    if (!model.tokenizer.hasChatTemplate) {
      return ctx.fail("chat", `${model.dir}/tokenizer_config.json has no chat_template: turn chat off for this model`);
    }
    try {
      return { text: model.tokenizer.applyChatTemplate([{ role: "user", content: text as string }], { addGenerationPrompt: true }) };
    } catch (err) {
      return ctx.fail("chat", `the model's chat template (tokenizer_config.json) failed: ${(err as Error).message}`);
    }
  },
};

export default Prompt;

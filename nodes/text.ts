import type { NodeDefinition } from "../engine/types.js";

const Text: NodeDefinition = {
  type: "Text",
  version: 1,
  title: "Text",
  category: "text",
  description: "A constant piece of text.",
  inputs: {
    value: { kind: "string", widget: "textarea", default: "", description: "The text." },
  },
  outputs: { text: { socket: "TEXT" } },
  execute: ({ value }) => ({ text: value as string }),
  inspect: ({ values }) => ({ outputs: { text: values.value } }),
};

export default Text;

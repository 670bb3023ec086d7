import type { NodeDefinition } from "../engine/types.js";

const Concat: NodeDefinition = {
  type: "Concat",
  version: 1,
  title: "Concat",
  category: "text",
  description: "Joins two texts with a separator.",
  inputs: {
    a: { socket: "TEXT", kind: "string", widget: "textarea", default: "", description: "First text." },
    b: { socket: "TEXT", kind: "string", widget: "textarea", default: "", description: "Second text." },
    separator: { kind: "string", widget: "text", default: " ", description: "Put between the two." },
  },
  outputs: { text: { socket: "TEXT" } },
  execute: ({ a, b, separator }) => ({ text: `${a as string}${separator as string}${b as string}` }),
  inspect: ({ values, upstream }) => {
    const a = values.a ?? upstream.a;
    const b = values.b ?? upstream.b;
    return typeof a === "string" && typeof b === "string" ? { outputs: { text: `${a}${values.separator as string}${b}` } } : undefined;
  },
};

export default Concat;

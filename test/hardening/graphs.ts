// Small workflow documents that grow into big values, shared by the hardening tests.

/** Text(2 MB) -> c1 = t+t -> c2 = c1+c1 ... -> c7 (256 MB) -> ShowText. */
export function doubling(textBytes: number, times = 7) {
  const nodes: Record<string, unknown> = { t: { type: "Text", inputs: { value: "x".repeat(textBytes) } } };
  let prev = "t";
  for (let i = 1; i <= times; i++) {
    nodes[`c${i}`] = { type: "Concat", inputs: { a: { from: prev, output: "text" }, b: { from: prev, output: "text" }, separator: "" } };
    prev = `c${i}`;
  }
  nodes.show = { type: "ShowText", inputs: { value: { from: prev, output: "text" } } };
  return { version: 1, nodes };
}

import { readFileSync, readdirSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { checkWorkflow, compileWorkflow, formatIssue, parseWorkflow, validateWorkflow, workflowJsonSchema, type Issue } from "../../engine/index.js";
import { doc, link, testRegistry } from "./helpers.js";

const { registry } = testRegistry();
const codes = (issues: Issue[]) => issues.map((i) => [i.nodeId, i.input, i.code]);

describe("workflow file", () => {
  it("round-trips every example through the schema unchanged", () => {
    for (const file of readdirSync("workflows").filter((f) => f.endsWith(".maskflow.json"))) {
      const json = JSON.parse(readFileSync(`workflows/${file}`, "utf8"));
      const parsed = parseWorkflow(json);
      expect(parsed.ok, file).toBe(true);
      if (!parsed.ok) continue;
      const again = parseWorkflow(JSON.parse(JSON.stringify(parsed.doc)));
      expect(again.ok && again.doc).toEqual(parsed.doc);
      expect(parsed.doc.nodes).toEqual(json.nodes); // layout rides along untouched
    }
  });

  it("publishes the JSON Schema generated from the zod schema", () => {
    const committed = JSON.parse(readFileSync("workflows/maskflow.schema.json", "utf8"));
    expect(committed).toEqual(workflowJsonSchema());
  });

  it("rejects a newer version with a clear message, and unknown fields", () => {
    const newer = parseWorkflow({ version: 2, nodes: {} });
    expect(newer.ok).toBe(false);
    if (!newer.ok) expect(newer.errors[0].message).toMatch(/newer than this Maskflow/);
    const extra = parseWorkflow({ version: 1, nodes: { a: { type: "Text", inputs: {}, colour: "red" } } });
    expect(extra.ok).toBe(false);
    if (!extra.ok) expect(extra.errors[0]).toMatchObject({ nodeId: "a", code: "schema" });
  });

  it("is not a JSON object", () => {
    expect(parseWorkflow([1, 2]).ok).toBe(false);
  });
});

describe("compiler", () => {
  it("reports every problem at once, each with node, input and reason", () => {
    const issues = validateWorkflow(
      doc({
        a: { type: "Nope", inputs: {} },
        b: { type: "Concat", inputs: { a: link("ghost"), b: link("c", "nothing"), colour: "red" } },
        c: { type: "Text", inputs: { value: 42 } },
        d: { type: "Slow", inputs: { text: link("c"), steps: 5000 } },
        e: { type: "Slow", inputs: { steps: 2.5 } },
        show: { type: "ShowText", inputs: {} },
      }),
      registry,
    );
    expect(codes(issues)).toEqual([
      ["a", null, "unknown_type"],
      ["b", "colour", "unknown_input"],
      ["b", "a", "missing_node"],
      ["b", "b", "missing_output"],
      ["c", "value", "wrong_type"],
      ["d", "steps", "out_of_range"],
      ["e", "text", "missing_input"],
      ["e", "steps", "wrong_type"],
      ["show", "value", "missing_input"],
    ]);
    expect(issues.find((i) => i.code === "out_of_range")?.message).toBe("5000 is outside 1..1000");
  });

  it("reports faults in the file's shape and in the graph in one pass, in plain words", () => {
    // The issue's case: an unknown type, a missing input elsewhere, and an object that is not a
    // link on a third node. A schema failure used to stop the graph check, leaving only
    // "model.path: Invalid input".
    const result = checkWorkflow(
      {
        version: 1,
        nodes: {
          mystery: { type: "Mystery", inputs: {} },
          up: { type: "Upper", inputs: {} },
          model: { type: "LoadModel", inputs: { path: { nonsense: 1 } } },
          join: { type: "Concat", inputs: { a: { nonsense: 1 }, b: { from: "mystery" }, separator: { from: "up", output: "text", extra: true } } },
          show: { type: "ShowText", inputs: { value: link("up") } },
        },
      },
      registry,
    );
    expect(result.ok).toBe(false);
    expect(result.issues.map(formatIssue)).toEqual([
      'mystery: unknown node type "Mystery"',
      "up.text: required input is not set",
      'model.path: expected a string, got an object with key "nonsense"',
      'join.a: expected a string or a link {from, output}, got an object with key "nonsense"',
      "join.b: a link is {from: <node id>, output: <output name>}, but here output is missing",
      'join.separator: a link is {from: <node id>, output: <output name>}, but here "extra" is not part of a link',
    ]);
  });

  it("words shape faults plainly and still checks the graph around them", () => {
    const result = checkWorkflow(
      { version: 1, colour: "red", nodes: { "bad id": { type: "Text", inputs: [] }, n: 7, t: { inputs: {} }, u: { type: "Upper", inputs: { text: link("n") }, ui: { x: "left" } }, show: { type: "ShowText", inputs: { value: link("u") } } } },
      registry,
    );
    expect(result.issues.map(formatIssue)).toEqual([
      'workflow: unknown field "colour" (a workflow has "$schema", "version", "name", "description", "nodes", "ui")',
      'bad id: node id "bad id" may use only letters, digits, _ . and -',
      "bad id: inputs: expected an object of input name -> value or link, got an empty list",
      "n: expected a node {type, inputs}, got number 7",
      "t: type is missing: say which node type this is",
      "u: ui.x: expected a number, got the string \"left\"",
      "u: ui.y: expected a number, got nothing",
    ]);
    expect(checkWorkflow({ nodes: {} }, registry).issues.map(formatIssue)).toEqual(['workflow: version is missing: add "version": 1', "workflow: the workflow has no output node (e.g. ShowText): nothing would run"]);
  });

  it("refuses a link between different socket types and constants for link-only inputs", () => {
    const issues = validateWorkflow(
      doc({
        t: { type: "Text", inputs: { value: "x" } },
        u: { type: "Upper", inputs: { text: "a constant" } },
        show: { type: "ShowText", inputs: { value: link("t") } },
      }),
      registry,
    );
    expect(codes(issues)).toEqual([["u", "text", "wrong_type"]]);
    expect(issues[0].message).toMatch(/needs a link to a TEXT output/);
  });

  it("reports a type mismatch between sockets", async () => {
    const { NodeRegistry } = await import("../../engine/index.js");
    const r = new NodeRegistry([
      ...registry.catalog().map((c) => ({ ...c, execute: () => ({}) })),
      { type: "Num", version: 1, title: "Num", category: "t", description: "", inputs: {}, outputs: { n: { socket: "NUMBER" as const } }, execute: () => ({ n: 1 }) },
    ]);
    const issues = validateWorkflow(doc({ n: { type: "Num", inputs: {} }, u: { type: "Upper", inputs: { text: link("n", "n") } }, s: { type: "ShowText", inputs: { value: link("u") } } }), r);
    expect(codes(issues)).toEqual([["u", "text", "type_mismatch"]]);
    expect(issues[0].message).toBe("expects TEXT but n.n is NUMBER");
  });

  it("prints a cycle", () => {
    const issues = validateWorkflow(
      doc({
        a: { type: "Upper", inputs: { text: link("c") } },
        b: { type: "Upper", inputs: { text: link("a") } },
        c: { type: "Upper", inputs: { text: link("b") } },
        show: { type: "ShowText", inputs: { value: link("c") } },
      }),
      registry,
    );
    expect(codes(issues)).toEqual([["a", null, "cycle"]]);
    expect(issues[0].message).toBe("cycle: a -> c -> b -> a (via b.text)");
  });

  it("checks options and wants an output node", () => {
    const issues = validateWorkflow(doc({ t: { type: "Text", inputs: { value: "x" } } }), registry);
    expect(codes(issues)).toEqual([[null, null, "no_output_node"]]);
  });

  it("keeps only the nodes that feed an output, dependencies first", () => {
    const graph = compileWorkflow(
      doc({
        show: { type: "ShowText", inputs: { value: link("up") } },
        up: { type: "Upper", inputs: { text: link("t") } },
        t: { type: "Text", inputs: { value: "x" } },
        unused: { type: "Upper", inputs: { text: link("t") } },
      }),
      registry,
    );
    expect(graph.order.map((n) => n.id)).toEqual(["t", "up", "show"]);
  });
});

import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { cli } from "./run-cli.js";

const tmp = () => mkdtempSync(join(tmpdir(), "maskflow-cli-"));

const faulty = {
  version: 1,
  nodes: {
    a: { type: "Text", inputs: { value: 3 } },
    b: { type: "Concat", inputs: { a: { from: "a", output: "txt" }, b: { from: "nowhere", output: "text" } } },
    c: { type: "Mystery", inputs: {} },
    show: { type: "ShowText", inputs: { value: { from: "b", output: "text" } } },
  },
};

describe("maskflow CLI", () => {
  it("runs a workflow and prints its text; --set overrides; --json prints one object", () => {
    const plain = cli(["run", "workflows/concat.maskflow.json"]);
    expect(plain).toMatchObject({ code: 0, stdout: "Hello, diffusion\n" });

    const json = cli(["run", "workflows/concat.maskflow.json", "--json", "--set", "name.value=world", "--set", 'join.separator="  "']);
    expect(json.code).toBe(0);
    const parsed = JSON.parse(json.stdout);
    expect(parsed.outputs).toEqual({ show: { text: "Hello,  world" } });
    expect(parsed.stats.executed).toBe(4);
    expect(json.stdout.trim().split("\n")).toHaveLength(1);
  });

  it("validate lists every fault with node and input, exit 2", () => {
    const dir = tmp();
    writeFileSync(join(dir, "bad.maskflow.json"), JSON.stringify(faulty));
    const r = cli(["validate", join(dir, "bad.maskflow.json")]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("4 problems");
    expect(r.stderr).toContain("a.value: expected a string, got number 3");
    expect(r.stderr).toContain('b.a: a (Text) has no output "txt" (outputs: text)');
    expect(r.stderr).toContain('b.b: links to node "nowhere", which does not exist');
    expect(r.stderr).toContain('c: unknown node type "Mystery"');
    expect(cli(["validate", "workflows/concat.maskflow.json"])).toMatchObject({ code: 0 });
  });

  it("validate and run report faults in the file's shape and in the graph together", () => {
    const dir = tmp();
    const file = join(dir, "mixed.maskflow.json");
    writeFileSync(
      file,
      JSON.stringify({
        version: 1,
        nodes: {
          mystery: { type: "Mystery", inputs: {} },
          join: { type: "Concat", inputs: { a: { nonsense: 1 } } },
          model: { type: "LoadModel", inputs: { path: { nonsense: 1 } } },
          show: { type: "ShowText", inputs: {} },
        },
      }),
    );
    const expected = [
      'mystery: unknown node type "Mystery"',
      'join.a: expected a string or a link {from, output}, got an object with key "nonsense"',
      'model.path: expected a string, got an object with key "nonsense"',
      "show.value: required input is not set",
    ];
    const validate = cli(["validate", file]);
    expect(validate.code).toBe(2);
    expect(validate.stderr).toBe(`${file}: 4 problems\n${expected.map((l) => `  ${l}\n`).join("")}`);
    const run = cli(["run", file, "--set", 'show.value={"from": "join", "output": "text"}']); // --set fills the missing input
    expect(run.code).toBe(2);
    expect(run.stderr).toBe(`invalid workflow: 3 problems\n${expected.slice(0, 3).map((l) => `  ${l}\n`).join("")}`);
  });

  it("exit codes: 2 for a missing file, bad JSON, an invalid workflow, a bad flag; never a stack trace", () => {
    const dir = tmp();
    writeFileSync(join(dir, "broken.json"), "{ not json");
    writeFileSync(join(dir, "bad.json"), JSON.stringify(faulty));
    for (const args of [
      ["run", join(dir, "missing.json")],
      ["run", join(dir, "broken.json")],
      ["run", join(dir, "bad.json")],
      ["run", "workflows/concat.maskflow.json", "--set", "noequals"],
      ["run", "workflows/concat.maskflow.json", "--set", "ghost.value=1"],
      ["run", "workflows/concat.maskflow.json", "--bogus"],
      ["frobnicate"],
    ]) {
      const r = cli(args);
      expect(r.code, args.join(" ")).toBe(2);
      expect(r.stderr, args.join(" ")).not.toMatch(/\n\s+at /);
    }
    expect(cli(["run", join(dir, "missing.json")]).stderr).toMatch(/no such file/);
    expect(cli(["run", join(dir, "broken.json")]).stderr).toMatch(/not valid JSON/);
  });

  it("a model the CLI preloaded from the workflow file follows --set, and errors name the node and input as without it", () => {
    const a = cli(["run", "workflows/hello.maskflow.json", "--json", "--set", "model.threads=1"]);
    const b = cli(["run", "workflows/hello.maskflow.json", "--json", "--set=model.threads=2"]);
    expect(a.code, a.stderr).toBe(0);
    expect(JSON.parse(a.stdout).outputs).toEqual(JSON.parse(b.stdout).outputs);
    const missing = cli(["run", "workflows/hello.maskflow.json", "--set", "model.path=no/such/model"]);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(/^error in model\.path: model folder "no\/such\/model" not found/m);
    const device = cli(["run", "--set", "model.device=dml", "workflows/hello.maskflow.json"]);
    expect(device.code).toBe(1);
    expect(device.stderr).toMatch(/^error in model\.device: device "dml" is not available/m);
  });

  it("nodes --json prints the catalog", () => {
    const r = cli(["nodes", "--json"]);
    expect(r.code).toBe(0);
    const types = (JSON.parse(r.stdout) as { type: string }[]).map((d) => d.type);
    expect(types).toEqual(expect.arrayContaining(["Text", "Concat", "ShowText"]));
  });

  it("batch records each job with its line, reports bad lines, and resumes without repeating work", () => {
    const dir = tmp();
    const inputs = join(dir, "jobs.jsonl");
    const out = join(dir, "results.jsonl");
    writeFileSync(
      inputs,
      ['{"name.value": "one"}', "", "not json", '{"name.value": "three"}', '{"ghost.value": 1}', "[1]", '{"name.value": "six"}'].join("\n"),
    );
    // an earlier run got through line 1 and was killed while writing line 4's result
    writeFileSync(out, JSON.stringify({ line: 1, overrides: { "name.value": "one" }, status: "ok", outputs: { show: { text: "Hello, one" } } }) + "\n" + '{"line": 4, "overr');
    const r = cli(["batch", "workflows/concat.maskflow.json", "--inputs", inputs, "--out", out, "--json"]);
    expect(r.code).toBe(1); // some jobs failed
    expect(r.stderr).toMatch(/line 3: not valid JSON/);
    const rows = readFileSync(out, "utf8").trim().split("\n").map((l) => JSON.parse(l));
    expect(rows.map((x) => x.line).sort()).toEqual([1, 3, 4, 5, 6, 7]);
    expect(rows.find((x) => x.line === 7)).toMatchObject({ status: "ok", outputs: { show: { text: "Hello, six" } } });
    expect(rows.find((x) => x.line === 5)).toMatchObject({ status: "error" });
    expect(JSON.parse(r.stdout)).toMatchObject({ total: 6, skipped: 1, ok: 2, failed: 3 });

    const again = cli(["batch", "workflows/concat.maskflow.json", "--inputs", inputs, "--out", out, "--json"]);
    expect(JSON.parse(again.stdout)).toMatchObject({ skipped: 6, ok: 0, failed: 0 });
    expect(readFileSync(out, "utf8").trim().split("\n")).toHaveLength(6);
  });
});

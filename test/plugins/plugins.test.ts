// Node packages through the real loader: found in MASKFLOW_NODES-style folders, a user nodes
// folder and node_modules; the example package's nodes registered with their source and run by
// the executor; every broken package reported with its path and skipped, the rest still loading.
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { Executor, assembleRegistry, definitionProblems, formatSkipped } from "../../engine/index.js";
import { builtinNodes } from "../../nodes/index.js";
import { EXAMPLE, writePackages } from "./packages.js";

const none = { userDir: null, npmRoots: [] };

describe("node packages", () => {
  it("registers the example package's nodes with their source, and they run", async () => {
    const { registry, packages, skipped } = await assembleRegistry(builtinNodes, { ...none, folders: [EXAMPLE] });
    expect(skipped).toEqual([]);
    expect(packages).toEqual([{ name: "maskflow-nodes-text-tools", path: EXAMPLE, origin: "MASKFLOW_NODES", types: ["RegexReplace", "DropRepeats"] }]);
    const entry = registry.catalog().find((e) => e.type === "RegexReplace");
    expect(entry?.source).toEqual({ package: "maskflow-nodes-text-tools", path: EXAMPLE });
    expect(registry.catalog().find((e) => e.type === "Text")?.source).toBeUndefined();

    const executor = new Executor(registry);
    const result = await executor.run({
      version: 1,
      nodes: {
        t: { type: "Text", inputs: { value: "It was late. It was  late. The the the dog slept." } },
        d: { type: "DropRepeats", inputs: { text: { from: "t", output: "text" } } },
        r: { type: "RegexReplace", inputs: { text: { from: "d", output: "text" }, pattern: "(\\w+) slept", replacement: "$1 woke", flags: "" } },
        show: { type: "ShowText", inputs: { value: { from: "r", output: "text" } } },
      },
    });
    expect(result.outputs.show).toEqual({ text: "It was late. The dog woke." });
  });

  it("names the input when a package's node fails (a bad pattern)", async () => {
    const { registry } = await assembleRegistry(builtinNodes, { ...none, folders: [EXAMPLE] });
    const result = await new Executor(registry).run({
      version: 1,
      nodes: {
        r: { type: "RegexReplace", inputs: { text: "x", pattern: "(" } },
        show: { type: "ShowText", inputs: { value: { from: "r", output: "text" } } },
      },
    });
    expect(result.error).toMatchObject({ nodeId: "r", input: "pattern", message: expect.stringMatching(/Unterminated group/) });
  });

  it("reports each broken package with its path and reason, skips it whole, and loads the rest", async () => {
    const set = writePackages();
    const { registry, packages, skipped } = await assembleRegistry(builtinNodes, { ...none, folders: [...set.broken, set.good, join(set.root, "missing")] });
    expect(packages.map((p) => p.name)).toEqual(["maskflow-nodes-shout"]);
    expect(registry.get("Shout")).toBeDefined();
    // The taken package's other node is not loaded either: a package loads whole or not at all.
    expect(registry.get("Shout2")).toBeUndefined();
    const byPath = new Map(skipped.map((s) => [s.path, s.problems.join("; ")]));
    expect([...byPath.keys()]).toEqual([...set.broken, join(set.root, "missing")]);
    // Under vitest the import goes through Vite's module runner, which words a syntax error its own
    // way; the CLI test sees Node's own ("syntax error in <file>:<line>: ...").
    expect(byPath.get(set.syntax)).toContain(join(set.syntax, "index.js"));
    expect(byPath.get(set.syntax)).toMatch(/Unexpected token/);
    expect(byPath.get(set.throws)).toBe(`importing ${join(set.throws, "index.js")} threw: no GPU here`);
    expect(byPath.get(set.invalid)).toBe(
      'node "Half": version 0 is not a whole number >= 1; node "Half": input "x".socket: unknown socket type "PICTURE" (known: MODEL, TEXT, SCHEDULE, CANVAS, CANVASES, NUMBER); node "Half": execute is not a function',
    );
    expect(byPath.get(set.taken)).toBe('node type "Text" is already taken by a built-in node');
    expect(byPath.get(set.empty)).toMatch(/exports no node definitions/);
    expect(byPath.get(join(set.root, "missing"))).toBe("no such file or folder");
    expect(formatSkipped(skipped[1])).toBe(`node package maskflow-nodes-throws (${set.throws}) skipped: importing ${join(set.throws, "index.js")} threw: no GPU here`);
  });

  it("refuses a second package that takes a type the first one has, naming the first", async () => {
    const set = writePackages();
    const copy = join(set.root, "copy");
    mkdirSync(copy);
    writeFileSync(join(copy, "index.js"), `export { nodes } from ${JSON.stringify(join(set.good, "index.js"))};\n`);
    const { skipped } = await assembleRegistry(builtinNodes, { ...none, folders: [set.good, copy] });
    expect(skipped.map((s) => s.problems)).toEqual([[`node type "Shout" is already taken by package maskflow-nodes-shout (${set.good})`]]);
  });

  it("finds packages in the user folder (folders and one-file packages) and in node_modules (by name or a maskflow field)", async () => {
    const set = writePackages();
    const user = mkdtempSync(join(tmpdir(), "maskflow-user-nodes-"));
    writeFileSync(join(user, "loud.js"), `export default { type: "Loud", version: 1, title: "Loud", category: "text", description: "", inputs: {}, outputs: { text: { socket: "TEXT" } }, execute: () => ({ text: "LOUD" }) };\n`);
    writeFileSync(join(user, "notes.txt"), "not a package");
    const modules = mkdtempSync(join(tmpdir(), "maskflow-node-modules-"));
    const pkg = (dir: string, json: object, type: string) => {
      mkdirSync(dir, { recursive: true });
      writeFileSync(join(dir, "package.json"), JSON.stringify({ type: "module", ...json }));
      writeFileSync(join(dir, "main.js"), `export default { type: "${type}", version: 1, title: "${type}", category: "t", description: "", inputs: {}, outputs: { text: { socket: "TEXT" } }, execute: () => ({ text: "${type}" }) };\n`);
    };
    pkg(join(modules, "maskflow-nodes-by-name"), { name: "maskflow-nodes-by-name", main: "main.js" }, "ByName");
    pkg(join(modules, "@acme", "writers"), { name: "@acme/writers", exports: { ".": { import: "./main.js" } }, maskflow: {} }, "ByField");
    pkg(join(modules, "left-pad"), { name: "left-pad", main: "main.js" }, "NotMine");
    const { packages, skipped } = await assembleRegistry(builtinNodes, { folders: [set.good], userDir: user, npmRoots: [modules, modules] });
    expect(skipped).toEqual([]);
    expect(packages.map((p) => [p.name, p.origin, p.types])).toEqual([
      ["maskflow-nodes-shout", "MASKFLOW_NODES", ["Shout"]],
      ["loud", "user", ["Loud"]],
      ["@acme/writers", "npm", ["ByField"]],
      ["maskflow-nodes-by-name", "npm", ["ByName"]],
    ]);
  });

  it("in a project's node_modules, a \"maskflow\" field counts on the project's own dependencies (names always count)", async () => {
    const project = mkdtempSync(join(tmpdir(), "maskflow-project-"));
    writeFileSync(join(project, "package.json"), JSON.stringify({ name: "my-project", dependencies: { "@acme/writers": "1.0.0" } }));
    const write = (name: string, type: string) => {
      const dir = join(project, "node_modules", name);
      mkdirSync(dir, { recursive: true });
      writeFileSync(join(dir, "package.json"), JSON.stringify({ name, type: "module", maskflow: {} }));
      writeFileSync(join(dir, "index.js"), `export default { type: "${type}", version: 1, title: "${type}", category: "t", description: "", inputs: {}, outputs: { text: { socket: "TEXT" } }, execute: () => ({ text: "" }) };\n`);
    };
    write("@acme/writers", "Declared");
    write("some-transitive-dep", "Transitive");
    write("maskflow-nodes-undeclared", "ByName");
    const { packages } = await assembleRegistry(builtinNodes, { folders: [], userDir: null, npmRoots: [join(project, "node_modules")] });
    expect(packages.map((p) => p.name).sort()).toEqual(["@acme/writers", "maskflow-nodes-undeclared"]);
  });

  it("the engine imports no node: only the CLI's registry module names nodes/", () => {
    const engine = join(import.meta.dirname, "../../engine");
    const files = readdirSync(engine, { recursive: true, encoding: "utf8" }).filter((f) => f.endsWith(".ts"));
    const importers = files.filter((f) => /from "(\.\.\/)+nodes\//.test(readFileSync(join(engine, f), "utf8")));
    expect(importers).toEqual([join("cli", "registry.ts")]);
  });

  it("the definition check accepts every built-in node", () => {
    for (const def of builtinNodes) expect(definitionProblems(def), def.type).toEqual([]);
  });
});

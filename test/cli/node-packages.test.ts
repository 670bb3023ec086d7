// Node packages through the real CLI (dist/, a fresh process) and the real `maskflow serve`:
// the example package from MASKFLOW_NODES and from the user nodes folder, shown with its source
// by `maskflow nodes`, run by `maskflow run` and over the server's API; broken packages reported
// with their paths on stderr while everything else works.
import { cpSync, mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { delimiter, join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { EXAMPLE, writePackages } from "../plugins/packages.js";
import { cli, cliProcess } from "./run-cli.js";

const TIDY = join(EXAMPLE, "tidy.maskflow.json");
const TIDIED = "He went to the window. He turned to the window. The window was open.\n";
const withExample = { MASKFLOW_NODES: EXAMPLE };

describe("maskflow with node packages", () => {
  it("nodes lists the example's nodes under their package and path, built-ins under 'built in'; --json carries the source", () => {
    const r = cli(["nodes"], { env: withExample });
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^built in:\n  LoadModel /);
    expect(r.stdout).toContain(`\nfrom maskflow-nodes-text-tools (${EXAMPLE}):\n  RegexReplace `);
    expect(r.stdout).toContain("\n  DropRepeats ");
    const json = JSON.parse(cli(["nodes", "--json"], { env: withExample }).stdout) as { type: string; source?: unknown }[];
    expect(json.find((e) => e.type === "DropRepeats")?.source).toEqual({ package: "maskflow-nodes-text-tools", path: EXAMPLE });
    expect(json.find((e) => e.type === "Denoise")?.source).toBeUndefined();
  });

  it("runs and validates a workflow that uses them; without the package its nodes are unknown", () => {
    expect(cli(["run", TIDY], { env: withExample })).toMatchObject({ code: 0, stdout: TIDIED, stderr: "" });
    expect(cli(["validate", TIDY], { env: withExample })).toMatchObject({ code: 0 });
    const without = cli(["validate", TIDY]);
    expect(without.code).toBe(2);
    expect(without.stderr).toContain('tidy: unknown node type "DropRepeats"');
  });

  it("loads a package copied into the user nodes folder", () => {
    const user = mkdtempSync(join(tmpdir(), "maskflow-user-"));
    cpSync(EXAMPLE, join(user, "text-tools"), { recursive: true });
    expect(cli(["run", TIDY], { env: { MASKFLOW_NODES_DIR: user } })).toMatchObject({ code: 0, stdout: TIDIED });
  });

  it("reports every broken package with its path on stderr, skips it, and still runs", () => {
    const set = writePackages();
    const r = cli(["run", TIDY, "--json"], { env: { MASKFLOW_NODES: [...set.broken, EXAMPLE].join(delimiter) } });
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout).outputs.show.text).toBe(TIDIED.trimEnd());
    const warnings = r.stderr.trim().split("\n");
    expect(warnings).toHaveLength(set.broken.length);
    expect(warnings[0]).toMatch(new RegExp(`^warning: node package maskflow-nodes-syntax \\(${set.syntax}\\) skipped: syntax error in ${join(set.syntax, "index.js")}:2: `));
    expect(warnings[1]).toBe(`warning: node package maskflow-nodes-throws (${set.throws}) skipped: importing ${join(set.throws, "index.js")} threw: no GPU here`);
    expect(warnings[2]).toContain(`maskflow-nodes-invalid (${set.invalid}) skipped: node "Half": version 0`);
    expect(warnings[3]).toContain(`maskflow-nodes-taken (${set.taken}) skipped: node type "Text" is already taken by a built-in node`);
    expect(warnings[4]).toContain(`(${set.empty}) skipped: ${join(set.empty, "index.js")} exports no node definitions`);
    const nodes = cli(["nodes"], { env: { MASKFLOW_NODES: set.throws } });
    expect(nodes.stdout).toContain(`skipped maskflow-nodes-throws (${set.throws}):\n  importing`);
  });
});

describe("maskflow serve with node packages", () => {
  const children: ReturnType<typeof cliProcess>[] = [];
  afterAll(() => {
    for (const child of children) child.kill("SIGTERM");
  });

  it("serves the example's nodes in the catalog with their source and runs them", async () => {
    const child = cliProcess(["serve", "--port", "0"], withExample);
    children.push(child);
    let out = "";
    const url = await new Promise<string>((resolve, reject) => {
      child.stdout.on("data", (chunk: Buffer) => {
        out += chunk.toString();
        const match = /editor at (http:\/\/\S+)/.exec(out);
        if (match) resolve(match[1]);
      });
      child.once("exit", (code) => reject(new Error(`serve exited ${code}: ${out}`)));
    });
    const origin = new URL(url).origin;
    const catalog = (await (await fetch(`${origin}/api/nodes`)).json()) as { type: string; source?: { package: string } }[];
    expect(catalog.find((e) => e.type === "RegexReplace")?.source?.package).toBe("maskflow-nodes-text-tools");
    const { readFileSync } = await import("node:fs");
    const workflow = JSON.parse(readFileSync(TIDY, "utf8"));
    const posted = await fetch(`${origin}/api/runs`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ workflow }) });
    expect(posted.status).toBe(201);
    const { id } = (await posted.json()) as { id: string };
    let run: { status: string; outputs?: Record<string, { text: string }> } = { status: "queued" };
    for (let i = 0; i < 100 && (run.status === "queued" || run.status === "running"); i++) {
      await new Promise((r) => setTimeout(r, 50));
      run = (await (await fetch(`${origin}/api/runs/${id}`)).json()) as typeof run;
    }
    expect(run.status).toBe("finished");
    expect(run.outputs?.show.text).toBe(TIDIED.trimEnd());
  });
});

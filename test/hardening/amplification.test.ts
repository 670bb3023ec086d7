// Issue 18, item 7: no amplification and no 500s. A graph full of cycles gets one issue per loop
// (strongly connected component), cut short, with a count: not every cycle with its whole path
// (a 553 KB graph once made a 112 MB answer). Names that are also Object's (constructor,
// toString, __proto__) are data; too many nodes or too deep a value is a 400 naming the limit, up
// front, so no run is stored that could never be sent back.
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { cli } from "../cli/run-cli.js";
import { startServed, runToEnd, whileHealthy, hasStackTrace, type Served } from "./served.js";

const link = (from: string) => ({ from, output: "text" });

/** A chain n0 <- n1 <- ... with every node also reading n0: each node closes another, longer cycle. */
export function cycleBomb(n: number, idLength = 200) {
  const id = (i: number) => `n${i}`.padEnd(idLength, "x");
  const nodes: Record<string, unknown> = {};
  for (let i = 0; i < n; i++) nodes[id(i)] = { type: "Concat", inputs: { a: link(id((i + 1) % n)), b: link(id(0)) } };
  nodes.show = { type: "ShowText", inputs: { value: link(id(0)) } };
  return { version: 1, nodes };
}

/** JSON text of `doc` with each "DEEP" string replaced by a list nested `depth` deep (too deep for JSON.stringify itself). */
function withDeep(doc: unknown, depth: number): string {
  return JSON.stringify(doc).split('"DEEP"').join("[".repeat(depth) + '"x"' + "]".repeat(depth));
}

/** Names that are Object.prototype's members, as node ids, links and an override key. */
const prototypeNames = {
  version: 1,
  nodes: {
    constructor: { type: "Text", inputs: { value: "built" } },
    toString: { type: "Concat", inputs: { a: link("constructor"), b: "from data" } },
    hasOwnProperty: { type: "ShowText", inputs: { value: link("toString") } },
  },
};

describe("a served instance and amplifying or oversized graphs", () => {
  let served: Served;
  beforeAll(async () => {
    served = await startServed();
  });
  afterAll(async () => {
    await served?.close();
  });

  it("reports each loop once, briefly: a 1,000-node cycle bomb gets a small answer, and /api/health answers within 100 ms", async () => {
    const bomb = cycleBomb(999);
    const body = JSON.stringify({ workflow: bomb });
    expect(body.length).toBeGreaterThan(500_000);
    const { value: answer, addedMs, budgetMs } = await whileHealthy(served, () => served.api("POST", "/api/validate", body));
    expect(answer.status).toBe(200);
    expect(answer.bytes).toBeLessThan(20_000);
    const cycles = answer.json.issues.filter((i: { code: string }) => i.code === "cycle");
    expect(cycles).toHaveLength(1);
    expect(cycles[0].message).toMatch(/999 nodes are in this loop/);
    expect(addedMs).toBeLessThan(budgetMs);
  });

  it("treats constructor, toString and hasOwnProperty as names: the workflow runs, overrides reach it", async () => {
    const run = await runToEnd(served, prototypeNames, { "constructor.value": "overridden" });
    expect(run.status, JSON.stringify(run)).toBe("finished");
    expect(run.outputs.hasOwnProperty.text).toBe("overridden from data");
    for (const overrides of [{ "toString.x": 1 }, { "valueOf.value": 1 }, { "__proto__.value": 1 }, { "constructor.__proto__": 1 }]) {
      const r = await served.api("POST", "/api/runs", { workflow: prototypeNames, overrides });
      expect(r.status, JSON.stringify(overrides)).toBe(400);
      expect(r.json.details.length).toBeGreaterThan(0);
    }
    const dangling = { version: 1, nodes: { show: { type: "ShowText", inputs: { value: link("toString") } }, x: { type: "Text", inputs: { valueOf: 1 } } } };
    const r = await served.api("POST", "/api/validate", { workflow: dangling });
    expect(r.status).toBe(200);
    expect(r.json.issues.map((i: { code: string }) => i.code).sort()).toEqual(["missing_node", "unknown_input"]);
  });

  it("answers 400 naming the limit for 20,001 nodes, a 100,000-deep constant and a deeply nested ui", async () => {
    const many: Record<string, unknown> = {};
    for (let i = 0; i < 20_001; i++) many[`t${i}`] = { type: "Text", inputs: { value: "" } };
    const cases = [
      { body: JSON.stringify({ workflow: { version: 1, nodes: many } }), limit: /maxNodes/ },
      { body: withDeep({ workflow: { version: 1, nodes: { t: { type: "Text", inputs: { value: "DEEP" } }, s: { type: "ShowText", inputs: { value: link("t") } } } } }, 100_000), limit: /maxJsonDepth/ },
      { body: withDeep({ workflow: { ...prototypeNames, ui: { view: "DEEP" } } }, 5_000), limit: /maxJsonDepth/ },
    ];
    for (const { body, limit } of cases) {
      for (const path of ["/api/runs", "/api/validate"]) {
        const r = await served.api("POST", path, body);
        expect(r.status, path).toBe(path === "/api/runs" ? 400 : 200);
        const issues = path === "/api/runs" ? r.json.details : r.json.issues;
        expect(issues[0].code).toBe("limit");
        expect(issues[0].message).toMatch(limit);
      }
    }
    const overrides = await served.api("POST", "/api/runs", withDeep({ workflow: prototypeNames, overrides: { "constructor.value": "DEEP" } }, 10_000));
    expect(overrides.status).toBe(400);
    expect(overrides.json.details[0].message).toMatch(/maxJsonDepth/);
    // Every stored run can be sent back.
    for (const run of (await served.api("GET", "/api/runs")).json) expect((await served.api("GET", `/api/runs/${run.id}`)).status).toBe(200);
    expect(hasStackTrace(served.stderr())).toBe(false);
  });
});

describe("the CLI and the same graphs", () => {
  const dir = mkdtempSync(join(tmpdir(), "maskflow-amplify-"));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const file = (name: string, doc: unknown) => {
    const path = join(dir, name);
    writeFileSync(path, typeof doc === "string" ? doc : JSON.stringify(doc));
    return path;
  };

  it("validate: one issue per loop, limits named, prototype names as data; exit 2, never a JavaScript error", () => {
    const many: Record<string, unknown> = {};
    for (let i = 0; i < 20_001; i++) many[`t${i}`] = { type: "Text", inputs: {} };
    const bomb = cli(["validate", "--json", file("bomb.json", cycleBomb(999))]);
    expect(bomb.code).toBe(2);
    expect(bomb.stdout.length).toBeLessThan(20_000);
    for (const [name, doc, why] of [
      ["many.json", { version: 1, nodes: many }, /maxNodes/],
      ["deep.json", withDeep({ version: 1, nodes: { t: { type: "Text", inputs: { value: "DEEP" } } } }, 100_000), /maxJsonDepth/],
      ["proto.json", { version: 1, nodes: { show: { type: "ShowText", inputs: { value: link("toString") } } } }, /links to node "toString", which does not exist/],
    ] as const) {
      const r = cli(["validate", file(name, doc)]);
      expect(r.code, r.stderr).toBe(2);
      expect(r.stderr).toMatch(why);
      expect(r.stderr).not.toMatch(/TypeError|RangeError|Maximum call stack|\n\s+at /);
    }
    const ran = cli(["run", file("proto-run.json", prototypeNames), "--set", "constructor.value=set"]);
    expect(ran.code, ran.stderr).toBe(0);
    expect(ran.stdout).toBe("set from data\n");
  });
});

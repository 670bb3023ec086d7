// `maskflow run` says when a node did nothing useful: a Remask whose pattern matches nothing
// finishes, and `--json` lists the warning (node and message); without --json it goes to stderr.
import { describe, expect, it } from "vitest";
import { cli } from "./run-cli.js";

const noMatch = ["--set", "remask.strategy=pattern", "--set", "remask.pattern=zzqx", "--set", "draft.gen_length=8", "--set", "schedule.steps=8"];

describe("warnings", () => {
  it("--json lists a Remask that matched nothing under warnings", () => {
    const r = cli(["run", "workflows/edit.maskflow.json", "--json", ...noMatch]);
    expect(r.code).toBe(0);
    const out = JSON.parse(r.stdout);
    expect(out.status).toBe("finished");
    expect(out.warnings).toEqual([{ nodeId: "remask", message: expect.stringMatching(/^nothing matched/) }]);
    expect(Object.keys(out)).toEqual(["status", "outputs", "warnings", "stats"]);
  });

  it("prints warnings on stderr without --json, and none when there are none", () => {
    const warned = cli(["run", "workflows/edit.maskflow.json", ...noMatch]);
    expect(warned.code).toBe(0);
    expect(warned.stderr).toMatch(/^warning in remask: nothing matched/m);
    const clean = cli(["run", "workflows/concat.maskflow.json", "--json"]);
    expect(JSON.parse(clean.stdout).warnings).toEqual([]);
  });
});

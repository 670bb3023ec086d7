// The fuzz test (issue 18): 1,000 workflows, 500 adapter folders and 300 model folders, made from
// a fixed seed, against the CLI (validate, run, batch) and a live server (validate, runs). Zero
// crashes, zero raw stack traces or escaped JavaScript errors, zero 500s, no file content quoted.
// MASKFLOW_FUZZ_SEED=<n> replays another seed; MASKFLOW_FUZZ_SOAK=<factor> multiplies the cases
// (a longer soak, not for CI). Slow by nature: each case that loads (about 30 adapters and 30
// models) is a model session; two to three minutes on a quiet 2-core machine.
import { spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DEFAULT_MODEL, ROMANCE, ROOT, helloWith, loraWith, startServed, type Served } from "../hardening/served.js";
import { Findings } from "./check.js";
import { generateAdapters } from "./gen-adapters.js";
import { generateModels } from "./gen-models.js";
import { generateWorkflows, type WorkflowCase } from "./gen-workflows.js";
import { Random, fuzzSettings } from "./random.js";

const { seed, scale } = fuzzSettings();
const COUNTS = { workflows: 1000 * scale, adapters: 500 * scale, models: 300 * scale };
const SLOW = 1_200_000 * scale;

let served: Served;
let scratch: string;
let adapters: string[];
let models: string[];
let workflows: WorkflowCase[];

beforeAll(async () => {
  served = await startServed({ env: { MASKFLOW_LIMITS: "maxModels=3" } });
  scratch = mkdtempSync(join(tmpdir(), "maskflow-fuzz-"));
  const outsideFile = join(scratch, "secret.txt");
  writeFileSync(outsideFile, "TOPSECRET-fuzz");
  const rng = new Random(seed);
  adapters = generateAdapters(rng, COUNTS.adapters, served.models, { romance: ROMANCE, outsideFile });
  models = generateModels(rng, COUNTS.models, served.models, DEFAULT_MODEL);
  const paths = ["models/default", "models/loras/romance", "/etc/passwd", "../../..", "/dev/zero", scratch, outsideFile, "", ...adapters.slice(0, 20), ...models.slice(0, 20)];
  workflows = generateWorkflows(rng, COUNTS.workflows, ROOT, paths);
}, 120_000);

afterAll(async () => {
  await served?.close();
  if (scratch) rmSync(scratch, { recursive: true, force: true });
});

/** Runs `job` over `items` with `width` in flight. */
async function pool<T>(items: T[], width: number, job: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(Array.from({ length: width }, async () => {
    while (next < items.length) await job(items[next++]);
  }));
}

/** Waits for a run to end; one still running after `ms` is cancelled (a legitimately long workflow). */
async function finish(id: string, ms: number): Promise<any> {
  const deadline = Date.now() + ms;
  let cancelled = false;
  for (;;) {
    const { json } = await served.api("GET", `/api/runs/${id}`);
    if (["finished", "failed", "cancelled"].includes(json?.status)) return json;
    if (!cancelled && Date.now() > deadline) {
      await served.api("DELETE", `/api/runs/${id}`);
      cancelled = true;
    }
    await new Promise((r) => setTimeout(r, 30));
  }
}

/** A request that got no answer at all: the server died or hung. Recorded with what it printed. */
function lostServer(findings: Findings, what: string, err: unknown): void {
  findings.add(`${what}: no answer (${(err as Error).message}); the server ${served.alive() ? "is alive" : "has exited"}; its stderr ends: ${served.stderr().slice(-1500)}`);
}

function checkAnswer(findings: Findings, what: string, answer: { status: number; json: any }): void {
  if (answer.status >= 500) findings.add(`${what}: HTTP ${answer.status}: ${JSON.stringify(answer.json).slice(0, 300)}`);
  if (answer.status >= 400 && (typeof answer.json?.error !== "string" || !Array.isArray(answer.json?.details))) findings.add(`${what}: an error answer without {error, details}`);
  findings.text(what, JSON.stringify(answer.json));
}

function checkRun(findings: Findings, what: string, run: any): void {
  if (!["finished", "failed", "cancelled"].includes(run?.status)) findings.add(`${what}: ended as ${run?.status}`);
  if (run?.status === "failed" && (typeof run.error?.message !== "string" || run.error.message === "")) findings.add(`${what}: failed without a message`);
  findings.text(what, JSON.stringify(run?.error ?? null));
}

describe(`fuzz, seed ${seed}: a live server`, () => {
  it(`${COUNTS.workflows} workflows: validated, and run when valid`, async () => {
    const findings = new Findings();
    const valid: WorkflowCase[] = [];
    await pool(workflows, 4, async (c) => {
      const body = `{"workflow": ${c.text}, "overrides": ${JSON.stringify(c.overrides)}}`;
      try {
        const answer = await served.api("POST", "/api/validate", body);
        checkAnswer(findings, `${c.name} validate`, answer);
        if (answer.status === 200 && Array.isArray(answer.json.issues) && answer.json.issues.length === 0) valid.push(c);
      } catch (err) {
        lostServer(findings, `${c.name} validate`, err);
      }
    });
    for (const c of valid) {
      try {
        const posted = await served.api("POST", "/api/runs", `{"workflow": ${c.text}, "overrides": ${JSON.stringify(c.overrides)}}`);
        checkAnswer(findings, `${c.name} submit`, posted);
        if (posted.status !== 201) continue;
        const run = await finish(posted.json.id, 3000);
        checkRun(findings, `${c.name} run`, run);
        const detail = await served.api("GET", `/api/runs/${run.id}`);
        if (detail.status !== 200) findings.add(`${c.name}: GET /api/runs/:id answered ${detail.status}`);
      } catch (err) {
        lostServer(findings, c.name, err);
        break;
      }
    }
    expect(valid.length).toBeGreaterThan(20);
    expect(served.alive()).toBe(true);
    expect(findings.list, findings.summary()).toEqual([]);
  }, SLOW);

  it(`${COUNTS.adapters} adapter folders through Apply LoRA`, async () => {
    const findings = new Findings();
    let finished = 0;
    for (const name of adapters) {
      try {
        const posted = await served.api("POST", "/api/runs", { workflow: loraWith(name) });
        checkAnswer(findings, `${name} submit`, posted);
        if (posted.status !== 201) continue;
        const run = await finish(posted.json.id, 20_000);
        checkRun(findings, name, run);
        if (run.status === "failed" && run.error.nodeId !== "lora" && run.error.nodeId !== "model") findings.add(`${name}: failed on ${run.error.nodeId}`);
        if (run.status === "finished") finished++;
      } catch (err) {
        lostServer(findings, name, err);
        break;
      }
    }
    expect(finished).toBeGreaterThan(0);
    expect(served.alive()).toBe(true);
    expect(findings.list, findings.summary()).toEqual([]);
  }, SLOW);

  it(`${COUNTS.models} model folders through Load Model and Denoise`, async () => {
    const findings = new Findings();
    let finished = 0;
    for (const name of models) {
      try {
        const posted = await served.api("POST", "/api/runs", { workflow: helloWith({ model: name }) });
        checkAnswer(findings, `${name} submit`, posted);
        if (posted.status !== 201) continue;
        const run = await finish(posted.json.id, 20_000);
        checkRun(findings, name, run);
        if (run.status === "finished") finished++;
      } catch (err) {
        lostServer(findings, name, err);
        break;
      }
    }
    expect(finished).toBeGreaterThan(0);
    expect(served.alive()).toBe(true);
    findings.text("server stderr", served.stderr());
    expect(findings.list, findings.summary()).toEqual([]);
  }, SLOW);
});

describe(`fuzz, seed ${seed}: the CLI`, () => {
  const maskflow = (args: string[], timeout = 300_000) =>
    spawnSync(process.execPath, ["bin/maskflow.js", ...args], { cwd: ROOT, encoding: "utf8", timeout, maxBuffer: 256 << 20, env: { ...process.env, FORCE_COLOR: "0", MASKFLOW_CACHE_DIR: "off" } });

  function checkExit(findings: Findings, what: string, r: ReturnType<typeof maskflow>, allowed: number[]): void {
    if (r.status === null) findings.add(`${what}: ended by ${r.signal ?? "a timeout"}`);
    else if (!allowed.includes(r.status)) findings.add(`${what}: exit ${r.status}`);
    findings.text(`${what} stderr`, r.stderr);
  }

  it(`validates the ${COUNTS.workflows} workflows (exit 0 or 2 with every problem listed) and runs the first valid ones`, () => {
    const findings = new Findings();
    const dir = join(scratch, "workflows");
    mkdirSync(dir);
    const files = workflows.map((c) => {
      const path = join(dir, `${c.name}.maskflow.json`);
      writeFileSync(path, c.text);
      return path;
    });
    const valid: string[] = [];
    for (let at = 0; at < files.length; at += 250) {
      const chunk = files.slice(at, at + 250);
      const r = maskflow(["validate", "--json", ...chunk]);
      checkExit(findings, `validate ${at}..`, r, [0, 2]);
      const lines = r.stdout.trim().split("\n").filter(Boolean);
      if (lines.length !== chunk.length) findings.add(`validate ${at}..: ${lines.length} answers for ${chunk.length} files`);
      for (const line of lines) {
        const answer = JSON.parse(line) as { file: string; valid: boolean; issues: unknown[] };
        findings.text(answer.file, JSON.stringify(answer.issues));
        if (answer.valid) valid.push(answer.file);
      }
    }
    for (const file of valid.slice(0, 12)) checkExit(findings, `run ${file}`, maskflow(["run", file, "--json"], 60_000), [0, 1]);
    expect(valid.length).toBeGreaterThan(20);
    expect(findings.list, findings.summary()).toEqual([]);
  }, SLOW);

  function batch(name: string, workflow: unknown, input: string, folders: string[]): Findings {
    const findings = new Findings();
    const wf = join(scratch, `${name}.maskflow.json`);
    const jobs = join(scratch, `${name}.jsonl`);
    const out = join(scratch, `${name}-results.jsonl`);
    writeFileSync(wf, JSON.stringify(workflow));
    writeFileSync(jobs, folders.map((f) => JSON.stringify({ [input]: join(served.models, f) })).join("\n") + "\n");
    const r = maskflow(["batch", wf, "--inputs", jobs, "--out", out, "--limit", "maxModels=3"], SLOW);
    checkExit(findings, `batch ${name}`, r, [0, 1]);
    const results = readFileSync(out, "utf8").trim().split("\n").map((l) => JSON.parse(l) as { status: string; error?: { message: string } });
    if (results.length !== folders.length) findings.add(`batch ${name}: ${results.length} results for ${folders.length} jobs`);
    results.forEach((res, i) => findings.text(`${folders[i]} (batch)`, JSON.stringify(res.error ?? null)));
    if (!results.some((res) => res.status === "ok")) findings.add(`batch ${name}: no job finished`);
    return findings;
  }

  it(`batch-runs the ${COUNTS.adapters} adapter folders (exit 0 or 1, one result per job)`, () => {
    const findings = batch("adapters", loraWith("models/loras/romance"), "lora.path", adapters);
    expect(findings.list, findings.summary()).toEqual([]);
  }, SLOW);

  it(`batch-runs the ${COUNTS.models} model folders`, () => {
    const findings = batch("models", helloWith(), "model.path", models);
    expect(findings.list, findings.summary()).toEqual([]);
  }, SLOW);
});

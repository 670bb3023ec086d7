// `npm run bench:scale`: jobs per second of `maskflow batch --redis` on 1, 2 and 3 workers against
// the local `maskflow batch --concurrency N` on the same jobs, and what the queue adds to one job.
// Everything runs as users run it (the built CLI as processes, a redis-server of its own on a
// free port); workers are started and warmed (model loaded) before the clock starts.
import { spawn, spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { cpus, loadavg, tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { parseArgs } from "node:util";

const HELP = `npm run bench:scale -- [--jobs 200] [--tokens 16] [--repeats 2] [--out bench/scale]
Needs redis-server on PATH and a built CLI (npm run build).`;

const { values } = parseArgs({ options: { jobs: { type: "string", default: "200" }, tokens: { type: "string", default: "16" }, repeats: { type: "string", default: "2" }, out: { type: "string", default: "bench/scale" }, help: { type: "boolean", short: "h" } } });
if (values.help) {
  console.log(HELP);
  process.exit(0);
}
const JOBS = Number(values.jobs);
const TOKENS = Number(values.tokens);
/** The best of this many runs per setup: on a shared machine the slow runs measure the neighbours. */
const REPEATS = Number(values.repeats);
const ROOT = resolve(import.meta.dirname, "../..");
const WORKFLOW = join(ROOT, "workflows/hello.maskflow.json");
const dir = mkdtempSync(join(tmpdir(), "maskflow-scale-"));
const log = (line: string) => process.stderr.write(line + "\n");

/** One thread per session: N workers are N processes competing for the cores, as N machines would not. */
const job = (i: number) => ({ "denoise.seed": i, "denoise.gen_length": TOKENS, "schedule.steps": TOKENS, "schedule.block_length": TOKENS, "model.threads": 1 });
function jobsFile(name: string, n: number, offset: number): string {
  const path = join(dir, name);
  writeFileSync(path, Array.from({ length: n }, (_, i) => JSON.stringify(job(offset + i))).join("\n") + "\n");
  return path;
}

function cli(args: string[]): Promise<{ code: number | null; ms: number; out: string }> {
  const t0 = performance.now();
  const child = spawn(process.execPath, [join(ROOT, "bin/maskflow.js"), ...args], { stdio: ["ignore", "pipe", "pipe"] });
  let out = "";
  child.stdout.on("data", (c) => (out += c));
  child.stderr.on("data", (c) => (out += c));
  return new Promise((r) => child.on("exit", (code) => r({ code, ms: performance.now() - t0, out })));
}

async function freePort(): Promise<number> {
  return new Promise((r) => {
    const s = createServer().listen(0, "127.0.0.1", () => {
      const { port } = s.address() as { port: number };
      s.close(() => r(port));
    });
  });
}

async function main(): Promise<void> {
  if (spawnSync("sh", ["-c", "command -v redis-server"]).status !== 0) throw new Error("needs redis-server on PATH (apt-get install redis-server, brew install redis)");
  const port = await freePort();
  const redis = spawn("redis-server", ["--port", String(port), "--bind", "127.0.0.1", "--dir", dir, "--save", "", "--appendonly", "yes"], { stdio: "ignore" });
  await new Promise((r) => setTimeout(r, 300));
  const url = `redis://127.0.0.1:${port}`;
  const load0 = loadavg()[0];
  const rows: { setup: string; seconds: number; jobsPerSecond: number }[] = [];
  let offset = 0;
  // Each measurement gets fresh seeds: nothing is served from a cache.
  const measure = async (setup: string, args: (inputs: string, out: string) => string[]) => {
    let best = Infinity;
    for (let r = 0; r < REPEATS; r++) {
      const inputs = jobsFile(`${rows.length}-${r}.jsonl`, JOBS, (offset += JOBS));
      const run = await cli(args(inputs, join(dir, `${rows.length}-${r}.out.jsonl`)));
      if (run.code !== 0) throw new Error(`${setup} failed:\n${run.out}`);
      best = Math.min(best, run.ms);
    }
    rows.push({ setup, seconds: best / 1000, jobsPerSecond: JOBS / (best / 1000) });
    log(`${setup}: ${(JOBS / (best / 1000)).toFixed(1)} jobs/s`);
  };
  try {
    for (const n of [1, 2, 3]) await measure(`local batch --concurrency ${n}`, (inputs, out) => ["batch", WORKFLOW, "--inputs", inputs, "--out", out, "--concurrency", String(n)]);

    const workers: ReturnType<typeof spawn>[] = [];
    let latency: { roundTripMs: number; runMs: number } | null = null;
    for (const n of [1, 2, 3]) {
      while (workers.length < n) {
        const w = spawn(process.execPath, [join(ROOT, "bin/maskflow.js"), "worker", "--redis", url, "--name", `bench-${workers.length + 1}`], { stdio: ["ignore", "pipe", "inherit"] });
        await new Promise<void>((r) => w.stdout!.on("data", (c) => String(c).includes("taking jobs") && r()));
        workers.push(w);
      }
      // Warm every worker (its model loaded) before timing.
      const warm = await cli(["batch", WORKFLOW, "--inputs", jobsFile(`warm${n}.jsonl`, 4 * n, (offset += 4 * n)), "--out", join(dir, `warm${n}.out`), "--redis", url]);
      if (warm.code !== 0) throw new Error(warm.out);
      if (n === 1) latency = await oneJobLatency(url, () => (offset += 1));
      await measure(`${n} worker${n > 1 ? "s" : ""} (batch --redis)`, (inputs, out) => ["batch", WORKFLOW, "--inputs", inputs, "--out", out, "--redis", url]);
    }
    for (const w of workers) w.kill("SIGTERM");
    writeResults(rows, latency!, load0);
  } finally {
    redis.kill("SIGTERM");
    rmSync(dir, { recursive: true, force: true });
  }
}

/** A one-job batch, end to end, against the run itself: the median of 10, on an idle warm worker. */
async function oneJobLatency(url: string, next: () => number): Promise<{ roundTripMs: number; runMs: number }> {
  const { runQueuedBatch } = await import("../../engine/queue/index.js");
  const { loadWorkflowFile } = await import("../../engine/index.js");
  const doc = await loadWorkflowFile(WORKFLOW);
  const trips: number[] = [];
  const runs: number[] = [];
  for (let i = 0; i < 10; i++) {
    const t0 = performance.now();
    await runQueuedBatch({ redis: url, doc, jobs: [{ line: 1, overrides: job(next()) }], record: (r) => void runs.push(r.ms ?? 0) });
    trips.push(performance.now() - t0);
  }
  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
  return { roundTripMs: median(trips), runMs: median(runs) };
}

function writeResults(rows: { setup: string; seconds: number; jobsPerSecond: number }[], latency: { roundTripMs: number; runMs: number }, load0: number): void {
  const cpu = cpus()[0]?.model ?? "unknown CPU";
  const md = [
    `# Scale: jobs/s through Redis against a local batch`,
    "",
    `${JOBS} jobs of the hello workflow (${TOKENS} tokens, ${TOKENS} steps, one ONNX thread per run), ${cpus().length} cores (${cpu}), load average ${load0.toFixed(1)} at the start and ${loadavg()[0].toFixed(1)} at the end. All workers run on this one machine, so past the core count they compete for the same cores. Seconds are each batch command's wall time, start to exit, the best of ${REPEATS}: the local batch loads its model in that time, the workers were warmed before.`,
    "",
    "| setup | seconds | jobs/s |",
    "|---|---:|---:|",
    ...rows.map((r) => `| ${r.setup} | ${r.seconds.toFixed(1)} | ${r.jobsPerSecond.toFixed(1)} |`),
    "",
    `One job through the queue (a one-job \`batch --redis\` from connecting to the written result, idle warm worker, median of 10): ${latency.roundTripMs.toFixed(0)} ms, of which the run itself ${latency.runMs.toFixed(0)} ms: the queue adds about ${(latency.roundTripMs - latency.runMs).toFixed(0)} ms per job when nothing waits.`,
    "",
  ].join("\n");
  const out = resolve(ROOT, values.out!);
  writeFileSync(join(out, "results.md"), md);
  writeFileSync(join(out, "results.json"), JSON.stringify({ jobs: JOBS, tokens: TOKENS, repeats: REPEATS, cores: cpus().length, cpu, load: [load0, loadavg()[0]], rows, latency }, null, 2) + "\n");
  process.stdout.write(md);
}

await main();

// `npm run bench` must not rot: run it in its seconds-long smoke mode (Maskflow only; with the
// Python reference too where torch is installed) and check what it writes.
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";

const PYTHON = "/usr/bin/python3";
const hasTorch = spawnSync(PYTHON, ["-c", "import torch, onnx"], { encoding: "utf8" }).status === 0;
const dirs: string[] = [];

afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

function bench(args: string[]) {
  const out = mkdtempSync(join(tmpdir(), "maskflow-bench-"));
  dirs.push(out);
  const r = spawnSync(process.execPath, ["--import", "tsx", "bench/run.ts", "--smoke", "--no-startup", "--json", "--out", out, ...args], {
    encoding: "utf8",
    timeout: 150_000,
  });
  return { ...r, out };
}

const figureFields = [
  "wall_ms",
  "model_ms",
  "forwards",
  "median_wall_ms",
  "tokens_per_s",
  "ms_per_forward",
  "model_ms_per_forward",
  "other_ms_per_forward",
  "other_share",
  "peak_rss_mb",
];

function expectFigures(f: Record<string, unknown>) {
  for (const k of figureFields) expect(f, k).toHaveProperty(k);
  expect(f.forwards as number).toBeGreaterThan(0);
  expect(f.tokens_per_s as number).toBeGreaterThan(0);
  expect((f.model_ms_per_forward as number) + (f.other_ms_per_forward as number)).toBeCloseTo(f.ms_per_forward as number, 0);
}

describe("npm run bench", () => {
  it("writes results.json and results.md (Maskflow only)", { timeout: 180_000 }, () => {
    const r = bench(["--no-reference"]);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/\[1\/2\] p8-g16-s8-b16: maskflow repeat 1\/1 · elapsed .* · ETA/);

    const results = JSON.parse(readFileSync(join(r.out, "results.json"), "utf8"));
    expect(JSON.parse(r.stdout)).toEqual(results); // --json prints the same object
    expect(results).toMatchObject({ schema: 1, mode: "smoke", startup: null });
    for (const k of ["cpu", "cores", "ram_gb", "os", "node", "onnxruntime_node", "load_avg_start", "load_avg_end"]) expect(results.machine).toHaveProperty(k);
    expect(results.settings.threads.maskflow).toBeGreaterThan(0);
    expect(results.settings.reference).toBeNull();
    expect(results.settings.model.onnx_sha256).toMatch(/^[0-9a-f]{64}$/);

    expect(results.workloads.map((w: { name: string }) => w.name)).toEqual(["p8-g16-s8-b16", "x8-p8-g8-s4-b8"]);
    for (const w of results.workloads) {
      expect(w.maskflow_error).toBeUndefined();
      expectFigures(w.maskflow);
      expect(w.maskflow_deterministic).toBe(true);
      expect(w.reference).toBeNull();
      expect(w.ratio).toBeNull();
      expect(w.mismatch).toBeNull();
      for (const v of w.variants) {
        expect(typeof v.name).toBe("string");
        if (v.available) {
          expectFigures(v.maskflow);
          expect(v.differ_from_exact.of).toBe(w.gen_length * w.batch);
        } else {
          expect(v.reason).toMatch(/\S/); // a variant that cannot run says why
        }
      }
    }
    const [single, batch] = results.workloads;
    expect(single.batch).toBe(1);
    expect(batch.batch).toBe(8);
    expect(batch.maskflow.forwards).toBeGreaterThanOrEqual(4);
    expect(single.variants.map((v: { name: string }) => v.name)).toEqual(["head-off", "full-logits", "threshold", "cache-prefix", "candidates-5"]);
    // recording candidates changes no token
    expect(single.variants.find((v: { name: string }) => v.name === "candidates-5")).toMatchObject({ available: true, differ_from_exact: { tokens: 0 } });
    expect(batch.variants.map((v: { name: string }) => v.name)).toEqual(["batched"]);

    const md = readFileSync(join(r.out, "results.md"), "utf8");
    expect(md).toContain("# Maskflow benchmark (smoke)");
    expect(md).toContain("| workload | shape | Maskflow tok/s | reference tok/s | ratio |");
    expect(md).toContain("| p8-g16-s8-b16 |");
    expect(md).toContain("## Maskflow variants");

    // the real-size section, on a tiny shape: convert at two depths, measure steps, project
    const real = JSON.parse(readFileSync(join(r.out, "real-size.json"), "utf8"));
    expect(real.rows).toHaveLength(1);
    const [row] = real.rows;
    expect(row).toMatchObject({ shape: "tiny", dtype: "int4", fullDepth: 4 });
    expect(row.points.map((p: { layers: number }) => p.layers)).toEqual([1, 2]);
    for (const p of row.points) {
      expect(p.convert.peakRssMiB).toBeGreaterThan(0);
      expect(p.steps.fullMs).toBeGreaterThan(0);
      expect(p.steps.prefixMs).toHaveLength(4);
    }
    for (const v of Object.values(row.projected.tokensPerSecond)) expect(v as number).toBeGreaterThan(0);
    expect(row.projected.parameters).toBeGreaterThan(row.points[1].convert.parameters);
    expect(readFileSync(join(r.out, "real-size.md"), "utf8")).toContain("| tiny (4 layers, projected) | int4 |");
  });

  it.skipIf(!hasTorch)("runs the PyTorch reference side by side and compares tokens", { timeout: 180_000 }, () => {
    const r = bench(["--filter", "p8-g16", "--no-variants", "--python", PYTHON]);
    expect(r.status, r.stderr).toBe(0);
    const results = JSON.parse(readFileSync(join(r.out, "results.json"), "utf8"));
    expect(results.settings.reference).toMatchObject({ threads: results.settings.threads.maskflow });
    expect(results.settings.reference.torch).toMatch(/\d/);
    const [w] = results.workloads;
    expect(w.reference_error).toBeUndefined();
    expectFigures(w.reference);
    expect(w.reference.forwards).toBe(w.maskflow.forwards);
    expect(w.ratio).toBeGreaterThan(0);
    expect(w.mismatch).toMatchObject({ of: 16 });
    expect(typeof w.mismatch.tokens).toBe("number");
  });
});

describe("bench/device.ts (per execution provider)", () => {
  it("measures forwards and a generation on the CPU and writes its JSON", () => {
    const out = mkdtempSync(join(tmpdir(), "maskflow-device-"));
    dirs.push(out);
    const file = join(out, "cpu.json");
    const r = spawnSync(process.execPath, ["--import", "tsx", "bench/device.ts", "--device", "cpu", "--quick", "--json", file], {
      encoding: "utf8",
      timeout: 120_000,
    });
    expect(r.status, r.stderr).toBe(0);
    const res = JSON.parse(readFileSync(file, "utf8")) as { device: string; load_ms: number; rows: Record<string, number | string>[] };
    expect(res.device).toBe("cpu");
    expect(res.load_ms).toBeGreaterThan(0);
    const forwards = res.rows.filter((row) => row.what === "forward");
    expect(forwards.map((row) => [row.batch, row.seq])).toEqual([[1, 136], [8, 136], [1, 256]]);
    for (const row of forwards) expect(Number(row.full_logits_ms) > 0 && Number(row.head_ms) > 0).toBe(true);
    const gen = res.rows.find((row) => row.what === "generate")!;
    expect(gen.forwards).toBe(128);
    expect(Number(gen.tok_per_s)).toBeGreaterThan(0);
  });

  it("names the device that cannot start", () => {
    const r = spawnSync(process.execPath, ["--import", "tsx", "bench/device.ts", "--device", "nope"], { encoding: "utf8", timeout: 60_000 });
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/unknown device "nope"/);
  });
});

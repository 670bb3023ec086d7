// Converted models (int4, from the tiny upstream-layout checkpoints) through the example workflows
// and every sampler node, from the CLI, named by folder name in the user's models directory as a
// user who ran `maskflow convert` would; `maskflow models` and GET /api/models list them.
import { spawnSync } from "node:child_process";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { convertCheckpoint } from "../../engine/dllm/convert/index.js";
import { startServer, type RunningServer } from "../../engine/server/index.js";
import { testRegistry } from "../server/helpers.js";
import { FAMILIES, ROOT, checkpointDir, tempDir } from "./helpers.js";

const tmp = tempDir();
const modelsDir = join(tmp.dir, "models");

function cli(args: string[]) {
  const r = spawnSync(process.execPath, [join(ROOT, "bin", "maskflow.js"), ...args], {
    cwd: tmp.dir, // not the package: the model is found in MASKFLOW_MODELS, the workflow by path
    encoding: "utf8",
    env: { ...process.env, FORCE_COLOR: "0", MASKFLOW_MODELS: modelsDir },
    timeout: 120_000,
  });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}
const wf = (name: string) => join(ROOT, "workflows", `${name}.maskflow.json`);

beforeAll(async () => {
  for (const family of FAMILIES) {
    await convertCheckpoint(checkpointDir(family), { out: join(modelsDir, `${family}-tiny-int4`), dtype: "int4", name: `${family}-tiny` });
  }
  await convertCheckpoint(checkpointDir("llada"), { out: join(modelsDir, "llada-tiny-fp32"), dtype: "fp32", name: "llada-tiny" });
});
afterAll(() => tmp.cleanup());

describe("converted models run the example workflows and every sampler node", () => {
  for (const family of FAMILIES) {
    const model = `${family}-tiny-int4`;
    const cases: [string, string, string[]][] = [
      ["Denoise (LLaDA's generate, blocks, low confidence)", "hello", ["--set", "denoise.gen_length=16", "--set", "schedule.steps=8", "--set", "schedule.block_length=8"]],
      ["Denoise with Fast-dLLM's prefix cache", "hello", ["--set", "denoise.gen_length=16", "--set", "schedule.steps=8", "--set", "schedule.block_length=8", "--set", "denoise.cache=prefix"]],
      ["Denoise with the dual cache and a threshold schedule", "hello", ["--set", "denoise.gen_length=16", "--set", "schedule.kind=threshold", "--set", "schedule.block_length=8", "--set", "denoise.cache=dual"]],
      ["Denoise with temperature and Dream's entropy rule", "hello", ["--set", "denoise.gen_length=12", "--set", "schedule.steps=6", "--set", "schedule.block_length=12", "--set", "denoise.temperature=0.8", "--set", "denoise.remasking=entropy"]],
      ["Remask and regenerate", "edit", []],
      ["Infill", "infill", []],
      ["Beam, Pick and Score", "beam", []],
    ];
    for (const [what, name, extra] of cases) {
      it(`${family}: ${what}`, () => {
        const r = cli(["run", wf(name), "--set", `model.path=${model}`, ...extra, "--json"]);
        expect(r.code, r.stderr).toBe(0);
        const out = JSON.parse(r.stdout);
        expect(out.status).toBe("finished");
        expect(Object.keys(out.outputs).length).toBeGreaterThan(0);
      });
    }
  }

  it("CFG: Denoise with cfg_scale on a converted model", () => {
    const r = cli(["run", wf("hello"), "--set", "model.path=llada-tiny-int4", "--set", "denoise.gen_length=8", "--set", "schedule.steps=4", "--set", "schedule.block_length=8", "--set", "denoise.cfg_scale=1.5", "--json"]);
    expect(r.code, r.stderr).toBe(0);
  });

  it("the chat toggle renders the converted model's template", () => {
    const r = cli(["run", wf("hello"), "--set", "model.path=dream-tiny-int4", "--set", "prompt.chat=true", "--set", "prompt.text=Hi", "--set", 'prompt.model={"from":"model","output":"model"}', "--set", "denoise.gen_length=4", "--set", "schedule.steps=2", "--set", "schedule.block_length=4", "--json"]);
    expect(r.code, r.stderr).toBe(0);
  });

  it("a model name that is not in any models folder says where it looked", () => {
    const r = cli(["run", wf("hello"), "--set", "model.path=no-such-model"]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('model folder "no-such-model" not found');
    expect(r.stderr).toContain(join(modelsDir, "no-such-model"));
  });
});

describe("listing models", () => {
  it("maskflow models shows the bundled and the converted ones with family, parameters, dtype and size", () => {
    const r = cli(["models"]);
    expect(r.code, r.stderr).toBe(0);
    const lines = r.stdout.split("\n");
    expect(lines[0]).toMatch(/^path \(for Load Model\) +name +family +params +dtype +size$/);
    expect(r.stdout).toMatch(/models\/default +maskflow-tiny-llada +llada +6\.8M +fp32 +26\.\d MiB/);
    expect(r.stdout).toMatch(/llada-tiny-int4 +llada-tiny +llada +627K +int4 +\d+ KiB/);
    expect(r.stdout).toMatch(/dream-tiny-int4 +dream-tiny +dream +\d+K +int4/);
    const json = JSON.parse(cli(["models", "--json"]).stdout);
    expect(json.modelsDir).toBe(modelsDir);
    expect(json.models.map((m: { where: string; dtype: string }) => `${m.where}:${m.dtype}`)).toEqual(["bundled:fp32", "user:int4", "user:fp32", "user:int4"]);
  });

  describe("GET /api/models", () => {
    let server: RunningServer;
    const saved = process.env.MASKFLOW_MODELS;
    beforeAll(async () => {
      process.env.MASKFLOW_MODELS = modelsDir;
      server = await startServer({ port: 0, log: () => {}, registry: testRegistry() });
    });
    afterAll(async () => {
      await server?.close();
      if (saved === undefined) delete process.env.MASKFLOW_MODELS;
      else process.env.MASKFLOW_MODELS = saved;
    });
    it("lists what `maskflow models` lists", async () => {
      const res = await fetch(`${server.url}api/models`);
      expect(res.status).toBe(200);
      const list = (await res.json()) as { path: string; family: string }[];
      expect(list.map((m) => m.family)).toEqual(["llada", "dream", "llada", "llada"]);
      expect(list[0].path).toBe("models/default");
      expect(list[1]).toMatchObject({ path: "dream-tiny-int4", dir: join(modelsDir, "dream-tiny-int4") });
    });
  });
});

// `maskflow convert` and `maskflow models`: real checkpoints into model folders, and the list of
// model folders Maskflow can load.
import { basename, dirname, join } from "node:path";
import cliProgress from "cli-progress";
import { Option, type Command } from "commander";
// The converter (onnx protobuf schema, LoRA merging, onnxruntime for its products) and the hub
// client load when `convert` runs, not with the CLI: `maskflow run` never needs them.
import type { ConvertDtype } from "../dllm/convert/weights.js";
import { formatBytes, formatParameters, listModels } from "../dllm/convert/models.js";
import { userModelsDir } from "../paths.js";
import { EXIT, UsageError } from "./exit.js";

interface ConvertFlags {
  out?: string;
  dtype: ConvertDtype;
  blockSize?: number;
  accuracyLevel?: number;
  embedding?: "float" | "q8" | "q4";
  head?: "float" | "q8" | "q4";
  experts?: "q8" | "q4";
  lora: string[];
  name?: string;
  force?: boolean;
  hubUrl?: string;
  revision?: string;
  cacheDir?: string;
  maxLength?: number;
  json?: boolean;
}

/** A bar of bytes on stderr when it is a terminal; nothing otherwise (scripts use --json). */
function byteBar(enabled: boolean, label: string) {
  if (!enabled || !process.stderr.isTTY) return { update: (_d: number, _t: number, _w: string) => undefined, stop: () => undefined };
  const bar = new cliProgress.SingleBar(
    { stream: process.stderr, format: `${label} |{bar}| {percentage}% {done} / {all}  eta {eta_formatted}  {what}`, hideCursor: true, clearOnComplete: true, etaBuffer: 50 },
    cliProgress.Presets.shades_classic,
  );
  let started = false;
  return {
    update(done: number, total: number, what: string) {
      if (!started) bar.start(Math.max(1, total), 0, { done: "", all: formatBytes(total), what: "" });
      started = true;
      bar.setTotal(Math.max(1, total));
      bar.update(done, { done: formatBytes(done), all: formatBytes(total), what: what.length > 48 ? `…${what.slice(-47)}` : what });
    },
    stop: () => bar.stop(),
  };
}

function parseLora(spec: string): { path: string; strength: number } {
  const m = /^(.*?)(?::(-?\d+(?:\.\d+)?))?$/.exec(spec)!;
  const strength = m[2] === undefined ? 1 : Number(m[2]);
  if (!m[1]) throw new UsageError(`--lora ${spec}: expected <adapter folder>[:strength]`);
  return { path: m[1], strength };
}

function int(label: string) {
  return (v: string) => {
    const n = Number(v);
    if (!Number.isInteger(n) || n < 0) throw new UsageError(`${label} must be a whole number, got "${v}"`);
    return n;
  };
}

export function addConvertCommands(program: Command): void {
  program
    .command("convert")
    .description("convert a Hugging Face checkpoint (a folder, or a hub repo id such as GSAI-ML/LLaDA-8B-Instruct) into a Maskflow model folder")
    .argument("<source>", "checkpoint folder (config.json, *.safetensors, tokenizer files) or hub repo id")
    .option("--out <folder>", `the model folder to write (default: <models dir>/<name>-<dtype>, models dir ${userModelsDir()})`)
    .addOption(new Option("--dtype <dtype>", "weight storage: fp32 (exact), fp16 (GPUs), int8, int4 (CPUs)").choices(["fp32", "fp16", "int8", "int4"]).default("int4"))
    .addOption(new Option("--block-size <n>", "int8/int4: values per quantisation block").argParser(int("--block-size")))
    .addOption(new Option("--accuracy-level <n>", "int8/int4: MatMulNBits accuracy_level (0 float products, 4 int8 products)").argParser(int("--accuracy-level")))
    .addOption(new Option("--embedding <storage>", "embedding storage (default: q8 for int8 and int4)").choices(["float", "q8", "q4"]))
    .addOption(new Option("--head <storage>", "output head storage (default: q8 for int8/int4)").choices(["float", "q8", "q4"]))
    .addOption(new Option("--experts <storage>", "MoE experts (LLaDA2): q4 is smallest; q8 runs ~10x faster on CPUs with onnxruntime 1.29 (default: the dtype's)").choices(["q8", "q4"]))
    .option("--lora <adapter[:strength]>", "merge a PEFT LoRA adapter into the weights before they are stored or quantised; repeatable", (v: string, p: string[]) => [...p, v], [])
    .option("--name <name>", "the model's name in maskflow.json (default: the checkpoint's)")
    .option("--force", "replace the output folder if it exists")
    .option("--hub-url <url>", "hub endpoint (default: HF_ENDPOINT or https://huggingface.co)")
    .option("--revision <rev>", "hub branch, tag or commit", "main")
    .option("--cache-dir <dir>", "hub cache (default: HF_HUB_CACHE, HF_HOME/hub or ~/.cache/huggingface/hub)")
    .addOption(new Option("--max-length <n>", "override the longest prompt + generation Denoise accepts").argParser(int("--max-length")))
    .option("--json", "print one JSON object describing the result on stdout")
    .action(async (source: string, flags: ConvertFlags) => {
      const { convertCheckpoint } = await import("../dllm/convert/index.js");
      const { downloadCheckpoint, HubError, isRepoId } = await import("../dllm/convert/hub.js");
      const controller = new AbortController();
      const onSigint = (): void => controller.abort();
      process.once("SIGINT", onSigint);
      try {
        let dir = source;
        let hubId: string | undefined;
        if (isRepoId(source)) {
          hubId = source;
          const bar = byteBar(!flags.json, "download");
          try {
            const got = await downloadCheckpoint(source, {
              hubUrl: flags.hubUrl,
              revision: flags.revision,
              cacheDir: flags.cacheDir,
              onProgress: (p) => bar.update(p.done, p.total, p.file),
              signal: controller.signal,
            });
            dir = got.dir;
          } finally {
            bar.stop();
          }
          if (!flags.json) process.stderr.write(`downloaded ${source} into ${dir}\n`);
        }
        const name = flags.name ?? basename(hubId ?? dir.replace(/[\\/]+$/, ""));
        const out = flags.out ?? join(userModelsDir(), `${name}-${flags.dtype}`);
        const bar = byteBar(!flags.json, "convert ");
        let result;
        try {
          result = await convertCheckpoint(dir, {
            out,
            dtype: flags.dtype,
            blockSize: flags.blockSize,
            accuracyLevel: flags.accuracyLevel,
            embedding: flags.embedding,
            head: flags.head,
            experts: flags.experts,
            loras: flags.lora.map(parseLora),
            name,
            source: hubId ? `${hubId}${flags.revision && flags.revision !== "main" ? `@${flags.revision}` : ""}` : undefined,
            force: flags.force,
            maxLength: flags.maxLength,
            onProgress: (p) => bar.update(p.done, p.total, p.tensor),
            signal: controller.signal,
          });
        } finally {
          bar.stop();
        }
        if (flags.json) {
          process.stdout.write(JSON.stringify({ status: "ok", ...result }) + "\n");
        } else {
          for (const w of result.warnings) process.stderr.write(`warning: ${w}\n`);
          const inModels = dirname(result.dir) === userModelsDir();
          process.stdout.write(
            `${result.dir}\n  ${result.family}, ${formatParameters(result.parameters)} parameters, ${result.dtype}, ${formatBytes(result.bytes)}, ${result.seconds.toFixed(1)} s\n` +
              `  use it in a workflow: --set model.path=${inModels ? basename(result.dir) : result.dir}\n`,
          );
        }
      } catch (err) {
        if (controller.signal.aborted) {
          process.stderr.write("interrupted: nothing was written (a partial download resumes when you rerun)\n");
          process.exitCode = EXIT.INTERRUPTED;
          return;
        }
        const message = (err as Error).message;
        if (flags.json) process.stdout.write(JSON.stringify({ status: "failed", error: message }) + "\n");
        // A broken checkpoint or a bad flag is invalid input (2); a failed download, a full disk are failures (1).
        if (err instanceof HubError || /not enough disk space|ENOSPC/.test(message)) {
          process.stderr.write(`error: ${message}\n`);
          process.exitCode = EXIT.FAILED;
          return;
        }
        throw err instanceof UsageError ? err : new UsageError(message);
      } finally {
        process.off("SIGINT", onSigint);
      }
    });

  program
    .command("models")
    .description(`list the model folders Maskflow finds: bundled ones and those in your models directory (${userModelsDir()}, MASKFLOW_MODELS)`)
    .option("--json", "print the list as JSON")
    .action((opts: { json?: boolean }) => {
      const models = listModels();
      if (opts.json) {
        process.stdout.write(JSON.stringify({ modelsDir: userModelsDir(), models }, null, 2) + "\n");
        return;
      }
      const rows = models.map((m) => [m.path, m.name, m.family + (m.blockSize ? ` (blocks of ${m.blockSize})` : "") + (m.noise === "uniform" ? ` (uniform noise${m.canvasLength ? `, canvas ${m.canvasLength}` : ""})` : ""), formatParameters(m.parameters), m.dtype, formatBytes(m.bytes) + (m.problem ? `  (${m.problem})` : "")]);
      const head = ["path (for Load Model)", "name", "family", "params", "dtype", "size"];
      const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
      const line = (r: string[]) => r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]))).join("  ");
      process.stdout.write([line(head), ...rows.map(line)].join("\n") + "\n");
      if (!models.some((m) => m.where === "user")) process.stdout.write(`\nno converted models in ${userModelsDir()} yet: maskflow convert <checkpoint folder or hub id>\n`);
    });
}

// The Python reference (./reference.py --serve) as a long-lived child process: loaded once, then
// asked for one workload at a time, so the two sides take turns under the same machine load.
import { spawn, type ChildProcessWithoutNullStreams } from "node:child_process";
import { createInterface, type Interface } from "node:readline";
import { fileURLToPath } from "node:url";
import type { Workload } from "./workloads.js";

export interface ReferenceInfo {
  torch: string;
  threads: number;
  blas: string;
  /** Thread-related environment variables the reference saw (OMP_NUM_THREADS, OPENBLAS_NUM_THREADS, ...), where set. */
  thread_env: Record<string, string>;
  peak_rss_mb: number;
}

export interface ReferenceResult {
  name: string;
  ms: number[];
  model_ms: number[];
  forwards: number;
  tokens: number[][];
  peak_rss_mb: number;
}

const SCRIPT = fileURLToPath(new URL("./reference.py", import.meta.url));

export class ReferenceClient {
  private constructor(
    private readonly child: ChildProcessWithoutNullStreams,
    readonly info: ReferenceInfo,
    private readonly rl: Interface,
    private readonly lines: AsyncIterator<string>,
    /** Rejects when the process exits or cannot start. */
    private readonly exited: Promise<never>,
    /** The end of its stderr (for error messages). */
    private readonly stderrTail: () => string,
  ) {}

  /**
   * Starts the reference and waits until the model is loaded. `onProgress` gets the reference's
   * own progress lines ("reference <name>: repeat i/n"); other stderr output is kept for errors.
   */
  static async start(python: string, modelDir: string, threads: number, onProgress: (line: string) => void): Promise<ReferenceClient> {
    const child = spawn(python, [SCRIPT, "--serve", modelDir, String(threads)], { stdio: ["pipe", "pipe", "pipe"] });
    let tail = "";
    createInterface({ input: child.stderr }).on("line", (line) => {
      if (line.startsWith("reference ")) onProgress(line);
      else tail = (tail + line + "\n").slice(-4000);
    });
    const exited = new Promise<never>((_, reject) => {
      child.on("error", (err) => reject(new Error(`could not start ${python}: ${err.message}`)));
      child.on("exit", (code, signal) => reject(new Error(`the reference exited (${signal ?? `code ${code}`}): ${tail.trim() || "no message"}`)));
    });
    exited.catch(() => {}); // raced below; never an unhandled rejection
    const rl = createInterface({ input: child.stdout });
    const lines = rl[Symbol.asyncIterator]();
    try {
      const first = await Promise.race([lines.next(), exited]);
      if (first.done) throw new Error(`the reference closed its output: ${tail.trim()}`);
      const ready = JSON.parse(first.value) as ReferenceInfo & { ready?: boolean };
      if (!ready.ready) throw new Error(`unexpected first line from the reference: ${first.value}`);
      const info = { torch: ready.torch, threads: ready.threads, blas: ready.blas, thread_env: ready.thread_env ?? {}, peak_rss_mb: ready.peak_rss_mb };
      return new ReferenceClient(child, info, rl, lines, exited, () => tail);
    } catch (err) {
      child.kill();
      rl.close();
      throw err;
    }
  }

  async run(w: Workload, repeats: number): Promise<ReferenceResult> {
    const spec = {
      name: w.name,
      prompt_ids: w.promptIds,
      gen_length: w.genLength,
      steps: w.steps,
      block_length: w.blockLength,
      cfg_scale: w.cfgScale,
      temperature: w.temperature,
      remasking: w.remasking,
      seed: w.seed,
      repeats,
    };
    this.child.stdin.write(JSON.stringify(spec) + "\n");
    const next = await Promise.race([this.lines.next(), this.exited]);
    if (next.done) throw new Error(`the reference closed its output: ${this.stderrTail().trim()}`);
    const out = JSON.parse(next.value) as ReferenceResult & { error?: string };
    if (out.error) throw new Error(`reference, ${w.name}: ${out.error}`);
    return out;
  }

  /** Ends the process (closing its stdin ends its loop). */
  async close(): Promise<void> {
    const child = this.child;
    const done = child.exitCode !== null || child.signalCode !== null;
    child.stdin.end();
    this.rl.close();
    if (done) return;
    await new Promise<void>((resolve) => {
      const timer = setTimeout(() => {
        child.kill();
        resolve();
      }, 5000);
      child.once("exit", () => {
        clearTimeout(timer);
        resolve();
      });
    });
  }
}

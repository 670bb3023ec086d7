// `maskflow worker` and `maskflow batch --redis` as real processes (the built CLI, as users run it).
import { spawn, type ChildProcess } from "node:child_process";

export interface Proc {
  child: ChildProcess;
  /** stdout and stderr so far. */
  output(): string;
  /** Resolves with the exit code (or the signal's name). */
  exited: Promise<number | string>;
  /** Waits until the output matches. */
  waitFor(pattern: RegExp, timeoutMs?: number): Promise<void>;
}

export function maskflow(args: string[], env: Record<string, string> = {}): Proc {
  const child = spawn(process.execPath, ["bin/maskflow.js", ...args], { env: { ...process.env, FORCE_COLOR: "0", ...env }, stdio: ["ignore", "pipe", "pipe"] });
  let text = "";
  const waiters = new Set<() => void>();
  const take = (chunk: Buffer) => {
    text += chunk.toString();
    for (const w of waiters) w();
  };
  child.stdout!.on("data", take);
  child.stderr!.on("data", take);
  const exited = new Promise<number | string>((resolve) => child.once("exit", (code, signal) => resolve(code ?? signal ?? -1)));
  return {
    child,
    output: () => text,
    exited,
    waitFor(pattern, timeoutMs = 60_000) {
      return new Promise<void>((resolve, reject) => {
        const check = () => {
          if (!pattern.test(text)) return;
          cleanup();
          resolve();
        };
        const timer = setTimeout(() => {
          cleanup();
          reject(new Error(`timed out waiting for ${pattern} in:\n${text}`));
        }, timeoutMs);
        const cleanup = () => {
          clearTimeout(timer);
          waiters.delete(check);
        };
        waiters.add(check);
        void exited.then((code) => {
          if (!waiters.has(check)) return;
          cleanup();
          reject(new Error(`exited (${code}) before ${pattern}:\n${text}`));
        });
        check();
      });
    },
  };
}

/** A worker, started and taking jobs. */
export async function startWorker(redisUrl: string, name: string, args: string[] = [], env: Record<string, string> = {}): Promise<Proc & { name: string }> {
  const proc = maskflow(["worker", "--redis", redisUrl, "--name", name, ...args], env);
  await proc.waitFor(/taking jobs/);
  return { ...proc, name };
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

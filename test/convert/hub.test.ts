// `maskflow convert <repo id>` against a hub on 127.0.0.1 that serves a tiny checkpoint in the
// Hugging Face URL layout (the API routes the hub client calls, /resolve/ with HTTP ranges),
// including a download cut off mid-file that the rerun resumes from where it stopped.
import { spawn } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, lstatSync, readFileSync, readdirSync, readlinkSync } from "node:fs";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ROOT, checkpointDir, tempDir } from "./helpers.js";

const REPO = "test-org/llada-tiny";
const COMMIT = "0123456789abcdef0123456789abcdef01234567";
const SRC = checkpointDir("llada");
const files = readdirSync(SRC).sort();
/** A second repo: Dream's, whose tokenizer is vocab.json + merges.txt (and one file the converter does not need). */
const DREAM = "test-org/dream-tiny";
const DREAM_SRC = checkpointDir("dream");
const repos: Record<string, { src: string; files: string[] }> = {
  [REPO]: { src: SRC, files },
  [DREAM]: { src: DREAM_SRC, files: [...readdirSync(DREAM_SRC).sort(), "README.md"] },
};
const readRepoFile = (repo: string, f: string) => (f === "README.md" ? Buffer.from("# not needed\n") : readFileSync(join(repos[repo].src, f)));
const isLfs = (f: string) => f.endsWith(".safetensors");
const sha256 = (b: Buffer) => createHash("sha256").update(b).digest("hex");
const gitOid = (b: Buffer) => createHash("sha1").update(`blob ${b.byteLength}\0`).update(b).digest("hex");

interface Hit {
  path: string;
  range: string | undefined;
  sent: number;
}

describe("convert from a hub repo id", () => {
  const tmp = tempDir();
  const hits: Hit[] = [];
  let cutOnce: string | null = "model-00002-of-00003.safetensors";
  let server: Server;
  let url: string;

  beforeAll(async () => {
    server = createServer((req, res) => {
      const u = new URL(req.url!, "http://x");
      const repo = Object.keys(repos).find((r) => u.pathname.startsWith(`/api/models/${r}/`) || u.pathname.startsWith(`/${r}/`));
      if (!repo) {
        res.statusCode = 404;
        res.end("Repository not found");
        return;
      }
      const api = `/api/models/${repo}`;
      if (u.pathname.startsWith(`${api}/revision/`)) {
        res.setHeader("content-type", "application/json");
        res.end(JSON.stringify({ _id: "x", id: repo, sha: COMMIT, private: false, downloads: 0, likes: 0, lastModified: "2026-12-01T00:00:00.000Z" }));
        return;
      }
      if (u.pathname === `${api}/tree/${COMMIT}`) {
        res.setHeader("content-type", "application/json");
        res.end(
          JSON.stringify(
            repos[repo].files.map((f) => {
              const b = readRepoFile(repo, f);
              return isLfs(f)
                ? { type: "file", path: f, size: b.byteLength, oid: gitOid(Buffer.from("pointer")), lfs: { oid: sha256(b), size: b.byteLength, pointerSize: 130 } }
                : { type: "file", path: f, size: b.byteLength, oid: gitOid(b) };
            }),
          ),
        );
        return;
      }
      const prefix = `/${repo}/resolve/${COMMIT}/`;
      if (u.pathname.startsWith(prefix)) {
        const f = decodeURIComponent(u.pathname.slice(prefix.length));
        if (!repos[repo].files.includes(f)) {
          res.statusCode = 404;
          res.end();
          return;
        }
        const b = readRepoFile(repo, f);
        const range = req.headers.range;
        const start = range ? Number(/bytes=(\d+)-/.exec(range)![1]) : 0;
        const body = b.subarray(start);
        res.statusCode = range ? 206 : 200;
        res.setHeader("content-length", body.byteLength);
        if (range) res.setHeader("content-range", `bytes ${start}-${b.byteLength - 1}/${b.byteLength}`);
        if (f === cutOnce) {
          // the connection drops after a third of the file
          cutOnce = null;
          const part = body.subarray(0, Math.floor(body.byteLength / 3));
          hits.push({ path: f, range, sent: part.byteLength });
          res.write(part, () => setTimeout(() => res.socket?.destroy(), 20));
          return;
        }
        hits.push({ path: repo === REPO ? f : `${repo}:${f}`, range, sent: body.byteLength });
        res.end(body);
        return;
      }
      res.statusCode = 404;
      res.end("not found");
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(async () => {
    await new Promise((resolve) => server.close(resolve));
    tmp.cleanup();
  });

  function cli(args: string[], env: Record<string, string> = {}): Promise<{ code: number | null; stdout: string; stderr: string }> {
    return new Promise((resolve) => {
      const p = spawn(process.execPath, ["bin/maskflow.js", ...args], { cwd: ROOT, env: { ...process.env, FORCE_COLOR: "0", HF_TOKEN: "", ...env } });
      let stdout = "";
      let stderr = "";
      p.stdout.on("data", (d) => (stdout += d));
      p.stderr.on("data", (d) => (stderr += d));
      p.on("close", (code) => resolve({ code, stdout, stderr }));
    });
  }

  it("downloads into the HF cache layout, resumes a cut download, and converts", async () => {
    const cache = join(tmp.dir, "hf-cache");
    const out = join(tmp.dir, "llada-tiny-int4");
    const args = ["convert", REPO, "--cache-dir", cache, "--out", out, "--dtype", "int4", "--json"];

    const first = await cli(args, { HF_ENDPOINT: url });
    expect(first.code, first.stderr).toBe(1);
    expect(JSON.parse(first.stdout).error).toMatch(/model-00002-of-00003\.safetensors.*(interrupted|got \d+ of \d+ bytes).*rerun/);
    expect(existsSync(out)).toBe(false);
    const storage = join(cache, "models--test-org--llada-tiny");
    const partial = readdirSync(join(storage, "blobs")).filter((f) => f.endsWith(".incomplete"));
    expect(partial).toHaveLength(1);

    const before = hits.length;
    const second = await cli(["convert", REPO, "--cache-dir", cache, "--out", out, "--dtype", "int4", "--json", "--hub-url", url]);
    expect(second.code, second.stderr).toBe(0);
    const result = JSON.parse(second.stdout);
    expect(result).toMatchObject({ status: "ok", family: "llada", dtype: "int4", dir: out });

    // the cut file was asked for from where it stopped, and the finished ones not at all
    const again = hits.slice(before);
    const shard = readFileSync(join(SRC, "model-00002-of-00003.safetensors")).byteLength;
    const resumed = again.find((h) => h.path === "model-00002-of-00003.safetensors")!;
    expect(resumed.range).toBe(`bytes=${Math.floor(shard / 3)}-`);
    expect(resumed.sent).toBe(shard - Math.floor(shard / 3));
    const firstFiles = new Set(hits.slice(0, before).filter((h) => h.path !== "model-00002-of-00003.safetensors").map((h) => h.path));
    expect(again.filter((h) => firstFiles.has(h.path))).toEqual([]);

    // Hugging Face's cache layout: blobs by hash, snapshot links, the ref
    expect(readFileSync(join(storage, "refs", "main"), "utf8")).toBe(COMMIT);
    const link = join(storage, "snapshots", COMMIT, "model-00002-of-00003.safetensors");
    expect(lstatSync(link).isSymbolicLink()).toBe(true);
    expect(readlinkSync(link)).toBe(join("..", "..", "blobs", sha256(readFileSync(join(SRC, "model-00002-of-00003.safetensors")))));
    expect(readdirSync(join(storage, "blobs")).filter((f) => f.endsWith(".incomplete"))).toEqual([]);

    const manifest = JSON.parse(readFileSync(join(out, "maskflow.json"), "utf8"));
    expect(manifest.source).toBe(REPO);

    // a third run downloads nothing
    const n = hits.length;
    const third = await cli(["convert", REPO, "--cache-dir", cache, "--out", join(tmp.dir, "again"), "--dtype", "fp32", "--json", "--hub-url", url]);
    expect(third.code, third.stderr).toBe(0);
    expect(hits.length).toBe(n);
  });

  it("Dream from the hub: fetches only what the conversion reads, builds its tokenizer.json, and the model runs", async () => {
    const out = join(tmp.dir, "dream-tiny-int4");
    const r = await cli(["convert", DREAM, "--cache-dir", join(tmp.dir, "hf-cache"), "--out", out, "--json", "--hub-url", url]);
    expect(r.code, r.stderr).toBe(0);
    const fetched = hits.filter((h) => h.path.startsWith(`${DREAM}:`)).map((h) => h.path.slice(DREAM.length + 1)).sort();
    expect(fetched).toEqual(readdirSync(DREAM_SRC).sort()); // not README.md
    expect(JSON.parse(readFileSync(join(out, "maskflow.json"), "utf8"))).toMatchObject({ family: "dream", shift_logits: true, source: DREAM });
    const run = await cli(["run", join(ROOT, "workflows", "hello.maskflow.json"), "--set", `model.path=${out}`, "--set", "denoise.gen_length=8", "--set", "schedule.steps=4", "--set", "schedule.block_length=8", "--json"]);
    expect(run.code, run.stderr).toBe(0);
  });

  it("a repo the hub does not have is a failure that names it", async () => {
    const r = await cli(["convert", "nobody/nothing", "--cache-dir", join(tmp.dir, "c2"), "--out", join(tmp.dir, "x"), "--hub-url", url]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`cannot reach nobody/nothing at ${url}`);
  });
});

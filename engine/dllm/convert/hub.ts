// Downloading a checkpoint from the Hugging Face hub into the usual HF cache, so Python's
// huggingface_hub and this share it: <cache>/models--<owner>--<name>/blobs/<etag> holds each file
// once, snapshots/<commit>/<path> links to it, refs/<revision> names the commit.
//
// The hub JS client (@huggingface/hub) resolves the revision to a commit, lists the files with
// their sizes and hashes, and gives the cache layout. The bytes are fetched here, because its own
// download restarts from zero: a file is written to blobs/<etag>.incomplete and an interrupted
// download continues from the bytes already there (an HTTP Range request), as huggingface_hub
// does; each file is checked against its size and hash (sha256 for LFS files, the git blob id for
// others) before it is moved into place. Only the files a conversion reads are fetched.
import { createHash } from "node:crypto";
import { createReadStream, existsSync, mkdirSync, openSync, closeSync, readFileSync, renameSync, rmSync, statSync, symlinkSync, writeFileSync, writeSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { getHFHubCachePath, getRepoFolderName, listFiles, modelInfo } from "@huggingface/hub";

export interface DownloadOptions {
  /** default: HF_ENDPOINT, else https://huggingface.co */
  hubUrl?: string;
  revision?: string;
  /** default: the HF cache (HF_HUB_CACHE, HF_HOME/hub, ~/.cache/huggingface/hub) */
  cacheDir?: string;
  /** default: HF_TOKEN */
  token?: string;
  onProgress?: (p: { done: number; total: number; file: string }) => void;
  signal?: AbortSignal;
}

export class HubError extends Error {}

/** "owner/name" (what the hub calls a repo id), not a path that exists. */
export function isRepoId(source: string): boolean {
  return /^[A-Za-z0-9][\w.-]*\/[\w.-]+$/.test(source) && !existsSync(source);
}

/** What a conversion reads: weights, their index, the config and the tokenizer's files. */
export function isNeeded(path: string): boolean {
  if (path.includes("/")) return false;
  return (
    path.endsWith(".safetensors") ||
    ["config.json", "model.safetensors.index.json", "generation_config.json", "tokenizer.json", "tokenizer_config.json",
      "special_tokens_map.json", "vocab.json", "merges.txt", "added_tokens.json", "chat_template.jinja"].includes(path)
  );
}

interface RemoteFile {
  path: string;
  size: number;
  /** sha256 for LFS files, the git blob sha1 for others: also the cache's blob name */
  etag: string;
  lfs: boolean;
}

function hubUrlFrom(options: DownloadOptions): string {
  return (options.hubUrl ?? process.env.HF_ENDPOINT ?? "https://huggingface.co").replace(/\/+$/, "");
}

async function hashFile(path: string, lfs: boolean, size: number): Promise<string> {
  const h = createHash(lfs ? "sha256" : "sha1");
  if (!lfs) h.update(`blob ${size}\0`);
  for await (const chunk of createReadStream(path)) h.update(chunk as Buffer);
  return h.digest("hex");
}

/** Downloads the files a conversion needs; returns the snapshot folder (a checkpoint folder). */
export async function downloadCheckpoint(repo: string, options: DownloadOptions = {}): Promise<{ dir: string; commit: string; downloaded: number }> {
  const hubUrl = hubUrlFrom(options);
  const accessToken = options.token ?? process.env.HF_TOKEN ?? undefined;
  const credentials = accessToken ? { accessToken } : {};
  const revision = options.revision ?? "main";
  let commit: string;
  try {
    const info = await modelInfo({ name: repo, hubUrl, revision, additionalFields: ["sha"], ...credentials });
    commit = (info as { sha?: string }).sha ?? "";
  } catch (err) {
    throw new HubError(
      `cannot reach ${repo} at ${hubUrl} (revision ${revision}): ${(err as Error).message}` +
        (accessToken ? "" : " (gated or private models need HF_TOKEN)") +
        `; nor is there a checkpoint folder at ${resolve(repo)}`,
    );
  }
  if (!/^[0-9a-f]{40}$/.test(commit)) throw new HubError(`${hubUrl} gave no commit for ${repo} at ${revision}`);

  const files: RemoteFile[] = [];
  try {
    for await (const f of listFiles({ repo, hubUrl, revision: commit, recursive: false, ...credentials })) {
      if (f.type !== "file" || !isNeeded(f.path)) continue;
      const etag = f.lfs?.oid ?? f.oid;
      if (!etag) throw new HubError(`${f.path} has no content hash in the listing`);
      files.push({ path: f.path, size: f.lfs?.size ?? f.size, etag, lfs: Boolean(f.lfs) });
    }
  } catch (err) {
    throw new HubError(`cannot list the files of ${repo} at ${hubUrl}: ${(err as Error).message}`);
  }
  if (!files.some((f) => f.path === "config.json")) throw new HubError(`${repo} has no config.json: not a transformers checkpoint`);
  if (!files.some((f) => f.path.endsWith(".safetensors"))) throw new HubError(`${repo} has no *.safetensors weights (PyTorch pickles are not read)`);

  const cacheDir = options.cacheDir ?? getHFHubCachePath();
  const storage = join(cacheDir, getRepoFolderName({ type: "model", name: repo }));
  const snapshot = join(storage, "snapshots", commit);
  mkdirSync(join(storage, "blobs"), { recursive: true });
  mkdirSync(snapshot, { recursive: true });
  mkdirSync(join(storage, "refs"), { recursive: true });
  if (!/^[0-9a-f]{40}$/.test(revision)) writeFileSync(join(storage, "refs", revision), commit);

  const total = files.reduce((n, f) => n + f.size, 0);
  let done = 0;
  let downloaded = 0;
  for (const f of files) {
    options.signal?.throwIfAborted();
    const blob = join(storage, "blobs", f.etag);
    const pointer = join(snapshot, f.path);
    if (!existsSync(blob)) downloaded += await fetchBlob(`${hubUrl}/${repo}/resolve/${commit}/${encodeURIComponent(f.path)}`, blob, f, accessToken, (n) => options.onProgress?.({ done: done + n, total, file: f.path }), options.signal);
    if (!existsSync(pointer)) {
      mkdirSync(dirname(pointer), { recursive: true });
      try {
        symlinkSync(relative(dirname(pointer), blob), pointer);
      } catch {
        writeFileSync(pointer, readFileSync(blob)); // no symlinks here (as huggingface_hub does on such systems): a copy
      }
    }
    done += f.size;
    options.onProgress?.({ done, total, file: f.path });
  }
  return { dir: snapshot, commit, downloaded };
}

/** Fetches one file into blobs/, resuming a partial download; returns the bytes transferred. */
async function fetchBlob(url: string, blob: string, f: RemoteFile, token: string | undefined, onBytes: (n: number) => void, signal?: AbortSignal): Promise<number> {
  const partial = `${blob}.incomplete`;
  let have = existsSync(partial) ? statSync(partial).size : 0;
  if (have > f.size) {
    rmSync(partial);
    have = 0;
  }
  let transferred = 0;
  if (have < f.size) {
    const headers: Record<string, string> = {};
    if (token) headers.Authorization = `Bearer ${token}`;
    if (have > 0) headers.Range = `bytes=${have}-`;
    let res: Response;
    try {
      res = await fetch(url, { headers, redirect: "follow", signal });
    } catch (err) {
      throw new HubError(`downloading ${f.path} from ${url} failed: ${(err as Error).message} (rerun to resume from ${have} bytes)`);
    }
    if (res.status === 200 && have > 0) have = 0; // the server ignored the range: start over
    else if (!res.ok) throw new HubError(`downloading ${f.path}: ${url} answered ${res.status} ${res.statusText}`);
    const fd = openSync(partial, have > 0 ? "a" : "w");
    try {
      if (!res.body) throw new HubError(`downloading ${f.path}: empty response`);
      for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
        writeSync(fd, chunk);
        transferred += chunk.byteLength;
        onBytes(have + transferred);
      }
    } catch (err) {
      if (err instanceof HubError) throw err;
      throw new HubError(`downloading ${f.path} was interrupted after ${have + transferred} of ${f.size} bytes: ${(err as Error).message} (rerun to resume)`);
    } finally {
      closeSync(fd);
    }
  }
  const size = statSync(partial).size;
  if (size !== f.size) throw new HubError(`downloading ${f.path}: got ${size} of ${f.size} bytes (rerun to resume)`);
  const hash = await hashFile(partial, f.lfs, f.size);
  if (hash !== f.etag) {
    rmSync(partial);
    throw new HubError(`downloading ${f.path}: its ${f.lfs ? "sha256" : "git blob id"} is ${hash}, the hub says ${f.etag}; the partial file was removed, rerun to download it again`);
  }
  renameSync(partial, blob);
  return transferred;
}

// Issue 18, item 4: a served instance loads models and adapters only from its roots (the bundled
// models/, the user models folder, --models); absolute paths, `../` and symlinks out are refused
// with one message whether or not the path exists; no error shows an absolute path or quotes a
// file's content. The CLI stays unrestricted.
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { cli } from "../cli/run-cli.js";
import { confinedFiles } from "../../engine/files/access.js";
import { modelFolder } from "./folders.js";
import { DEFAULT_MODEL, ROOT, startServed, helloWith, loraWith, runToEnd, whileHealthy, hasStackTrace, type Served } from "./served.js";

const SECRET = "TOPSECRET-0123456789";
const outside = mkdtempSync(join(tmpdir(), "maskflow-outside-"));
afterAll(() => rmSync(outside, { recursive: true, force: true }));

describe("confinedFiles", () => {
  it("resolves inside the roots and refuses the rest with the same words", async () => {
    const root = mkdtempSync(join(tmpdir(), "maskflow-root-"));
    try {
      mkdirSync(join(root, "m"));
      const files = confinedFiles([{ path: root, shown: "", label: "--models" }]);
      await expect(files.resolve("m")).resolves.toMatch(/[\\/]m$/);
      const refusals = await Promise.all([outside, join(outside, "absent"), "../../etc", "/etc/passwd"].map((p) => files.resolve(p).catch((e: Error) => e.message.replace(p, "<p>"))));
      expect(new Set(refusals).size).toBe(1);
      // The synchronous resolution (nodes' static checks while validating) follows the same rules.
      expect(files.resolveSync("m")).toBe(await files.resolve("m"));
      const syncRefusals = [outside, join(outside, "absent"), "../../etc", "/etc/passwd"].map((p) => {
        try {
          return files.resolveSync(p);
        } catch (e) {
          return (e as Error).message.replace(p, "<p>");
        }
      });
      expect(syncRefusals).toEqual(refusals);
      expect(files.redact(`${join(root, "m")}/maskflow.json: bad`)).toBe("m/maskflow.json: bad");
      expect(files.redact("/var/lib/secret/file.json is missing")).not.toMatch(/var\/lib/);
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });
});

describe("a served instance and paths outside its roots", () => {
  let served: Served;
  beforeAll(async () => {
    served = await startServed();
    // A full model folder outside every root, and a link to it from inside one.
    modelFolder(outside, "model");
    symlinkSync(join(outside, "model"), join(served.models, "link-out"));
    writeFileSync(join(outside, "secret.txt"), SECRET);
    // Inside a root: a model whose tokenizer is a link to the secret, and one whose tokenizer is not JSON.
    modelFolder(served.models, "leaky");
    rmSync(join(served.models, "leaky", "tokenizer.json"));
    symlinkSync(join(outside, "secret.txt"), join(served.models, "leaky", "tokenizer.json"));
    modelFolder(served.models, "garbled", { "tokenizer.json": `${SECRET} not json` });
    modelFolder(served.models, "fine");
  });
  afterAll(async () => {
    await served?.close();
  });

  const load = (path: string) => runToEnd(served, helloWith({ model: path }), undefined, 30_000);

  it("refuses absolute paths, ../ and symlinks out, alike whether or not they exist, naming model.path", async () => {
    const { value: runs, addedMs, budgetMs } = await whileHealthy(served, () =>
      Promise.all([join(outside, "model"), join(outside, "absent"), DEFAULT_MODEL.replace("default", "nope"), "../../../../../../etc", "link-out", "/dev/zero"].map(load)),
    );
    const messages = new Set<string>();
    for (const run of runs) {
      expect(run.status, JSON.stringify(run)).toBe("failed");
      expect(run.error).toMatchObject({ nodeId: "model", input: "path" });
      expect(run.error.message).toMatch(/is not a model or adapter in the folders this server loads from/);
      messages.add(run.error.message.replace(/^"[^"]*"/, ""));
    }
    expect(messages.size).toBe(1);
    expect(addedMs).toBeLessThan(budgetMs);
  });

  it("loads from its roots: the bundled models/default and a folder in the user models folder", async () => {
    for (const path of ["models/default", "fine", join(served.models, "fine")]) {
      const run = await load(path);
      expect(run.status, `${path}: ${JSON.stringify(run.error)}`).toBe("finished");
    }
    const lora = await runToEnd(served, loraWith("models/loras/romance"));
    expect(lora.status, JSON.stringify(lora.error)).toBe("finished");
  });

  it("never quotes a file's content nor shows an absolute path in an error or event", async () => {
    for (const path of ["leaky", "garbled"]) {
      const run = await load(path);
      expect(run.status).toBe("failed");
      expect(run.error.input).toBe("path");
      const events = await served.api("GET", `/api/runs/${run.id}/events`);
      const said = JSON.stringify([run.error, events.json]);
      expect(said).not.toContain("TOPSECRET");
      expect(said).not.toContain(served.models);
      expect(said).not.toContain(outside);
      expect(said).not.toContain(ROOT);
    }
    const garbled = await load("garbled");
    expect(garbled.error.message).toMatch(/^garbled\/tokenizer\.json: the tokenizer is not valid JSON \(a syntax error\)$/);
    expect(hasStackTrace(served.stderr())).toBe(false);
  });
});

describe("the CLI", () => {
  it("stays unrestricted: a model folder anywhere loads", () => {
    const dir = mkdtempSync(join(tmpdir(), "maskflow-cli-model-"));
    try {
      const model = modelFolder(dir, "m");
      const r = cli(["run", "workflows/hello.maskflow.json", "--set", `model.path=${model}`, "--set", "denoise.gen_length=4", "--set", "schedule.steps=4", "--set", "schedule.block_length=4"]);
      expect(r.code, r.stderr).toBe(0);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

// A Redis behind TLS with a password (rediss://:password@host): workers and the batch client
// connect with the CA from MASKFLOW_REDIS_CA; a wrong password is an error, not a silent retry.
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { afterAll, beforeAll, expect, it } from "vitest";
import { maskflow, startWorker, type Proc } from "./processes.js";
import { describeWithRedis, startRedis, type TestRedis } from "./redis.js";

const tls = { cert: resolve("test/queue/tls/server.crt"), key: resolve("test/queue/tls/server.key"), ca: resolve("test/queue/tls/ca.crt") };
const env = { MASKFLOW_REDIS_CA: tls.ca };

describeWithRedis("a Redis with TLS and a password", () => {
  let redis: TestRedis;
  const procs: Proc[] = [];
  beforeAll(async () => {
    redis = await startRedis({ tls, password: "s3cret/pass" });
  });
  afterAll(async () => {
    for (const p of procs) p.child.kill("SIGKILL");
    await redis?.stop();
  });

  it("runs a batch through rediss:// with the password in the URL", async () => {
    expect(redis.url).toMatch(/^rediss:\/\/:s3cret%2Fpass@127\.0\.0\.1:\d+$/);
    const worker = await startWorker(redis.url, "wt", [], env);
    procs.push(worker);
    expect(worker.output()).not.toContain("s3cret");
    const dir = mkdtempSync(join(tmpdir(), "maskflow-tls-"));
    writeFileSync(join(dir, "jobs.jsonl"), '{"greeting.value": "one"}\n{"greeting.value": "two"}\n');
    const out = join(dir, "out.jsonl");
    const client = maskflow(["batch", "workflows/concat.maskflow.json", "--inputs", join(dir, "jobs.jsonl"), "--out", out, "--redis", redis.url], env);
    procs.push(client);
    expect(await client.exited).toBe(0);
    const rows = readFileSync(out, "utf8").trim().split("\n").map((l) => JSON.parse(l));
    rows.sort((a, b) => a.line - b.line);
    expect(rows.map((r) => [r.line, r.status, r.worker, r.outputs.show.text])).toEqual([
      [1, "ok", "wt", expect.stringMatching(/^one /)],
      [2, "ok", "wt", expect.stringMatching(/^two /)],
    ]);
  });

  it("says so when the password is wrong, or the CA is not trusted", async () => {
    const wrong = maskflow(["worker", "--redis", redis.url.replace("s3cret%2Fpass", "wrong")], env);
    procs.push(wrong);
    expect(await wrong.exited).toBe(1);
    expect(wrong.output()).toMatch(/WRONGPASS/);
    const untrusted = maskflow(["worker", "--redis", redis.url]);
    procs.push(untrusted);
    await untrusted.waitFor(/unavailable \(.*(certificate|self.signed)/i);
    untrusted.child.kill("SIGKILL");
  });
});

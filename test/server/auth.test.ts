// Access control: an open server answers only loopback pages; a token server wants the token
// on every HTTP and WebSocket request; a non-loopback bind never runs without one.
import { request } from "node:http";
import { afterEach, describe, expect, it } from "vitest";
import WebSocket from "ws";
import { generateToken, isLoopbackHost, type RunningServer } from "../../engine/server/index.js";
import { api, concatWorkflow, startTestServer } from "./helpers.js";

const servers: RunningServer[] = [];
async function start(options: Parameters<typeof startTestServer>[0] = {}) {
  const server = await startTestServer(options);
  servers.push(server);
  return server;
}

afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => s.close()));
});

/** A raw request, so Host and Origin can be set freely. */
function raw(server: RunningServer, path: string, headers: Record<string, string>, method = "GET", body?: string) {
  return new Promise<{ status: number; body: string; headers: Record<string, unknown> }>((resolve, reject) => {
    const req = request({ host: "127.0.0.1", port: server.port, path, method, headers }, (res) => {
      let data = "";
      res.on("data", (chunk) => (data += chunk));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, body: data, headers: res.headers }));
    });
    req.on("error", reject);
    req.end(body);
  });
}

function wsOutcome(url: string, headers: Record<string, string> = {}): Promise<number | "open"> {
  return new Promise((resolve) => {
    const ws = new WebSocket(url, { headers });
    ws.once("open", () => {
      ws.close();
      resolve("open");
    });
    ws.once("unexpected-response", (_req, res) => resolve(res.statusCode ?? 0));
    ws.once("error", () => resolve(0));
  });
}

describe("helpers", () => {
  it("knows loopback hosts", () => {
    for (const host of ["127.0.0.1", "localhost", "::1", "[::1]", "127.1.2.3"]) expect(isLoopbackHost(host)).toBe(true);
    for (const host of ["0.0.0.0", "192.168.1.2", "example.com", "::", "127.0.0.1.evil.com"]) expect(isLoopbackHost(host)).toBe(false);
  });

  it("generates long, distinct tokens", () => {
    const a = generateToken();
    expect(a.length).toBeGreaterThanOrEqual(40);
    expect(a).toMatch(/^[A-Za-z0-9_-]+$/);
    expect(generateToken()).not.toBe(a);
  });
});

describe("an open loopback server", () => {
  it("needs no token", async () => {
    const server = await start();
    expect(server.token).toBeNull();
    expect(server.url).toBe(`http://127.0.0.1:${server.port}/`);
    expect((await api(server, "GET", "/api/nodes")).status).toBe(200);
  });

  it("refuses requests whose Host is not loopback (DNS rebinding)", async () => {
    const server = await start();
    const res = await raw(server, "/api/nodes", { Host: `evil.example:${server.port}` });
    expect(res.status).toBe(403);
    expect(JSON.parse(res.body).error).toMatch(/host/);
    expect((await raw(server, "/api/nodes", { Host: `localhost:${server.port}` })).status).toBe(200);
  });

  it("refuses cross-origin writes and WebSockets, allows same-origin ones", async () => {
    const server = await start();
    const body = JSON.stringify({ workflow: concatWorkflow });
    const json = { "Content-Type": "application/json", Host: `127.0.0.1:${server.port}` };
    expect((await raw(server, "/api/runs", { ...json, Origin: "https://evil.example" }, "POST", body)).status).toBe(403);
    expect((await raw(server, "/api/runs", { ...json, Origin: "null" }, "POST", body)).status).toBe(403);
    expect((await raw(server, "/api/runs", { ...json, Origin: `http://127.0.0.1:${server.port}` }, "POST", body)).status).toBe(201);
    const ws = `ws://127.0.0.1:${server.port}/api/events`;
    expect(await wsOutcome(ws, { Origin: "https://evil.example" })).toBe(403);
    expect(await wsOutcome(ws, { Origin: `http://127.0.0.1:${server.port}` })).toBe("open");
  });
});

describe("a server with a token", () => {
  const token = "correct-horse-battery-staple";

  it("checks the token on every HTTP request: header, query or cookie", async () => {
    const server = await start({ token });
    expect(server.token).toBe(token);
    expect(server.url).toBe(`http://127.0.0.1:${server.port}/?token=${token}`);
    const none = await fetch(`${server.origin}/api/nodes`);
    expect(none.status).toBe(401);
    expect((await none.json()).error).toMatch(/token/);
    expect((await fetch(`${server.origin}/api/nodes`, { headers: { Authorization: "Bearer wrong-token-xyz" } })).status).toBe(401);
    expect((await fetch(`${server.origin}/api/nodes`, { headers: { Authorization: `Bearer ${token}` } })).status).toBe(200);
    // Pages and assets too.
    expect((await fetch(`${server.origin}/`)).status).toBe(401);
    expect((await fetch(`${server.origin}/app.js`)).status).toBe(401);
    const page = await fetch(`${server.origin}/?token=${token}`);
    expect(page.status).toBe(200);
    const cookie = page.headers.get("set-cookie") ?? "";
    expect(cookie).toMatch(/maskflow_token=/);
    expect(cookie).toMatch(/HttpOnly/i);
    expect(cookie).toMatch(/SameSite=Strict/i);
    const withCookie = await fetch(`${server.origin}/app.js`, { headers: { Cookie: cookie.split(";")[0] } });
    expect(withCookie.status).toBe(200);
  });

  it("checks the token on the WebSocket", async () => {
    const server = await start({ token });
    const ws = `ws://127.0.0.1:${server.port}/api/events`;
    expect(await wsOutcome(ws)).toBe(401);
    expect(await wsOutcome(`${ws}?token=wrong-token-xyz`)).toBe(401);
    expect(await wsOutcome(`${ws}?token=${token}`)).toBe("open");
    expect(await wsOutcome(ws, { Authorization: `Bearer ${token}` })).toBe("open");
  });

  it("refuses tokens that are too short to be secret", async () => {
    await expect(startTestServer({ token: "abc" })).rejects.toThrow(/at least/);
  });
});

describe("binding to a non-loopback address", () => {
  it("generates a token, prints it, and enforces it", async () => {
    const lines: string[] = [];
    const server = await start({ host: "0.0.0.0", log: (line) => lines.push(line) });
    expect(server.token).toEqual(expect.any(String));
    expect(server.token!.length).toBeGreaterThanOrEqual(40);
    expect(lines.join("\n")).toContain(server.token!);
    expect((await fetch(`${server.origin}/api/nodes`)).status).toBe(401);
    expect((await api(server, "GET", "/api/nodes")).status).toBe(200);
  });

  it("uses a given token", async () => {
    const server = await start({ host: "0.0.0.0", token: "given-token-123456" });
    expect(server.token).toBe("given-token-123456");
    expect((await fetch(`${server.origin}/api/nodes`)).status).toBe(401);
  });
});

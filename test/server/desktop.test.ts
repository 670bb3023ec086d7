// The desktop shell's logic under plain Node (the Electron binary cannot be installed here):
// engine start-up, navigation rules, the menu, the file handlers, the preload bridge, and
// that the shell bundles.
import { execFileSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { CHANNELS, createDesktopBridge, type RendererIpc } from "../../electron/bridge.js";
import {
  isAppUrl,
  isExternalLink,
  menuTemplate,
  readWorkflowFile,
  saveDialogOptions,
  startEngine,
  withWorkflowSuffix,
  workflowFromArgv,
  writeWorkflowFile,
  type MenuItem,
} from "../../electron/shell.js";
import type { RunningServer } from "../../engine/server/index.js";
import { concatWorkflow, fakeAppDir } from "./helpers.js";

const dir = mkdtempSync(join(tmpdir(), "maskflow-desktop-"));
const engines: RunningServer[] = [];
afterAll(async () => {
  await Promise.all(engines.map((e) => e.close()));
});

describe("startEngine", () => {
  it("starts the engine on a free loopback port with a fresh token that it enforces", async () => {
    const a = await startEngine({ appDir: fakeAppDir(), log: () => {} });
    const b = await startEngine({ appDir: fakeAppDir(), log: () => {} });
    engines.push(a, b);
    expect(a.origin).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(a.port).not.toBe(b.port);
    expect(a.token).toEqual(expect.any(String));
    expect(a.token).not.toBe(b.token);
    expect(a.url).toBe(`${a.origin}/?token=${a.token}`);
    expect((await fetch(`${a.origin}/api/nodes`)).status).toBe(401);
    expect((await fetch(a.url)).status).toBe(200);
  });
});

describe("navigation", () => {
  const server = { origin: "http://127.0.0.1:4567" };
  it("keeps the engine's own pages in the window", () => {
    expect(isAppUrl("http://127.0.0.1:4567/?token=x", server)).toBe(true);
    expect(isAppUrl("http://127.0.0.1:4568/", server)).toBe(false);
    expect(isAppUrl("https://example.com/", server)).toBe(false);
    expect(isAppUrl("not a url", server)).toBe(false);
  });
  it("sends only http(s) links to the system browser", () => {
    expect(isExternalLink("https://github.com/ML-GSAI/LLaDA")).toBe(true);
    expect(isExternalLink("file:///etc/passwd")).toBe(false);
    expect(isExternalLink("javascript:alert(1)")).toBe(false);
  });
});

describe("command line", () => {
  it("finds a workflow file among the arguments", () => {
    expect(workflowFromArgv(["/opt/Maskflow/maskflow", "--no-sandbox", "/home/me/a.maskflow.json"])).toBe("/home/me/a.maskflow.json");
    expect(workflowFromArgv(["maskflow", "b.json"])).toBe("b.json");
    expect(workflowFromArgv(["maskflow", "--flag"])).toBeNull();
    expect(workflowFromArgv(["a.maskflow.json"])).toBeNull(); // argv[0] is the executable
  });

  it("makes a second launch's relative path absolute against that launch's folder", () => {
    // Electron's second-instance event hands over the second process's argv and working directory.
    expect(workflowFromArgv(["maskflow", "work/b.maskflow.json"], "/home/me")).toBe(join("/home/me", "work/b.maskflow.json"));
    expect(workflowFromArgv(["maskflow", "/abs/c.maskflow.json"], "/home/me")).toBe("/abs/c.maskflow.json");
  });
});

describe("the menu", () => {
  const all = (items: MenuItem[]): MenuItem[] => items.flatMap((item) => [item, ...all(item.submenu ?? [])]);

  it("sends page commands and shows, without registering, the shortcuts the page handles", () => {
    const sent: string[] = [];
    const items = all(menuTemplate("linux", (c) => sent.push(c)));
    for (const label of ["New Workflow", "Open…", "Save…", "Undo", "Redo", "Run Workflow", "Cancel Run", "Keyboard Shortcuts"]) {
      const item = items.find((i) => i.label === label);
      expect(item, label).toBeDefined();
      item!.click!();
    }
    expect(sent).toEqual(["new", "open", "save", "undo", "redo", "run", "cancel", "help"]);
    for (const item of items.filter((i) => i.accelerator)) expect(item.registerAccelerator, item.label).toBe(false);
    expect(items.find((i) => i.label === "Run Workflow")!.accelerator).toBe("CmdOrCtrl+Enter");
    expect(items.some((i) => i.role === "paste")).toBe(true);
    expect(items.some((i) => i.role === "quit")).toBe(true);
  });

  it("has the application menu on macOS", () => {
    const template = menuTemplate("darwin", () => {});
    expect(template[0].label).toBe("Maskflow");
    expect(all(template).some((i) => i.role === "close")).toBe(true);
  });
});

describe("workflow files", () => {
  it("reads a valid workflow", async () => {
    const path = join(dir, "ok.maskflow.json");
    writeFileSync(path, JSON.stringify(concatWorkflow));
    const file = await readWorkflowFile(path);
    expect(file.name).toBe("ok.maskflow.json");
    expect(JSON.parse(file.text)).toEqual(concatWorkflow);
  });

  it("refuses files that are not JSON or not workflows, saying why", async () => {
    const notJson = join(dir, "bad.json");
    writeFileSync(notJson, "{ nope");
    await expect(readWorkflowFile(notJson)).rejects.toThrow(/not JSON/);
    const notWorkflow = join(dir, "other.json");
    writeFileSync(notWorkflow, JSON.stringify({ version: 1, nodes: { a: { kind: "x" } } }));
    await expect(readWorkflowFile(notWorkflow)).rejects.toThrow(/not a Maskflow workflow[\s\S]*a/);
    await expect(readWorkflowFile(join(dir, "missing.json"))).rejects.toThrow(/ENOENT/);
  });

  it("writes atomically, adding the suffix when the name has none", async () => {
    const written = await writeWorkflowFile(join(dir, "mine"), JSON.stringify(concatWorkflow));
    expect(written).toBe(join(dir, "mine.maskflow.json"));
    expect(JSON.parse(readFileSync(written, "utf8"))).toEqual(concatWorkflow);
    expect(readdirSync(dir).filter((f) => f.endsWith(".tmp"))).toEqual([]);
    expect(withWorkflowSuffix("x.json")).toBe("x.json");
    await expect(writeWorkflowFile(join(dir, "broken"), "{")).rejects.toThrow();
    expect(existsSync(join(dir, "broken.maskflow.json"))).toBe(false);
  });

  it("suggests the editor's file name in the save dialog", () => {
    expect(saveDialogOptions("hello.maskflow.json", "/docs").defaultPath).toBe(join("/docs", "hello.maskflow.json"));
    expect(saveDialogOptions("../../evil.json").defaultPath).toBe("evil.json");
  });
});

describe("the preload bridge", () => {
  it("maps each call to its IPC channel and forwards menu commands until unsubscribed", async () => {
    const invoked: unknown[][] = [];
    const listeners = new Map<string, (event: unknown, ...args: unknown[]) => void>();
    const ipc: RendererIpc = {
      invoke: async (...args) => {
        invoked.push(args);
        return null;
      },
      on: (channel, listener) => listeners.set(channel, listener),
      removeListener: (channel) => listeners.delete(channel),
    };
    const bridge = createDesktopBridge(ipc);
    await bridge.openWorkflow();
    await bridge.saveWorkflow("{}", "a.maskflow.json");
    await bridge.browseFile("/models");
    expect(invoked).toEqual([[CHANNELS.open], [CHANNELS.save, "{}", "a.maskflow.json"], [CHANNELS.browse, "/models"]]);
    const commands: string[] = [];
    const off = bridge.onMenuCommand((c) => commands.push(c));
    listeners.get(CHANNELS.menu)!({}, "run");
    listeners.get(CHANNELS.menu)!({}, 42);
    off();
    expect(commands).toEqual(["run"]);
    expect(listeners.has(CHANNELS.menu)).toBe(false);
  });
});

describe("packaging", () => {
  it("bundles main (ESM, engine inside, npm packages external) and the preload (CommonJS)", () => {
    const out = mkdtempSync(join(tmpdir(), "maskflow-electron-build-"));
    execFileSync(process.execPath, [join(import.meta.dirname, "../../electron/build.mjs"), out], { stdio: "pipe" });
    const main = readFileSync(join(out, "main.mjs"), "utf8");
    const imports = [...main.matchAll(/^import .* from "([^"]+)";$/gm)].map((m) => m[1]);
    expect(imports).toContain("electron");
    expect(imports.every((m) => !m.startsWith("."))).toBe(true);
    expect(main).toContain("requestSingleInstanceLock");
    const preload = readFileSync(join(out, "preload.cjs"), "utf8");
    expect(preload).toContain('require("electron")');
    expect(preload).toContain("maskflowDesktop");
    rmSync(out, { recursive: true, force: true });
  });

  it("opens .maskflow.json files from the OS, and npm run package pins its electron-builder", () => {
    const config = JSON.parse(readFileSync(join(import.meta.dirname, "../../electron/electron-builder.json"), "utf8"));
    expect(config.fileAssociations).toEqual([expect.objectContaining({ ext: "maskflow.json", name: "Maskflow workflow", role: "Editor", mimeType: expect.stringMatching(/^application\//) })]);
    const scripts = JSON.parse(readFileSync(join(import.meta.dirname, "../../package.json"), "utf8")).scripts;
    expect(scripts.package).toBe("node electron/package.mjs");
    expect(scripts.desktop).toBe("node bin/maskflow.js desktop");
    const packager = readFileSync(join(import.meta.dirname, "../../electron/package.mjs"), "utf8");
    expect(packager).toMatch(/ELECTRON_BUILDER = "electron-builder@\d+\.\d+\.\d+";/); // exact: a release is reproducible
    expect(packager).toContain('"--config", "electron/electron-builder.json"');
    // What the packaged app's main loads at run time is inside the packaged files.
    for (const needed of ["dist/electron/**", "dist/app/**", "models/default/**", "package.json"]) expect(config.files).toContain(needed);
  });

  it("has an electron-builder config for Linux, Windows and macOS", () => {
    const config = JSON.parse(readFileSync(join(import.meta.dirname, "../../electron/electron-builder.json"), "utf8"));
    expect(config.linux.target).toContain("AppImage");
    expect(config.win.target).toContain("nsis");
    expect(config.mac.target).toContain("dmg");
    expect(config.extraMetadata.main).toBe("dist/electron/main.mjs");
    expect(config.files).toEqual(expect.arrayContaining(["dist/electron/**", "dist/app/**", "workflows/**"]));
  });
});

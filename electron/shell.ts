// The desktop shell's logic, free of Electron so it runs (and is tested) under plain Node:
// starting the engine, the window's address, which navigations stay in the window, the menu,
// and reading/writing workflow files for the native Open and Save dialogs.
import { randomBytes } from "node:crypto";
import { readFile, rename, writeFile } from "node:fs/promises";
import { basename, dirname, extname, join, resolve } from "node:path";
import { parseWorkflow } from "../engine/workflow/load.js";
import { formatIssue } from "../engine/workflow/issues.js";
import { defaultHistoryDir, generateToken, startServer, type RunningServer, type ServerOptions } from "../engine/server/index.js";
import { assembleRegistry, formatSkipped } from "../engine/plugins/index.js";
import { builtinNodes } from "../nodes/index.js";

export const WORKFLOW_SUFFIX = ".maskflow.json";

/**
 * Starts the engine in this process on a free loopback port with a fresh token, so no other
 * local program or web page can drive it. Its nodes are the CLI's: the built-in ones plus every
 * node package that loads (the others are logged and skipped).
 */
export async function startEngine(options: Partial<Pick<ServerOptions, "appDir" | "registry" | "log" | "historyDir">> = {}): Promise<RunningServer> {
  const log = options.log ?? ((line: string) => console.log(line));
  let registry = options.registry;
  if (!registry) {
    const assembled = await assembleRegistry(builtinNodes);
    for (const skipped of assembled.skipped) log(`warning: ${formatSkipped(skipped)}`);
    registry = assembled.registry;
  }
  return startServer({ historyDir: defaultHistoryDir(), ...options, registry, log, host: "127.0.0.1", port: 0, token: generateToken() });
}

/** Only the engine's own pages load in the window; everything else opens in the browser. */
export function isAppUrl(url: string, server: Pick<RunningServer, "origin">): boolean {
  try {
    return new URL(url).origin === new URL(server.origin).origin;
  } catch {
    return false;
  }
}

/** http(s) links leave the app for the system browser; other schemes (file:, javascript:) are dropped. */
export function isExternalLink(url: string): boolean {
  try {
    const { protocol } = new URL(url);
    return protocol === "http:" || protocol === "https:";
  } catch {
    return false;
  }
}

/**
 * A workflow file named on the command line (double-click, "Open with", a second launch), made
 * absolute against `cwd`: a second launch's relative path is relative to where it was started,
 * not to where the running instance was.
 */
export function workflowFromArgv(argv: readonly string[], cwd?: string): string | null {
  for (const arg of argv.slice(1)) {
    if (!arg.startsWith("-") && (arg.endsWith(WORKFLOW_SUFFIX) || extname(arg) === ".json")) return cwd ? resolve(cwd, arg) : arg;
  }
  return null;
}

export interface OpenedWorkflow {
  name: string;
  path: string;
  text: string;
}

/** Reads a workflow file, refusing anything that is not a valid version-1 document. */
export async function readWorkflowFile(path: string): Promise<OpenedWorkflow> {
  const text = await readFile(path, "utf8");
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    throw new Error(`${basename(path)} is not JSON: ${(err as Error).message}`);
  }
  const parsed = parseWorkflow(json);
  if (!parsed.ok) throw new Error(`${basename(path)} is not a Maskflow workflow:\n${parsed.errors.map(formatIssue).join("\n")}`);
  return { name: basename(path), path, text };
}

/** Adds `.maskflow.json` unless the name already ends in .json. */
export function withWorkflowSuffix(path: string): string {
  return extname(path).toLowerCase() === ".json" ? path : path + WORKFLOW_SUFFIX;
}

/** Writes a workflow file atomically (a crash mid-write never leaves half a file). */
export async function writeWorkflowFile(path: string, text: string): Promise<string> {
  JSON.parse(text); // refuse to write something that would not open again
  const target = withWorkflowSuffix(path);
  const temp = join(dirname(target), `.${basename(target)}.${randomBytes(4).toString("hex")}.tmp`);
  await writeFile(temp, text.endsWith("\n") ? text : text + "\n", "utf8");
  await rename(temp, target);
  return target;
}

export const WORKFLOW_FILTERS = [
  { name: "Maskflow workflow", extensions: ["json"] },
  { name: "All files", extensions: ["*"] },
];

export function openDialogOptions(defaultPath?: string) {
  return { title: "Open workflow", properties: ["openFile"] as ("openFile" | "openDirectory")[], filters: WORKFLOW_FILTERS, ...(defaultPath ? { defaultPath } : {}) };
}

export function saveDialogOptions(suggestedName: string, directory?: string) {
  const name = basename(suggestedName) || `workflow${WORKFLOW_SUFFIX}`;
  return { title: "Save workflow", defaultPath: directory ? join(directory, name) : name, filters: WORKFLOW_FILTERS };
}

export function browseDialogOptions(current: string) {
  return {
    title: "Choose a file or folder",
    properties: ["openFile", "openDirectory"] as ("openFile" | "openDirectory")[],
    ...(current ? { defaultPath: current } : {}),
  };
}

/** A menu item as Electron's Menu.buildFromTemplate takes it (the subset used here). */
export interface MenuItem {
  label?: string;
  role?: string;
  type?: "separator" | "submenu";
  accelerator?: string;
  /** false: the page handles the key itself; the menu only shows it. */
  registerAccelerator?: boolean;
  click?: () => void;
  submenu?: MenuItem[];
}

/**
 * The application menu. Items whose shortcut the editor page already handles show it without
 * registering it, so one key press never acts twice; they send the page a command instead.
 */
export function menuTemplate(platform: NodeJS.Platform, send: (command: string) => void, appName = "Maskflow"): MenuItem[] {
  const command = (label: string, name: string, accelerator?: string): MenuItem => ({
    label,
    ...(accelerator ? { accelerator, registerAccelerator: false } : {}),
    click: () => send(name),
  });
  const separator: MenuItem = { type: "separator" };
  const mac = platform === "darwin";
  return [
    ...(mac
      ? [{ label: appName, submenu: [{ role: "about" }, separator, { role: "hide" }, { role: "hideOthers" }, separator, { role: "quit" }] }]
      : []),
    {
      label: "File",
      submenu: [
        command("New Workflow", "new"),
        command("Open…", "open", "CmdOrCtrl+O"),
        command("Save…", "save", "CmdOrCtrl+S"),
        separator,
        mac ? { role: "close" } : { role: "quit" },
      ],
    },
    {
      label: "Edit",
      submenu: [
        command("Undo", "undo", "CmdOrCtrl+Z"),
        command("Redo", "redo", mac ? "Shift+CmdOrCtrl+Z" : "CmdOrCtrl+Y"),
        separator,
        // Native roles: they act in text fields, and fire copy/paste events the canvas handles.
        { role: "cut" },
        { role: "copy" },
        { role: "paste" },
        { role: "selectAll" },
      ],
    },
    {
      label: "Run",
      submenu: [command("Run Workflow", "run", "CmdOrCtrl+Enter"), command("Cancel Run", "cancel")],
    },
    {
      label: "View",
      submenu: [
        command("Fit Graph", "fit", "F"),
        command("Toggle Dark/Light Theme", "theme"),
        separator,
        { role: "resetZoom" },
        { role: "zoomIn" },
        { role: "zoomOut" },
        separator,
        { role: "togglefullscreen" },
        { role: "toggleDevTools" },
      ],
    },
    {
      label: "Help",
      submenu: [command("Keyboard Shortcuts", "help", "?")],
    },
  ];
}

// The desktop shell: one instance per user, the engine in-process on a free loopback port with
// a fresh token, the editor in a window, native Open/Save. The logic lives in shell.ts.
import { BrowserWindow, Menu, app, dialog, ipcMain, shell } from "electron";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import type { RunningServer } from "../engine/server/index.js";
import { CHANNELS } from "./bridge.js";
import {
  browseDialogOptions,
  isAppUrl,
  isExternalLink,
  menuTemplate,
  openDialogOptions,
  readWorkflowFile,
  saveDialogOptions,
  startEngine,
  workflowFromArgv,
  writeWorkflowFile,
} from "./shell.js";

const here = dirname(fileURLToPath(import.meta.url));
let server: RunningServer | null = null;
let window: BrowserWindow | null = null;
let lastDirectory: string | undefined;
/** Set by openInWindow: the next Open answers with this file instead of a dialog. */
let pendingOpen: string | null = null;
/** A file to open once the window is up (from the command line or the OS). */
let pendingFile: string | null = workflowFromArgv(process.argv, process.cwd());

if (!app.requestSingleInstanceLock()) {
  app.quit();
} else {
  // A second launch (double-click on another file, `maskflow desktop b.maskflow.json`) quits at
  // once and hands its arguments here: the running window opens the file.
  app.on("second-instance", (_event, argv, workingDirectory) => {
    const file = workflowFromArgv(argv, workingDirectory);
    if (!window) {
      if (file) pendingFile = file; // still starting: open it once the window is up
      return;
    }
    if (window.isMinimized()) window.restore();
    window.focus();
    if (file) void openInWindow(file);
  });
  app.on("open-file", (event, path) => {
    event.preventDefault();
    if (window) void openInWindow(path);
    else pendingFile = path;
  });
  app.on("window-all-closed", () => {
    if (process.platform !== "darwin") app.quit();
  });
  app.on("activate", () => {
    if (!window && server) createWindow(server);
  });
  let quitting = false;
  app.on("before-quit", (event) => {
    if (quitting || !server) return;
    // Stop the engine (cancel runs, free the model) before the process goes.
    event.preventDefault();
    quitting = true;
    void server.close().finally(() => app.quit());
  });
  void app.whenReady().then(start);
}

async function start(): Promise<void> {
  try {
    server = await startEngine({ appDir: join(here, "..", "app") });
  } catch (err) {
    dialog.showErrorBox("Maskflow could not start its engine", (err as Error).message);
    app.exit(1);
    return;
  }
  registerIpc();
  createWindow(server);
}

function createWindow(engine: RunningServer): void {
  window = new BrowserWindow({
    width: 1440,
    height: 900,
    minWidth: 900,
    minHeight: 600,
    show: false,
    title: "Maskflow",
    backgroundColor: "#0d0f14",
    webPreferences: {
      preload: join(here, "preload.cjs"),
      contextIsolation: true,
      nodeIntegration: false,
      sandbox: true,
    },
  });
  const win = window;
  win.webContents.setWindowOpenHandler(({ url }) => {
    if (isExternalLink(url) && !isAppUrl(url, engine)) void shell.openExternal(url);
    return { action: "deny" };
  });
  win.webContents.on("will-navigate", (event, url) => {
    if (!isAppUrl(url, engine)) {
      event.preventDefault();
      if (isExternalLink(url)) void shell.openExternal(url);
    }
  });
  // shell.ts types roles as plain strings (it runs without Electron's types); they are Electron's role names.
  const template = menuTemplate(process.platform, (command) => win.webContents.send(CHANNELS.menu, command)) as Electron.MenuItemConstructorOptions[];
  Menu.setApplicationMenu(Menu.buildFromTemplate(template));
  win.once("ready-to-show", () => {
    win.show();
    if (pendingFile) {
      void openInWindow(pendingFile);
      pendingFile = null;
    }
  });
  win.on("closed", () => {
    window = null;
  });
  void win.loadURL(engine.url);
}

/** Opens a file given by the OS: the page asks for it through its usual Open command. */
async function openInWindow(path: string): Promise<void> {
  pendingOpen = path;
  window?.webContents.send(CHANNELS.menu, "open");
}

function registerIpc(): void {
  ipcMain.handle(CHANNELS.open, async () => {
    if (!window) return null;
    let path = pendingOpen;
    pendingOpen = null;
    if (!path) {
      const result = await dialog.showOpenDialog(window, openDialogOptions(lastDirectory));
      if (result.canceled || !result.filePaths[0]) return null;
      path = result.filePaths[0];
    }
    lastDirectory = dirname(path);
    try {
      const file = await readWorkflowFile(path);
      return { name: file.name, text: file.text };
    } catch (err) {
      dialog.showErrorBox("Cannot open this workflow", (err as Error).message);
      return null;
    }
  });
  ipcMain.handle(CHANNELS.save, async (_event, text, suggestedName) => {
    if (!window) return null;
    const result = await dialog.showSaveDialog(window, saveDialogOptions(String(suggestedName), lastDirectory ?? app.getPath("documents")));
    if (result.canceled || !result.filePath) return null;
    const written = await writeWorkflowFile(result.filePath, String(text));
    lastDirectory = dirname(written);
    return written;
  });
  ipcMain.handle(CHANNELS.browse, async (_event, current) => {
    if (!window) return null;
    const result = await dialog.showOpenDialog(window, browseDialogOptions(String(current ?? "")));
    return result.canceled ? null : (result.filePaths[0] ?? null);
  });
}

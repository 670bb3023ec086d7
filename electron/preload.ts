// Runs in the editor page before its scripts, with context isolation: exposes only the
// desktop bridge (native dialogs, menu commands), never Node or Electron themselves.
import { contextBridge, ipcRenderer } from "electron";
import { createDesktopBridge } from "./bridge.js";

contextBridge.exposeInMainWorld("maskflowDesktop", createDesktopBridge(ipcRenderer));

// The small API the desktop shell gives the editor page (window.maskflowDesktop): native file
// dialogs and menu commands. The preload script builds it from Electron's ipcRenderer; it is
// a plain function of an IPC object so it can be tested without Electron.

export const CHANNELS = {
  open: "maskflow:open",
  save: "maskflow:save",
  browse: "maskflow:browse",
  menu: "maskflow:menu",
} as const;

export interface DesktopBridge {
  /** Shows the native Open dialog; null when cancelled. */
  openWorkflow(): Promise<{ name: string; text: string } | null>;
  /** Shows the native Save dialog and writes the file; the path written, or null when cancelled. */
  saveWorkflow(text: string, suggestedName: string): Promise<string | null>;
  /** Picks a file or folder for a file-path widget (a model folder, an adapter). */
  browseFile(current: string): Promise<string | null>;
  /** Menu commands ("run", "save", "undo", ...); returns an unsubscribe function. */
  onMenuCommand(listener: (command: string) => void): () => void;
}

/** The part of Electron's ipcRenderer the bridge uses. */
export interface RendererIpc {
  invoke(channel: string, ...args: unknown[]): Promise<unknown>;
  on(channel: string, listener: (event: unknown, ...args: unknown[]) => void): unknown;
  removeListener(channel: string, listener: (event: unknown, ...args: unknown[]) => void): unknown;
}

export function createDesktopBridge(ipc: RendererIpc): DesktopBridge {
  return {
    openWorkflow: () => ipc.invoke(CHANNELS.open) as Promise<{ name: string; text: string } | null>,
    saveWorkflow: (text, suggestedName) => ipc.invoke(CHANNELS.save, String(text), String(suggestedName)) as Promise<string | null>,
    browseFile: (current) => ipc.invoke(CHANNELS.browse, String(current)) as Promise<string | null>,
    onMenuCommand(listener) {
      const forward = (_event: unknown, command: unknown) => {
        if (typeof command === "string") listener(command);
      };
      ipc.on(CHANNELS.menu, forward);
      return () => ipc.removeListener(CHANNELS.menu, forward);
    },
  };
}

// The few Electron APIs the shell uses. The `electron` package (and its binary) cannot be
// downloaded on our build machines, so main.ts and preload.ts type-check against this instead.
// With `electron` installed, its own (complete) declarations can replace this file.
declare module "electron" {
  interface WebContents {
    send(channel: string, ...args: unknown[]): void;
    setWindowOpenHandler(handler: (details: { url: string }) => { action: "allow" | "deny" }): void;
    on(event: "will-navigate", listener: (event: { preventDefault(): void }, url: string) => void): this;
  }
  class BrowserWindow {
    constructor(options: Record<string, unknown>);
    webContents: WebContents;
    loadURL(url: string): Promise<void>;
    isMinimized(): boolean;
    restore(): void;
    focus(): void;
    show(): void;
    once(event: "ready-to-show", listener: () => void): this;
    on(event: "closed", listener: () => void): this;
    static getAllWindows(): BrowserWindow[];
  }
  interface MenuItemOptions {
    label?: string;
    role?: string;
    type?: string;
    accelerator?: string;
    registerAccelerator?: boolean;
    click?: () => void;
    submenu?: MenuItemOptions[];
  }
  class Menu {
    static buildFromTemplate(template: MenuItemOptions[]): Menu;
    static setApplicationMenu(menu: Menu | null): void;
  }
  interface FileDialogResult {
    canceled: boolean;
    filePaths: string[];
  }
  interface SaveDialogResult {
    canceled: boolean;
    filePath?: string;
  }
  const dialog: {
    showOpenDialog(window: BrowserWindow, options: Record<string, unknown>): Promise<FileDialogResult>;
    showSaveDialog(window: BrowserWindow, options: Record<string, unknown>): Promise<SaveDialogResult>;
    showErrorBox(title: string, content: string): void;
  };
  const app: {
    requestSingleInstanceLock(): boolean;
    quit(): void;
    exit(code?: number): void;
    whenReady(): Promise<void>;
    getPath(name: "documents" | "userData" | "home"): string;
    getAppPath(): string;
    isPackaged: boolean;
    name: string;
    on(event: "second-instance", listener: (event: unknown, argv: string[]) => void): void;
    on(event: "window-all-closed" | "activate", listener: () => void): void;
    on(event: "before-quit", listener: (event: { preventDefault(): void }) => void): void;
    on(event: "open-file", listener: (event: { preventDefault(): void }, path: string) => void): void;
  };
  const ipcMain: {
    handle(channel: string, handler: (event: { sender: WebContents }, ...args: unknown[]) => unknown): void;
  };
  const shell: {
    openExternal(url: string): Promise<void>;
  };
  const contextBridge: {
    exposeInMainWorld(key: string, api: unknown): void;
  };
  const ipcRenderer: {
    invoke(channel: string, ...args: unknown[]): Promise<unknown>;
    on(channel: string, listener: (event: unknown, ...args: unknown[]) => void): unknown;
    removeListener(channel: string, listener: (event: unknown, ...args: unknown[]) => void): unknown;
  };
}

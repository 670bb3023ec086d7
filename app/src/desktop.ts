// The bridge the desktop shell's preload script exposes (electron/preload.ts). In a browser it
// is absent and the editor uses a file input and downloads instead.
export interface DesktopBridge {
  openWorkflow(): Promise<{ name: string; text: string } | null>;
  saveWorkflow(text: string, suggestedName: string): Promise<string | null>;
  browseFile(current: string): Promise<string | null>;
  onMenuCommand(listener: (command: string) => void): () => void;
}

declare global {
  interface Window {
    maskflowDesktop?: DesktopBridge;
  }
}

export function desktop(): DesktopBridge | undefined {
  return window.maskflowDesktop;
}

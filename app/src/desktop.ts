// The bridge the desktop shell's preload script exposes (electron/bridge.ts). In a browser it
// is absent and the editor uses a file input and downloads instead.
import type { DesktopBridge } from "../../electron/bridge.js";

declare global {
  interface Window {
    maskflowDesktop?: DesktopBridge;
  }
}

export function desktop(): DesktopBridge | undefined {
  return window.maskflowDesktop;
}

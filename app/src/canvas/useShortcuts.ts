// The editor's keyboard: run, save, open, undo/redo, copy/paste/duplicate, select all, search,
// fit, bypass (Ctrl+B) and mute (Ctrl+M), and Escape closing whatever is open. Commands come
// from the editor through a ref, so the listener is installed once.
import { useEffect, type MutableRefObject } from "react";

export type ShortcutCommand =
  | "run"
  | "runNext"
  | "save"
  | "open"
  | "undo"
  | "redo"
  | "duplicate"
  | "selectAll"
  | "copy"
  | "paste"
  | "help"
  | "search"
  | "fit"
  | "bypass"
  | "mute"
  | "escape";

export function isEditable(target: EventTarget | null): boolean {
  const el = target as HTMLElement | null;
  if (!el || !el.tagName) return false;
  return el.isContentEditable || ["INPUT", "TEXTAREA", "SELECT"].includes(el.tagName);
}

export function useShortcuts(commands: MutableRefObject<Partial<Record<ShortcutCommand, () => void>>>): void {
  useEffect(() => {
    const run = (name: ShortcutCommand, e?: KeyboardEvent) => {
      e?.preventDefault();
      commands.current[name]?.();
    };
    const onKey = (e: KeyboardEvent) => {
      const mod = e.ctrlKey || e.metaKey;
      const key = e.key.toLowerCase();
      // These work from inside a field too.
      if (mod && key === "enter") return run(e.shiftKey ? "runNext" : "run", e);
      if (mod && key === "s") return run("save", e);
      if (mod && key === "o") return run("open", e);
      if (e.key === "Escape") return run("escape");
      if (isEditable(e.target)) return;
      if (mod && key === "z") return run(e.shiftKey ? "redo" : "undo", e);
      if (mod && key === "y") return run("redo", e);
      if (mod && key === "d") return run("duplicate", e);
      if (mod && key === "a") return run("selectAll", e);
      if (mod && key === "b") return run("bypass", e);
      if (mod && key === "m") return run("mute", e);
      if (mod && key === "c") return run("copy");
      if (mod && key === "v") return run("paste");
      if (!mod && !e.altKey && e.key === "?") return run("help", e);
      if (!mod && !e.altKey && e.key === "/") return run("search", e);
      if (!mod && !e.altKey && key === "f") return run("fit");
    };
    window.addEventListener("keydown", onKey);
    return () => window.removeEventListener("keydown", onKey);
  }, [commands]);
}

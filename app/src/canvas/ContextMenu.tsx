// A right-click menu: a list of actions at the pointer, closed by a pick, a click elsewhere or
// Escape. The canvas, nodes, links and reroute points each bring their own items (menus.ts).
import { useEffect, useLayoutEffect, useRef, useState } from "react";

export interface MenuItem {
  label: string;
  /** Shown at the right, e.g. "Ctrl+B". */
  keys?: string;
  disabled?: boolean;
  run(): void;
}

export type MenuEntry = MenuItem | "separator";

export interface MenuState {
  /** Screen position of the pointer. */
  x: number;
  y: number;
  title: string;
  items: MenuEntry[];
}

export function ContextMenu({ menu, onClose }: { menu: MenuState; onClose(): void }) {
  const ref = useRef<HTMLDivElement>(null);
  const [at, setAt] = useState({ x: menu.x, y: menu.y });
  // Kept inside the window: a menu opened near an edge opens towards the middle.
  useLayoutEffect(() => {
    const box = ref.current?.getBoundingClientRect();
    if (!box) return;
    setAt({ x: Math.min(menu.x, window.innerWidth - box.width - 4), y: Math.min(menu.y, window.innerHeight - box.height - 4) });
  }, [menu]);
  useEffect(() => {
    const outside = (e: PointerEvent) => {
      if (!ref.current?.contains(e.target as Node)) onClose();
    };
    const key = (e: KeyboardEvent) => {
      if (e.key === "Escape") {
        e.stopPropagation();
        onClose();
      }
    };
    window.addEventListener("pointerdown", outside, true);
    window.addEventListener("keydown", key, true);
    return () => {
      window.removeEventListener("pointerdown", outside, true);
      window.removeEventListener("keydown", key, true);
    };
  }, [onClose]);
  useEffect(() => {
    ref.current?.querySelector<HTMLButtonElement>("button:not(:disabled)")?.focus();
  }, []);
  return (
    <div
      ref={ref}
      className="mf-context-menu"
      role="menu"
      aria-label={menu.title}
      style={{ left: at.x, top: at.y }}
      onContextMenu={(e) => e.preventDefault()}
      onKeyDown={(e) => {
        if (e.key !== "ArrowDown" && e.key !== "ArrowUp") return;
        e.preventDefault();
        const buttons = [...(ref.current?.querySelectorAll<HTMLButtonElement>("button:not(:disabled)") ?? [])];
        const i = buttons.indexOf(document.activeElement as HTMLButtonElement);
        buttons[(i + (e.key === "ArrowDown" ? 1 : buttons.length - 1)) % buttons.length]?.focus();
      }}
    >
      <div className="mf-context-title">{menu.title}</div>
      {menu.items.map((item, i) =>
        item === "separator" ? (
          <div key={i} className="mf-context-sep" role="separator" />
        ) : (
          <button
            key={i}
            type="button"
            role="menuitem"
            disabled={item.disabled}
            onClick={() => {
              onClose();
              item.run();
            }}
          >
            <span>{item.label}</span>
            {item.keys && <kbd>{item.keys}</kbd>}
          </button>
        ),
      )}
    </div>
  );
}

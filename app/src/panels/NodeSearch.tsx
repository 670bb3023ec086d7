// The quick-add box: double-click the canvas, press "/" or drop a link on empty canvas.
// Opened from a dropped link, it lists only node types that can take (or feed) that link.
import { useEffect, useMemo, useRef, useState } from "react";
import type { NodeCatalogEntry } from "../api/types.js";
import { SocketDots } from "./Palette.js";
import { searchCatalog } from "./search.js";

export interface NodeSearchProps {
  catalog: NodeCatalogEntry[];
  /** Screen position (relative to the canvas wrapper). */
  at: { x: number; y: number };
  /** Restricts the list, e.g. to types with an input for the dragged socket. */
  filter?: (entry: NodeCatalogEntry) => boolean;
  hint?: string;
  onPick(type: string): void;
  onClose(): void;
}

export function NodeSearch({ catalog, at, filter, hint, onPick, onClose }: NodeSearchProps) {
  const [query, setQuery] = useState("");
  const [active, setActive] = useState(0);
  const listRef = useRef<HTMLUListElement>(null);
  const boxRef = useRef<HTMLDivElement>(null);
  // Closes on a press outside the box (not on blur: the click that opened it may still be
  // settling, and a focus change alone should not throw away what was typed).
  useEffect(() => {
    const outside = (e: PointerEvent) => {
      if (!boxRef.current?.contains(e.target as Node)) onClose();
    };
    window.addEventListener("pointerdown", outside, true);
    return () => window.removeEventListener("pointerdown", outside, true);
  }, [onClose]);
  const results = useMemo(() => searchCatalog(filter ? catalog.filter(filter) : catalog, query).slice(0, 40), [catalog, filter, query]);
  useEffect(() => setActive(0), [query]);
  useEffect(() => {
    listRef.current?.querySelector(".active")?.scrollIntoView({ block: "nearest" });
  }, [active]);
  return (
    <div ref={boxRef} className="mf-search" style={{ left: at.x, top: at.y }} role="dialog" aria-label="Add a node">
      <input
        autoFocus
        placeholder="Add a node…"
        aria-label="Node search"
        value={query}
        onChange={(e) => setQuery(e.target.value)}
        onKeyDown={(e) => {
          if (e.key === "ArrowDown") {
            e.preventDefault();
            setActive((a) => Math.min(a + 1, results.length - 1));
          } else if (e.key === "ArrowUp") {
            e.preventDefault();
            setActive((a) => Math.max(a - 1, 0));
          } else if (e.key === "Enter") {
            e.preventDefault();
            if (results[active]) onPick(results[active].type);
          } else if (e.key === "Escape") {
            onClose();
          }
        }}
      />
      {hint && <div className="mf-search-hint">{hint}</div>}
      <ul ref={listRef}>
        {results.map((entry, i) => (
          <li
            key={entry.type}
            className={i === active ? "active" : undefined}
            data-testid={`search-${entry.type}`}
            onMouseEnter={() => setActive(i)}
            onMouseDown={(e) => {
              e.preventDefault();
              onPick(entry.type);
            }}
          >
            <span className="mf-search-title">{entry.title}</span>
            <span className="mf-search-cat">{entry.category}</span>
            <SocketDots entry={entry} />
          </li>
        ))}
        {results.length === 0 && <li className="mf-empty">Nothing matches</li>}
      </ul>
    </div>
  );
}

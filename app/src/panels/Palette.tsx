// The node library: every catalog entry, grouped by category, searchable; click to add at the
// centre of the view or drag onto the canvas.
import { useMemo, useState } from "react";
import type { NodeCatalogEntry } from "../api/types.js";
import { socketColor } from "../graph/sockets.js";
import { categoryHue } from "../nodes/FlowNode.js";
import { groupByCategory, searchCatalog } from "./search.js";

export const NODE_DRAG_TYPE = "application/x-maskflow-node";

export function SocketDots({ entry }: { entry: NodeCatalogEntry }) {
  return (
    <span className="mf-dots" aria-hidden>
      {Object.values(entry.outputs).map((output, i) => (
        <span key={i} className="mf-dot" style={{ background: socketColor(output.socket) }} title={output.socket} />
      ))}
    </span>
  );
}

export function Palette({ catalog, onAdd }: { catalog: NodeCatalogEntry[]; onAdd(type: string): void }) {
  const [query, setQuery] = useState("");
  const [closed, setClosed] = useState<ReadonlySet<string>>(new Set());
  const groups = useMemo(() => groupByCategory(searchCatalog(catalog, query)), [catalog, query]);
  return (
    <aside className="mf-palette" aria-label="Node library">
      <div className="mf-palette-search">
        <input
          type="search"
          placeholder="Search nodes…"
          aria-label="Search nodes"
          value={query}
          onChange={(e) => setQuery(e.target.value)}
          onKeyDown={(e) => {
            if (e.key === "Enter" && groups[0]?.[1][0]) onAdd(groups[0][1][0].type);
          }}
        />
      </div>
      <div className="mf-palette-list">
        {groups.map(([category, entries]) => {
          const open = query !== "" || !closed.has(category);
          return (
            <section key={category} className="mf-palette-group">
              <button
                type="button"
                className="mf-palette-category"
                style={{ ["--cat-hue" as string]: categoryHue(category) }}
                onClick={() =>
                  setClosed((prev) => {
                    const next = new Set(prev);
                    if (next.has(category)) next.delete(category);
                    else next.add(category);
                    return next;
                  })
                }
              >
                <span className="mf-chevron">{open ? "▾" : "▸"}</span>
                {category}
                <span className="mf-count">{entries.length}</span>
              </button>
              {open &&
                entries.map((entry) => (
                  <button
                    type="button"
                    key={entry.type}
                    className="mf-palette-item"
                    data-testid={`palette-${entry.type}`}
                    title={entry.source ? `${entry.description}\n(from ${entry.source.package})` : entry.description}
                    draggable
                    onDragStart={(e) => {
                      e.dataTransfer.setData(NODE_DRAG_TYPE, entry.type);
                      e.dataTransfer.effectAllowed = "copy";
                    }}
                    onClick={() => onAdd(entry.type)}
                  >
                    <span className="mf-palette-title">{entry.title}</span>
                    <SocketDots entry={entry} />
                  </button>
                ))}
            </section>
          );
        })}
        {groups.length === 0 && <p className="mf-empty">No node matches “{query}”.</p>}
      </div>
    </aside>
  );
}

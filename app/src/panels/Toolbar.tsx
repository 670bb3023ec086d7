// The toolbar: file commands, examples, undo/redo, the run controls (Run, a batch count, Run
// next, Cancel), help and theme.
import { useEffect, useRef, useState } from "react";
import type { ExampleSummary, RunStatus } from "../api/types.js";
import type { Theme } from "../hooks/useTheme.js";

interface ToolbarProps {
  name: string;
  onRename(name: string): void;
  examples: ExampleSummary[];
  onNew(): void;
  onOpen(): void;
  onSave(): void;
  onExample(name: string): void;
  canUndo: boolean;
  canRedo: boolean;
  onUndo(): void;
  onRedo(): void;
  connected: boolean;
  runStatus: RunStatus | undefined;
  onRun(): void;
  /** Queue ahead of everything waiting. */
  onRunNext(): void;
  batch: number;
  onBatch(count: number): void;
  canCancel: boolean;
  onCancel(): void;
  theme: Theme;
  onTheme(): void;
  onHelp(): void;
  paletteOpen: boolean;
  onPalette(): void;
}

function ExamplesMenu({ examples, onPick }: { examples: ExampleSummary[]; onPick(name: string): void }) {
  const [open, setOpen] = useState(false);
  const ref = useRef<HTMLDivElement>(null);
  useEffect(() => {
    if (!open) return;
    const close = (e: MouseEvent) => {
      if (!ref.current?.contains(e.target as Node)) setOpen(false);
    };
    const key = (e: KeyboardEvent) => {
      if (e.key === "Escape") setOpen(false);
    };
    window.addEventListener("mousedown", close);
    window.addEventListener("keydown", key);
    return () => {
      window.removeEventListener("mousedown", close);
      window.removeEventListener("keydown", key);
    };
  }, [open]);
  return (
    <div className="mf-menu" ref={ref}>
      <button type="button" className="mf-btn ghost" aria-haspopup="menu" aria-expanded={open} onClick={() => setOpen(!open)}>
        Examples ▾
      </button>
      {open && (
        <div className="mf-menu-list" role="menu" data-testid="examples-menu">
          {examples.map((example) => (
            <button
              type="button"
              role="menuitem"
              key={example.name}
              data-testid={`example-${example.name}`}
              onClick={() => {
                setOpen(false);
                onPick(example.name);
              }}
            >
              <span className="mf-menu-title">{example.title}</span>
              {example.description && <span className="mf-menu-desc">{example.description}</span>}
            </button>
          ))}
          {examples.length === 0 && <div className="mf-empty">No examples found</div>}
        </div>
      )}
    </div>
  );
}

export function Toolbar(props: ToolbarProps) {
  const running = props.runStatus === "running" || props.runStatus === "queued";
  return (
    <header className="mf-toolbar">
      <button type="button" className={`mf-btn ghost icon${props.paletteOpen ? " on" : ""}`} title="Node library" aria-label="toggle node library" onClick={props.onPalette}>
        ☰
      </button>
      <div className="mf-brand" aria-label="Maskflow">
        <span className="mf-logo" aria-hidden>
          <i />
          <i className="m" />
          <i className="m" />
          <i />
        </span>
        Maskflow
      </div>
      <input
        className="mf-name"
        aria-label="workflow name"
        placeholder="untitled workflow"
        value={props.name}
        onChange={(e) => props.onRename(e.target.value)}
      />
      <nav className="mf-toolbar-group">
        <button type="button" className="mf-btn ghost" onClick={props.onNew} title="New empty workflow">
          New
        </button>
        <button type="button" className="mf-btn ghost" onClick={props.onOpen} title="Open a workflow file (Ctrl+O)">
          Open
        </button>
        <button type="button" className="mf-btn ghost" onClick={props.onSave} title="Save as a file (Ctrl+S)">
          Save
        </button>
        <ExamplesMenu examples={props.examples} onPick={props.onExample} />
      </nav>
      <span className="mf-sep" />
      <nav className="mf-toolbar-group">
        <button type="button" className="mf-btn ghost icon" aria-label="undo" title="Undo (Ctrl+Z)" disabled={!props.canUndo} onClick={props.onUndo}>
          ↶
        </button>
        <button type="button" className="mf-btn ghost icon" aria-label="redo" title="Redo (Ctrl+Shift+Z)" disabled={!props.canRedo} onClick={props.onRedo}>
          ↷
        </button>
      </nav>
      <span className="mf-spacer" />
      <span className={`mf-conn ${props.connected ? "on" : "off"}`} title={props.connected ? "Connected to the engine" : "Reconnecting to the engine…"}>
        {props.connected ? "engine" : "offline"}
      </span>
      <button type="button" className="mf-btn primary" data-testid="run" onClick={props.onRun} title="Run (Ctrl+Enter)">
        <span aria-hidden>▶</span> {running ? "Queue" : "Run"}
      </button>
      <label className="mf-batch" title="Batch count: how many runs one press queues (seed inputs go up by one per run)">
        ×
        <input
          type="number"
          className="mf-input"
          aria-label="batch count"
          min={1}
          max={100}
          value={props.batch}
          onChange={(e) => props.onBatch(Math.max(1, Math.min(100, Math.round(e.target.valueAsNumber) || 1)))}
        />
      </label>
      <button type="button" className="mf-btn ghost" data-testid="run-next" onClick={props.onRunNext} title="Queue ahead of everything waiting (Ctrl+Shift+Enter)">
        Run next
      </button>
      <button type="button" className="mf-btn danger" data-testid="cancel" disabled={!props.canCancel} onClick={props.onCancel} title="Cancel the run">
        <span aria-hidden>■</span> Cancel
      </button>
      <span className="mf-sep" />
      <button type="button" className="mf-btn ghost icon" aria-label="keyboard shortcuts" title="Keyboard shortcuts (?)" onClick={props.onHelp}>
        ?
      </button>
      <button
        type="button"
        className="mf-btn ghost icon"
        aria-label={`switch to ${props.theme === "dark" ? "light" : "dark"} theme`}
        title="Dark / light theme"
        onClick={props.onTheme}
      >
        {props.theme === "dark" ? "☀" : "☾"}
      </button>
    </header>
  );
}

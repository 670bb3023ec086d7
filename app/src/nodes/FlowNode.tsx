// The one node component: every node type is drawn from its catalog entry (inputs, outputs,
// widgets), so adding a node type needs no editor code.
import { Handle, Position, type NodeProps } from "@xyflow/react";
import { memo, useState, type CSSProperties } from "react";
import type { InputDef, Issue, NodeCatalogEntry } from "../api/types.js";
import type { FlowNode } from "../graph/model.js";
import { ANY, hasWidget, inputSockets, socketColor } from "../graph/sockets.js";
import { outputText, type NodeRunState } from "../run/runState.js";
import { useEditor, useRunDisplay } from "./context.js";
import { WidgetInput } from "./widgets.js";

/** Hues for the usual categories; any other category gets a stable hue from its name. */
const CATEGORY_HUES: Record<string, number> = {
  model: 265,
  models: 265,
  loaders: 265,
  lora: 300,
  sampling: 215,
  sampler: 215,
  schedule: 40,
  schedules: 40,
  text: 155,
  output: 20,
  utils: 190,
};

/** `advanced: true` on an input (ComfyUI's V3 schema has the same flag): folded away by default. */
function isAdvanced(input: InputDef): boolean {
  return (input as InputDef & { advanced?: boolean }).advanced === true;
}

export function categoryHue(category: string): number {
  const known = CATEGORY_HUES[category.toLowerCase()];
  if (known !== undefined) return known;
  let hash = 7;
  for (const char of category) hash = (hash * 33 + char.charCodeAt(0)) >>> 0;
  return hash % 360;
}

function statusText(state: NodeRunState | undefined): string | null {
  if (!state) return null;
  switch (state.status) {
    case "running":
      return state.total ? `${state.step ?? 0}/${state.total}` : "running";
    case "done":
      return state.ms !== undefined ? `${state.ms < 1000 ? `${Math.round(state.ms)} ms` : `${(state.ms / 1000).toFixed(1)} s`}` : "done";
    default:
      return state.status;
  }
}

/** Socket types as a label: "TEXT | CANVAS", or "any". */
const socketLabel = (sockets: string[]) => (sockets.includes(ANY) ? "any" : sockets.join(" | "));

function InputHandle({ name, def, connected }: { name: string; def: InputDef; connected: boolean }) {
  const sockets = inputSockets(def);
  const color = socketColor(sockets[0]);
  const style: CSSProperties = sockets.length > 1 || sockets.includes(ANY)
    ? {
        // Several types (or any): a ring of their colours.
        background: sockets.includes(ANY)
          ? "conic-gradient(#a78bfa 0 60deg, #34d399 0 120deg, #fbbf24 0 180deg, #60a5fa 0 240deg, #22d3ee 0 300deg, #fb923c 0)"
          : `conic-gradient(${sockets.map((s, i) => `${socketColor(s)} ${(i * 360) / sockets.length}deg ${((i + 1) * 360) / sockets.length}deg`).join(", ")})`,
        borderColor: "var(--node-bg)",
      }
    : { background: connected ? color : "var(--node-bg)", borderColor: color };
  return (
    <Handle
      type="target"
      position={Position.Left}
      id={name}
      className={`mf-handle socket-${sockets.includes(ANY) ? "any" : sockets.join("-")}`}
      style={style}
      title={`${name}: ${socketLabel(sockets)}`}
    />
  );
}

function InputRow({
  nodeId,
  name,
  def,
  value,
  linked,
  issues,
}: {
  nodeId: string;
  name: string;
  def: InputDef;
  value: unknown;
  linked: boolean;
  issues: Issue[];
}) {
  const { actions, suggestions } = useEditor();
  const sockets = inputSockets(def);
  const invalid = issues.length > 0;
  const widget = hasWidget(def) && !linked;
  return (
    <div className={`mf-row mf-input-row${invalid ? " has-issue" : ""}`} data-input={name}>
      {sockets.length > 0 && <InputHandle name={name} def={def} connected={linked} />}
      <div className={`mf-row-main${widget ? " with-widget" : ""}`}>
        <label className="mf-label" title={def.description ?? name}>
          {name}
          {def.optional && <span className="mf-optional">optional</span>}
        </label>
        {widget ? (
          <WidgetInput
            name={name}
            def={def}
            value={value}
            invalid={invalid}
            onChange={(next) => actions.setValue(nodeId, name, next)}
            browseFile={actions.browseFile}
            suggestions={def.suggest === "models" ? suggestions.models.map((m) => ({ value: m.path, label: `${m.name} · ${m.family}${m.blockSize ? ` (blocks of ${m.blockSize})` : ""}${m.noise === "uniform" ? ` (uniform noise, canvas ${m.canvasLength})` : ""} · ${m.dtype}` })) : undefined}
          />
        ) : (
          sockets.length > 0 && (
            <span className="mf-socket-name" style={{ "--sock": socketColor(sockets[0]) } as CSSProperties}>
              {socketLabel(sockets)}
            </span>
          )
        )}
      </div>
      {issues.map((issue, i) => (
        <div key={i} className="mf-issue" role="alert">
          {issue.message}
        </div>
      ))}
    </div>
  );
}

function Title({ id, title, fallback }: { id: string; title: string | undefined; fallback: string }) {
  const { actions, renaming } = useEditor();
  const [editingHere, setEditingHere] = useState(false);
  // Renaming starts by a double-click here or from the node's context menu (EditorView.renaming).
  const editing = editingHere || renaming === id;
  const setEditing = (on: boolean) => {
    setEditingHere(on);
    if (!on) actions.endRename();
  };
  if (editing) {
    return (
      <input
        className="mf-title-edit nodrag"
        aria-label="node title"
        autoFocus
        // Typing replaces the title (as in any rename field), it does not append to it.
        onFocus={(e) => e.target.select()}
        defaultValue={title ?? fallback}
        onBlur={(e) => {
          actions.setTitle(id, e.target.value.trim() === fallback ? "" : e.target.value.trim());
          setEditing(false);
        }}
        onKeyDown={(e) => {
          if (e.key === "Enter") (e.target as HTMLInputElement).blur();
          if (e.key === "Escape") setEditing(false);
        }}
      />
    );
  }
  return (
    <span className="mf-title" title="Double-click to rename" data-testid="node-title" onDoubleClick={() => setEditing(true)}>
      {title || fallback}
    </span>
  );
}

function UnknownNode({ id, data }: { id: string; data: FlowNode["data"] }) {
  const { linked, used } = useEditor();
  return (
    <div className="mf-node status-error unknown" data-type={data.type} data-status="unknown">
      <header className="mf-node-header">
        <span className="mf-title">{data.title || data.type}</span>
      </header>
      {[...(linked.get(id) ?? [])].map((input) => (
        <div key={input} className="mf-row">
          <Handle type="target" position={Position.Left} id={input} className="mf-handle" />
          <span className="mf-label">{input}</span>
        </div>
      ))}
      {[...(used.get(id) ?? [])].map((output) => (
        <div key={output} className="mf-row mf-output-row">
          <span className="mf-label">{output}</span>
          <Handle type="source" position={Position.Right} id={output} className="mf-handle" />
        </div>
      ))}
      <div className="mf-node-error">Unknown node type “{data.type}”. It may come from a newer Maskflow or a plugin.</div>
    </div>
  );
}

function NodeBody({ id, def, data }: { id: string; def: NodeCatalogEntry; data: FlowNode["data"] }) {
  const { linked } = useEditor();
  const run = useRunDisplay();
  const connected = linked.get(id);
  const issues = run.issues.get(id) ?? [];
  const inputs = Object.entries(def.inputs);
  const issuesFor = (name: string) => issues.filter((issue) => issue.input === name);
  const linkOnly = inputs.filter(([, input]) => !hasWidget(input));
  const [showAdvanced, setShowAdvanced] = useState(false);
  // Inputs a node type marks `advanced` fold away while they are unlinked, unset (or at their
  // default) and without problems; everything else is always shown.
  const folded = (name: string, input: InputDef) =>
    isAdvanced(input) &&
    !connected?.has(name) &&
    (data.values[name] === undefined || data.values[name] === input.default) &&
    issuesFor(name).length === 0;
  const allWidgets = inputs.filter(([, input]) => hasWidget(input));
  const hidden = allWidgets.filter(([name, input]) => folded(name, input));
  const widgets = showAdvanced ? allWidgets : allWidgets.filter(([name, input]) => !folded(name, input));
  const outputs = Object.entries(def.outputs);
  const rows = Math.max(linkOnly.length, outputs.length);
  return (
    <>
      {rows > 0 && (
        <div className="mf-sockets">
          {Array.from({ length: rows }, (_, i) => {
            const input = linkOnly[i];
            const output = outputs[i];
            return (
              <div key={i} className="mf-socket-row">
                <div className="mf-socket-cell">
                  {input && (
                    <InputRow
                      nodeId={id}
                      name={input[0]}
                      def={input[1]}
                      value={data.values[input[0]]}
                      linked={connected?.has(input[0]) ?? false}
                      issues={issuesFor(input[0])}
                    />
                  )}
                </div>
                <div className="mf-socket-cell out">
                  {output && (
                    <div className="mf-row mf-output-row" data-output={output[0]}>
                      <span className="mf-socket-name" style={{ "--sock": socketColor(output[1].socket) } as CSSProperties} title={output[1].socket}>
                        {output[0]}
                      </span>
                      <Handle
                        type="source"
                        position={Position.Right}
                        id={output[0]}
                        className={`mf-handle socket-${output[1].socket}`}
                        style={{ background: socketColor(output[1].socket) }}
                        title={`${output[0]}: ${output[1].socket}`}
                      />
                    </div>
                  )}
                </div>
              </div>
            );
          })}
        </div>
      )}
      {allWidgets.length > 0 && (
        <div className="mf-widgets">
          {widgets.map(([name, input]) => (
            <InputRow
              key={name}
              nodeId={id}
              name={name}
              def={input}
              value={data.values[name]}
              linked={connected?.has(name) ?? false}
              issues={issuesFor(name)}
            />
          ))}
          {(hidden.length > 0 || showAdvanced) && (
            <button type="button" className="mf-more nodrag" onClick={() => setShowAdvanced(!showAdvanced)}>
              {showAdvanced ? "▴ fewer inputs" : `▾ ${hidden.length} more input${hidden.length === 1 ? "" : "s"}`}
            </button>
          )}
        </div>
      )}
    </>
  );
}

/** While collapsed, the handles stay (so links still draw) but sit on the header. */
function CollapsedHandles({ def }: { def: NodeCatalogEntry }) {
  return (
    <>
      {Object.entries(def.inputs)
        .filter(([, input]) => inputSockets(input).length > 0)
        .map(([name]) => (
          <Handle key={name} type="target" position={Position.Left} id={name} className="mf-handle collapsed" />
        ))}
      {Object.entries(def.outputs).map(([name, output]) => (
        <Handle key={name} type="source" position={Position.Right} id={name} className="mf-handle collapsed" style={{ background: socketColor(output.socket) }} />
      ))}
    </>
  );
}

export const FlowNodeView = memo(function FlowNodeView({ id, data, selected }: NodeProps<FlowNode>) {
  const { catalog, actions } = useEditor();
  const run = useRunDisplay();
  const def = catalog.get(data.type);
  if (!def) return <UnknownNode id={id} data={data} />;
  const state = run.nodes[id];
  const nodeIssues = (run.issues.get(id) ?? []).filter((issue) => issue.input === null || !(issue.input in def.inputs));
  const hasIssues = (run.issues.get(id) ?? []).length > 0;
  const status = state?.status;
  const badge = statusText(state);
  const text = def.output ? outputText(run.outputs[id]) : null;
  const progress = status === "running" && state?.total ? Math.min(1, (state.step ?? 0) / state.total) : null;
  const hue = categoryHue(def.category);
  const warnings = state?.warnings ?? [];
  const mode = data.mode ? ` mode-${data.mode}` : "";
  return (
    <div
      className={`mf-node${status ? ` status-${status}` : ""}${hasIssues ? " has-issues" : ""}${selected ? " selected" : ""}${data.collapsed ? " collapsed" : ""}${mode}${warnings.length ? " warned" : ""}`}
      style={{ "--cat-hue": hue } as CSSProperties}
      data-type={data.type}
      data-status={status ?? "idle"}
      data-mode={data.mode ?? "on"}
      data-warned={warnings.length > 0}
    >
      <header className="mf-node-header" title={def.description}>
        <button
          type="button"
          className="mf-collapse nodrag"
          aria-label={data.collapsed ? "expand" : "collapse"}
          onClick={() => actions.toggleCollapsed(id)}
        >
          {data.collapsed ? "▸" : "▾"}
        </button>
        <Title id={id} title={data.title} fallback={def.title} />
        <span className="mf-node-id" title={`node id (for --set ${id}.<input>=…)`}>
          {id}
        </span>
        {data.mode && (
          <span className={`mf-badge mode ${data.mode}`} title={data.mode === "bypass" ? "Bypassed (Ctrl+B): passes its inputs on" : "Muted (Ctrl+M): does not run"}>
            {data.mode === "bypass" ? "bypassed" : "muted"}
          </span>
        )}
        {badge && <span className={`mf-badge ${status}`}>{badge}</span>}
        {data.collapsed && <CollapsedHandles def={def} />}
      </header>
      {def.source && !data.collapsed && (
        // Nodes from a node package say which one, so a shared workflow tells what to install.
        <div className="mf-node-package" data-testid="node-package" title={`node package at ${def.source.path}`}>
          {def.source.package}
        </div>
      )}
      {progress !== null && (
        <div className="mf-progress" aria-label="progress">
          <div style={{ width: `${progress * 100}%` }} />
        </div>
      )}
      {!data.collapsed && <NodeBody id={id} def={def} data={data} />}
      {nodeIssues.map((issue, i) => (
        <div key={i} className="mf-node-error" role="alert">
          {issue.input ? `${issue.input}: ` : ""}
          {issue.message}
        </div>
      ))}
      {status === "error" && state?.message && (
        <div className="mf-node-error" role="alert" data-testid="node-error">
          {state.input ? `${state.input}: ` : ""}
          {state.message}
        </div>
      )}
      {warnings.map((warning, i) => (
        // It finished, but did nothing useful (a Remask that matched nothing): say so on the node.
        <div key={i} className="mf-node-warning" role="status" data-testid="node-warning">
          {warning}
        </div>
      ))}
      {text && !data.collapsed && (
        <div className="mf-output nowheel nodrag" data-testid="node-output">
          {text.map((t, i) => (
            <pre key={i}>{t}</pre>
          ))}
        </div>
      )}
    </div>
  );
});

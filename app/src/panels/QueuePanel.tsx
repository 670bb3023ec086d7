// The run queue: what is waiting, what runs now, what ran (newest first).
import type { RunSummary } from "../api/types.js";

function ago(iso: string | null): string {
  if (!iso) return "";
  const seconds = Math.max(0, Math.round((Date.now() - Date.parse(iso)) / 1000));
  if (seconds < 60) return `${seconds}s ago`;
  if (seconds < 3600) return `${Math.round(seconds / 60)}m ago`;
  return new Date(iso).toLocaleTimeString();
}

function duration(run: RunSummary): string {
  if (!run.startedAt) return "";
  const end = run.finishedAt ? Date.parse(run.finishedAt) : Date.now();
  const ms = end - Date.parse(run.startedAt);
  return ms < 1000 ? `${ms} ms` : `${(ms / 1000).toFixed(1)} s`;
}

export function QueuePanel({
  runs,
  focused,
  onFocus,
  onCancel,
}: {
  runs: RunSummary[];
  focused: string | null;
  onFocus(id: string): void;
  onCancel(id: string): void;
}) {
  return (
    <aside className="mf-queue" aria-label="Queue">
      <header className="mf-panel-title">
        Queue
        <span className="mf-count">{runs.filter((r) => r.status === "queued" || r.status === "running").length} active</span>
      </header>
      <ol className="mf-queue-list">
        {runs.map((run) => (
          <li
            key={run.id}
            className={`mf-queue-item ${run.status}${run.id === focused ? " focused" : ""}`}
            data-testid="queue-item"
            data-status={run.status}
            onClick={() => onFocus(run.id)}
          >
            <span className={`mf-status-dot ${run.status}`} />
            <div className="mf-queue-main">
              <div className="mf-queue-name">{run.name || "untitled"}</div>
              <div className="mf-queue-meta">
                {run.status} · {run.status === "queued" ? ago(run.createdAt) : duration(run)}
                {run.worker && (
                  <span className="mf-queue-worker" data-testid="queue-worker" title="the maskflow worker that runs it (serve --redis)">
                    {" "}
                    · on {run.worker}
                  </span>
                )}
                {run.error && <span className="mf-queue-error" title={run.error.message}> · {run.error.message}</span>}
              </div>
            </div>
            {(run.status === "queued" || run.status === "running") && (
              <button
                type="button"
                className="mf-icon-btn"
                title="Cancel this run"
                aria-label="cancel run"
                onClick={(e) => {
                  e.stopPropagation();
                  onCancel(run.id);
                }}
              >
                ✕
              </button>
            )}
          </li>
        ))}
        {runs.length === 0 && <li className="mf-empty">No runs yet. Press Run (Ctrl+Enter).</li>}
      </ol>
    </aside>
  );
}

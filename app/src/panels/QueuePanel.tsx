// The run queue: what is waiting, what runs now, what ran (newest first), each told apart by
// when it was queued, its seed and what changed since the run before it of the same graph.
// Waiting runs can be run next or cancelled; ended ones can open their own workflow; the queue
// and the history (kept on the server's disk) can be cleared.
import type { RunSummary } from "../api/types.js";

function clock(iso: string | null): string {
  return iso ? new Date(iso).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit", second: "2-digit" }) : "";
}

function duration(run: RunSummary): string {
  if (!run.startedAt) return "";
  const end = run.finishedAt ? Date.parse(run.finishedAt) : Date.now();
  const ms = end - Date.parse(run.startedAt);
  return ms < 1000 ? `${ms} ms` : `${(ms / 1000).toFixed(1)} s`;
}

/** "seed 3", or "draft.seed 1 · rewrite.seed 2" when a run has several. */
function seeds(run: RunSummary): string | null {
  const entries = Object.entries(run.seeds ?? {});
  if (entries.length === 0) return null;
  if (entries.length === 1) return `seed ${entries[0][1]}`;
  return entries.map(([key, value]) => `${key} ${value}`).join(" · ");
}

function where(error: NonNullable<RunSummary["error"]>): string {
  if (!error.nodeId) return error.message;
  return `${error.nodeId}${error.input ? `.${error.input}` : ""}: ${error.message}`;
}

const isActive = (run: RunSummary) => run.status === "queued" || run.status === "running";

export function QueuePanel({
  runs,
  focused,
  onFocus,
  onCancel,
  onRunNext,
  onOpen,
  onClearQueue,
  onClearHistory,
}: {
  runs: RunSummary[];
  focused: string | null;
  onFocus(id: string): void;
  onCancel(id: string): void;
  onRunNext(id: string): void;
  onOpen(id: string): void;
  onClearQueue(): void;
  onClearHistory(): void;
}) {
  const waiting = runs.filter((r) => r.status === "queued").length;
  const ended = runs.filter((r) => !isActive(r)).length;
  return (
    <aside className="mf-queue" aria-label="Queue">
      <header className="mf-panel-title">
        Queue
        <span className="mf-count">{runs.filter(isActive).length} active</span>
      </header>
      <ol className="mf-queue-list">
        {runs.map((run) => (
          <li
            key={run.id}
            className={`mf-queue-item ${run.status}${run.id === focused ? " focused" : ""}`}
            data-testid="queue-item"
            data-status={run.status}
            data-run={run.id}
            onClick={() => onFocus(run.id)}
          >
            <span className={`mf-status-dot ${run.status}`} />
            <div className="mf-queue-main">
              <div className="mf-queue-name">{run.name || "untitled"}</div>
              <div className="mf-queue-meta">
                <span data-testid="queue-time">{clock(run.createdAt)}</span> · {run.status}
                {run.status !== "queued" && run.startedAt ? ` · ${duration(run)}` : ""}
                {seeds(run) && <span data-testid="queue-seed"> · {seeds(run)}</span>}
                {run.worker && (
                  <span className="mf-queue-worker" data-testid="queue-worker" title="the maskflow worker that runs it (serve --redis)">
                    {" "}
                    · on {run.worker}
                  </span>
                )}
              </div>
              {run.changes?.length > 0 && (
                <div className="mf-queue-changes" data-testid="queue-changes">
                  {run.changes.map((change, i) => (
                    <span key={i} className="mf-change">
                      {change}
                    </span>
                  ))}
                </div>
              )}
              {run.warnings > 0 && (
                <div className="mf-queue-warnings" data-testid="queue-warnings">
                  {run.warnings} warning{run.warnings === 1 ? "" : "s"}
                </div>
              )}
              {run.error && (
                <div className="mf-queue-error" data-testid="queue-error">
                  {where(run.error)}
                </div>
              )}
            </div>
            <div className="mf-queue-actions">
              {run.status === "queued" && (
                <button
                  type="button"
                  className="mf-icon-btn"
                  title="Run this one next"
                  aria-label="run next"
                  onClick={(e) => {
                    e.stopPropagation();
                    onRunNext(run.id);
                  }}
                >
                  ⇡
                </button>
              )}
              {isActive(run) ? (
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
              ) : (
                <button
                  type="button"
                  className="mf-icon-btn"
                  title="Load this run's workflow"
                  aria-label="load this run's workflow"
                  onClick={(e) => {
                    e.stopPropagation();
                    onOpen(run.id);
                  }}
                >
                  ↥
                </button>
              )}
            </div>
          </li>
        ))}
        {runs.length === 0 && <li className="mf-empty">No runs yet. Press Run (Ctrl+Enter).</li>}
      </ol>
      <footer className="mf-queue-foot">
        <button type="button" className="mf-btn small ghost" disabled={waiting === 0} onClick={onClearQueue} title="Cancel every run still waiting">
          Clear queue
        </button>
        <button type="button" className="mf-btn small ghost" disabled={ended === 0} onClick={onClearHistory} title="Forget every run that ended (also on disk)">
          Clear history
        </button>
      </footer>
    </aside>
  );
}

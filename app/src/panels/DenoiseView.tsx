// The denoising view: each sampler's token canvas as it is decoded (LaneView), a timeline that
// scrubs and replays every step of the run, and editing: select tokens at any step, then remask,
// keep or replace them (TokenActions). A run of another graph than the one on the canvas is
// shown labelled as such, with a way to load its own workflow.
import { useEffect, useMemo, useState, type CSSProperties } from "react";
import type { TokenAction } from "../edit/tokenEdit.js";
import { outputText, type Lane, type RunView } from "../run/runState.js";
import { LaneView, laneStep } from "./LaneView.js";
import { CandidateInspector } from "./CandidateInspector.js";
import { TokenActions } from "./TokenActions.js";
import { useTokenSelection } from "./useTokenSelection.js";

export interface ForeignRun {
  /** What the run was: its name and when. */
  label: string;
  onLoad(): void;
}

const SPEEDS = [0.5, 1, 2, 4] as const;
const EMPTY_ART = ["The", " mask", null, " lifts", null, " one", " token", null, " at", " a", null, " time", "."];
const BASE_FRAME_MS = 140;

export function DenoiseView({
  run,
  titleOf,
  foreign,
  whyNotEditable,
  onTokenAction,
}: {
  run: RunView | undefined;
  titleOf(nodeId: string): string;
  /** Set when the run shown is not of the graph on the canvas. */
  foreign: ForeignRun | null;
  /** Why a lane's tokens cannot be edited here, or null when they can. */
  whyNotEditable(lane: Lane): string | null;
  onTokenAction(lane: Lane, action: TokenAction): void;
}) {
  const lanes = useMemo(() => (run ? run.laneOrder.map((key) => run.lanes[key]).filter(Boolean) : []), [run]);
  const { selection, press, enter, clear } = useTokenSelection();
  // One timeline for every lane, in the canvases' own step numbers (snapshot.at): a rewrite after
  // a remask comes after its draft, so scrubbing shows the draft finished and the rewrite going.
  const timeline = useMemo(() => [...new Set(lanes.flatMap((lane) => lane.snapshots.map(laneStep)))].sort((a, b) => a - b), [lanes]);
  const length = timeline.length;
  /** null: follow the newest step while the run goes on. */
  const [position, setPosition] = useState<number | null>(null);
  const [playing, setPlaying] = useState(false);
  const [speed, setSpeed] = useState<(typeof SPEEDS)[number]>(1);
  const runId = run?.runId;
  /** The token under the pointer, for the candidate inspector (it stays until another is hovered). */
  const [hover, setHover] = useState<{ lane: string; position: number } | null>(null);

  useEffect(() => {
    setPosition(null);
    setPlaying(false);
    setHover(null);
    clear();
  }, [runId, clear]);

  useEffect(() => {
    if (!selection) return;
    const onKey = (e: KeyboardEvent) => {
      if (e.key === "Escape") clear();
    };
    window.addEventListener("keydown", onKey);
    return () => window.removeEventListener("keydown", onKey);
  }, [selection, clear]);

  useEffect(() => {
    if (!playing) return;
    const timer = setInterval(() => {
      setPosition((p) => {
        const next = (p ?? -1) + 1;
        if (next >= length - 1) {
          setPlaying(false);
          return length - 1;
        }
        return next;
      });
    }, BASE_FRAME_MS / speed);
    return () => clearInterval(timer);
  }, [playing, speed, length]);

  const index = position === null ? length - 1 : Math.min(position, length - 1);
  // a uniform-noise model's lane (DiffusionGemma): its legend is kept / re-drawn / entropy, not masked
  const settling = lanes.some((lane) => lane.snapshots.some((snap) => snap.settling));
  const at = timeline[Math.max(0, index)] ?? 0;
  const texts = run ? Object.entries(run.outputs).flatMap(([nodeId, output]) => (outputText(output) ? [[nodeId, outputText(output)!] as const] : [])) : [];

  const banner = foreign && (
    <div className="mf-foreign" data-testid="foreign-run" role="status">
      <span>
        Showing <strong>{foreign.label}</strong>, a run of another graph than the one on the canvas.
      </span>
      <button type="button" className="mf-btn small" onClick={foreign.onLoad}>
        Load this run's workflow
      </button>
    </div>
  );
  const selectedLane = selection ? lanes.find((l) => l.key === selection.lane) : undefined;
  const selectedSnapshot = selectedLane?.snapshots[selectedLane.snapshots.length - 1];

  if (!run || (lanes.length === 0 && texts.length === 0)) {
    return (
      <div className="mf-denoise empty" data-testid="denoise-view" data-run={run?.runId ?? ""}>
        {banner}
        <div className="mf-empty-state">
          <div className="mf-empty-art" aria-hidden>
            {EMPTY_ART.map((piece, i) =>
              piece === null ? (
                <span key={i} className="tok masked" />
              ) : (
                <span key={i} className="tok" style={{ "--conf": 0.35 + ((i * 37) % 60) / 100 } as CSSProperties}>
                  {piece}
                </span>
              ),
            )}
          </div>
          <p>
            {run?.status === "running" || run?.status === "queued"
              ? "Waiting for the first denoising step…"
              : "Run the workflow to watch its text being denoised, step by step."}
          </p>
        </div>
      </div>
    );
  }

  return (
    <div className="mf-denoise" data-testid="denoise-view" data-run={run.runId}>
      {banner}
      {length > 0 && (
        <div className="mf-timeline">
          <button
            type="button"
            className="mf-btn icon"
            aria-label={playing ? "pause" : "play"}
            data-testid="play"
            disabled={length < 2}
            onClick={() => {
              if (!playing && index >= length - 1) setPosition(0);
              setPlaying(!playing);
            }}
          >
            {playing ? "❚❚" : "▶"}
          </button>
          <input
            type="range"
            className="mf-step-slider"
            aria-label="step"
            data-testid="step-slider"
            min={0}
            max={Math.max(0, length - 1)}
            value={Math.max(0, index)}
            onChange={(e) => {
              setPlaying(false);
              setPosition(e.target.valueAsNumber);
            }}
          />
          <span className="mf-step-label" data-testid="step-label">
            step {index + 1} / {length}
          </span>
          <select className="mf-select small" aria-label="playback speed" value={speed} onChange={(e) => setSpeed(Number(e.target.value) as (typeof SPEEDS)[number])}>
            {SPEEDS.map((s) => (
              <option key={s} value={s}>
                {s}×
              </option>
            ))}
          </select>
          {position !== null && run.status === "running" && (
            <button type="button" className="mf-btn small" onClick={() => setPosition(null)}>
              live
            </button>
          )}
          {settling ? (
            <span className="mf-legend" data-testid="settling-legend" title="a uniform-noise model: no masks; each step keeps some positions and re-draws the others at random">
              <span>tint: the model's pick, low</span>
              <span className="mf-legend-bar" />
              <span>high p</span>
              <span className="tok kept legend">kept</span>
              <span className="tok renoised legend">re-drawn</span>
              <span className="tok kept legend" style={{ "--ent": 1 } as CSSProperties}>
                underline: entropy
              </span>
            </span>
          ) : (
            <span className="mf-legend" title="token tint: the model's confidence when it committed the token">
              <span>low</span>
              <span className="mf-legend-bar" />
              <span>high confidence</span>
              <span className="tok masked legend" /> <span>masked</span>
            </span>
          )}
        </div>
      )}
      {/* Always there (a hint until tokens are selected), so selecting never shifts the tokens under the pointer. */}
      {lanes.length > 0 && !(selection && selectedLane && selectedSnapshot) && (
        <CandidateInspector
          lane={hover ? lanes.find((l) => l.key === hover.lane) : undefined}
          at={at}
          position={hover?.position ?? null}
          hint="Select tokens to edit them: click, shift-click or drag, at any step. Hover one to see what the model offered there."
        />
      )}
      {selection && selectedLane && selectedSnapshot && (
        <TokenActions
          positions={selection.positions}
          length={selectedSnapshot.pieces.length}
          fixed={selectedSnapshot.fixed ?? []}
          disabled={whyNotEditable(selectedLane)}
          onAction={(action) => {
            clear();
            onTokenAction(selectedLane, action);
          }}
          onClear={clear}
        />
      )}
      <div className="mf-lanes">
        {lanes.map((lane) => (
          <LaneView
            key={lane.key}
            lane={lane}
            at={at}
            title={titleOf(lane.nodeId)}
            selected={new Set(selection?.lane === lane.key ? selection.positions : [])}
            onPress={(pos, e) => press(lane.key, pos, e)}
            onEnter={(pos) => enter(lane.key, pos)}
            onHover={(pos) => setHover({ lane: lane.key, position: pos })}
          />
        ))}
        {lanes.length === 0 &&
          texts.map(([nodeId, list]) => (
            <section key={nodeId} className="mf-lane" data-testid="output-text">
              <header>
                <span className="mf-lane-title">{titleOf(nodeId)}</span>
              </header>
              {list.map((t, i) => (
                <pre key={i} className="mf-plain-output">
                  {t}
                </pre>
              ))}
            </section>
          ))}
      </div>
    </div>
  );
}

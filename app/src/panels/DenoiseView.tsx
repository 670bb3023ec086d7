// The denoising view: each sampler's token canvas as it is decoded. Masked positions are drawn
// as blanks, committed tokens are tinted by the model's confidence, and the timeline scrubs
// and replays every step of the run. Several lanes (samplers, beams) sit side by side.
import { useEffect, useMemo, useState, type CSSProperties } from "react";
import type { CanvasSnapshot } from "../api/types.js";
import { outputText, type Lane, type RunView } from "../run/runState.js";

const SPEEDS = [0.5, 1, 2, 4] as const;
const EMPTY_ART = ["The", " mask", null, " lifts", null, " one", " token", null, " at", " a", null, " time", "."];
const BASE_FRAME_MS = 140;

function isSpecial(piece: string): boolean {
  return /^<\|?[^<>\s]+\|?>$/.test(piece) || /^\[[A-Z]+\]$/.test(piece);
}

function Token({ piece, confidence, changed, position, step, was }: { piece: string | null; confidence: number; changed: boolean; position: number; step: number; was?: string }) {
  if (piece === null) {
    return <span className="tok masked" title={`position ${position}: masked`} />;
  }
  const special = isSpecial(piece);
  const text = piece.replace(/\n/g, "↵\n");
  // LLaDA2.1's editing loop replaced a committed token at this step: show what it held, struck out
  const edited = was !== undefined;
  return (
    <span
      className={`tok${changed ? " changed" : ""}${special ? " special" : ""}${edited ? " edited" : ""}`}
      style={{ "--conf": confidence } as CSSProperties}
      title={`position ${position} · confidence ${confidence.toFixed(3)}${edited ? ` · edited at step ${step}: was ${JSON.stringify(was)}` : changed ? ` · decided at step ${step}` : ""}`}
    >
      {edited && <s className="tok-was">{was.trim() === "" ? "∅" : was.replace(/\n/g, "↵")}</s>}
      {text}
    </span>
  );
}

function LaneView({ lane, index, title }: { lane: Lane; index: number; title: string }) {
  const snapshot: CanvasSnapshot | undefined = lane.snapshots[Math.min(index, lane.snapshots.length - 1)];
  if (!snapshot) return null;
  const changed = new Set(snapshot.changed);
  const was = new Map((snapshot.edited ?? []).map((p, i) => [p, snapshot.previousPieces?.[i] ?? "?"]));
  const masked = snapshot.pieces.filter((p) => p === null).length;
  const decided = snapshot.pieces.length - masked;
  const meanConf = decided ? snapshot.confidence.reduce((sum, c, i) => (snapshot.pieces[i] === null ? sum : sum + c), 0) / decided : 0;
  return (
    <section className="mf-lane" data-testid="lane" data-lane={lane.key}>
      <header>
        <span className="mf-lane-title">{title}</span>
        {lane.beam !== undefined && <span className="mf-chip">beam {lane.beam + 1}</span>}
        {snapshot.block !== undefined && <span className="mf-chip" data-testid="block">block {snapshot.block + 1}</span>}
        {snapshot.edited?.length ? <span className="mf-chip mf-chip-edit" data-testid="edits">{snapshot.edited.length} edited</span> : null}
        <span className="mf-lane-stats">
          step {snapshot.step}
          {lane.total ? ` / ${lane.total}` : ""} · {decided}/{snapshot.pieces.length} decided · mean conf {meanConf.toFixed(2)}
        </span>
      </header>
      <div className="mf-tokens" data-testid="tokens" data-masked={masked}>
        {snapshot.pieces.map((piece, i) => (
          <Token key={i} piece={piece} confidence={snapshot.confidence[i] ?? 0} changed={changed.has(i)} position={i} step={snapshot.step} was={was.get(i)} />
        ))}
      </div>
    </section>
  );
}

export function DenoiseView({ run, titleOf }: { run: RunView | undefined; titleOf(nodeId: string): string }) {
  const lanes = useMemo(() => (run ? run.laneOrder.map((key) => run.lanes[key]).filter(Boolean) : []), [run]);
  const length = lanes.reduce((max, lane) => Math.max(max, lane.snapshots.length), 0);
  /** null: follow the newest step while the run goes on. */
  const [position, setPosition] = useState<number | null>(null);
  const [playing, setPlaying] = useState(false);
  const [speed, setSpeed] = useState<(typeof SPEEDS)[number]>(1);
  const runId = run?.runId;

  useEffect(() => {
    setPosition(null);
    setPlaying(false);
  }, [runId]);

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
  const texts = run ? Object.entries(run.outputs).flatMap(([nodeId, output]) => (outputText(output) ? [[nodeId, outputText(output)!] as const] : [])) : [];

  if (!run || (lanes.length === 0 && texts.length === 0)) {
    return (
      <div className="mf-denoise empty">
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
    <div className="mf-denoise">
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
          <span className="mf-legend" title="token tint: the model's confidence when it committed the token">
            <span>low</span>
            <span className="mf-legend-bar" />
            <span>high confidence</span>
            <span className="tok masked legend" /> <span>masked</span>
          </span>
        </div>
      )}
      <div className="mf-lanes">
        {lanes.map((lane) => (
          <LaneView key={lane.key} lane={lane} index={index} title={titleOf(lane.nodeId)} />
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

// One lane of the denoising view: a sampler's (or a beam's) canvas at the chosen step. Masked
// positions are blanks, committed tokens are tinted by confidence, given (fixed) text is drawn
// plain, and tokens can be selected for editing (useTokenSelection).
import type { CSSProperties, MouseEvent } from "react";
import type { CanvasSnapshot } from "../api/types.js";
import type { Lane } from "../run/runState.js";

function isSpecial(piece: string): boolean {
  return /^<\|?[^<>\s]+\|?>$/.test(piece) || /^\[[A-Z]+\]$/.test(piece);
}

/**
 * For a lane that continues a canvas (after Remask, Replace Tokens, Infill): the positions it had
 * to decide, i.e. masked when it started. Null for a lane that started from an all-masked canvas.
 */
export function redonePositions(lane: Lane): ReadonlySet<number> | null {
  const first = lane.snapshots[0];
  if (!first) return null;
  const changed = new Set(first.changed);
  const open = first.pieces.flatMap((p, i) => (p === null || changed.has(i) ? [i] : []));
  return open.length === first.pieces.length ? null : new Set(open);
}

interface TokenProps {
  piece: string | null;
  confidence: number;
  changed: boolean;
  fixed: boolean;
  redone: boolean;
  selected: boolean;
  position: number;
  step: number;
  /** What this position held before LLaDA2.1's editing loop replaced it at this step. */
  was?: string;
  onPress(e: MouseEvent): void;
  onEnter(): void;
}

function Token({ piece, confidence, changed, fixed, redone, selected, position, step, was, onPress, onEnter }: TokenProps) {
  const events = { onMouseDown: onPress, onMouseEnter: onEnter, "data-pos": position };
  const sel = selected ? " selected" : "";
  if (piece === null) {
    return <span className={`tok masked${sel}`} title={`position ${position}: masked`} {...events} />;
  }
  const special = isSpecial(piece);
  const text = piece.replace(/\n/g, "↵\n");
  // Fixed tokens were given (infill text, typed replacements): no confidence to show.
  const style = fixed ? undefined : ({ "--conf": confidence } as CSSProperties);
  // LLaDA2.1's editing loop replaced a committed token at this step: show what it held, struck out
  const edited = was !== undefined;
  const title = fixed
    ? `position ${position} · given text (fixed)`
    : `position ${position} · confidence ${confidence.toFixed(3)}${edited ? ` · edited at step ${step}: was ${JSON.stringify(was)}` : changed ? ` · decided at step ${step}` : ""}`;
  return (
    <span
      className={`tok${changed ? " changed" : ""}${special ? " special" : ""}${fixed ? " fixed" : ""}${redone ? " redone" : ""}${edited ? " edited" : ""}${sel}`}
      style={style}
      title={redone ? `${title} · regenerated here` : title}
      {...events}
    >
      {edited && <s className="tok-was">{was.trim() === "" ? "∅" : was.replace(/\n/g, "↵")}</s>}
      {text}
    </span>
  );
}

function scoreWords(snapshot: CanvasSnapshot): string | null {
  if (snapshot.score === undefined) return null;
  const kind = snapshot.scoreKind === "elbo" ? "ELBO" : snapshot.scoreKind === "path_logprob" ? "path log-prob" : snapshot.scoreKind;
  return `score ${snapshot.score.toFixed(2)}${kind ? ` (${kind})` : ""}`;
}

/** A snapshot's place on the shared timeline: its step in the canvas's history, else its own step. */
export const laneStep = (s: CanvasSnapshot): number => s.at ?? s.step;

/**
 * The lane at a point of the timeline: its latest snapshot by then; before its first step, the
 * canvas it was given (its first snapshot with that step's commits masked again).
 */
function snapshotAt(lane: Lane, at: number): { snapshot: CanvasSnapshot; waiting: boolean } | null {
  const first = lane.snapshots[0];
  if (!first) return null;
  let found: CanvasSnapshot | undefined;
  for (const s of lane.snapshots) if (laneStep(s) <= at) found = s;
  if (found) return { snapshot: found, waiting: false };
  const changed = new Set(first.changed);
  return {
    snapshot: { ...first, pieces: first.pieces.map((p, i) => (changed.has(i) ? null : p)), changed: [], confidence: first.confidence.map((c, i) => (changed.has(i) ? 0 : c)) },
    waiting: true,
  };
}

export function LaneView({
  lane,
  at,
  title,
  selected,
  onPress,
  onEnter,
}: {
  lane: Lane;
  /** The point of the timeline shown (laneStep). */
  at: number;
  title: string;
  selected: ReadonlySet<number>;
  onPress(pos: number, e: MouseEvent): void;
  onEnter(pos: number): void;
}) {
  const shown = snapshotAt(lane, at);
  if (!shown) return null;
  const { snapshot, waiting } = shown;
  const changed = new Set(snapshot.changed);
  const fixed = new Set(snapshot.fixed ?? []);
  // Positions LLaDA2.1's editing loop rewrote at this step, with what they held before.
  const was = new Map((snapshot.edited ?? []).map((p, i) => [p, snapshot.previousPieces?.[i] ?? "?"]));
  const masked = snapshot.pieces.filter((p) => p === null).length;
  const decided = snapshot.pieces.length - masked;
  const meanConf = decided ? snapshot.confidence.reduce((sum, c, i) => (snapshot.pieces[i] === null ? sum : sum + c), 0) / decided : 0;
  const score = scoreWords(snapshot);
  // Beside the original, what this lane regenerated stands out.
  const redone = redonePositions(lane);
  return (
    <section className="mf-lane" data-testid="lane" data-lane={lane.key}>
      <header>
        <span className="mf-lane-title">
          {title} <span className="mf-lane-id">{lane.nodeId}</span>
        </span>
        {lane.beam !== undefined && <span className="mf-chip">beam {lane.beam + 1}</span>}
        {snapshot.block !== undefined && <span className="mf-chip" data-testid="block">block {snapshot.block + 1}</span>}
        {!waiting && snapshot.edited?.length ? <span className="mf-chip mf-chip-edit" data-testid="edits">{snapshot.edited.length} edited</span> : null}
        <span className="mf-lane-stats">
          {waiting ? "not started yet" : `step ${snapshot.step}${lane.total ? ` / ${lane.total}` : ""}`} · {decided}/{snapshot.pieces.length} decided ·{" "}
          {score ?? `mean conf ${meanConf.toFixed(2)}`}
        </span>
      </header>
      <div className="mf-tokens" data-testid="tokens" data-masked={masked}>
        {snapshot.pieces.map((piece, i) => (
          <Token
            key={i}
            piece={piece}
            confidence={snapshot.confidence[i] ?? 0}
            changed={changed.has(i)}
            fixed={fixed.has(i)}
            redone={redone?.has(i) ?? false}
            selected={selected.has(i)}
            position={i}
            step={snapshot.step}
            was={waiting ? undefined : was.get(i)}
            onPress={(e) => {
              e.preventDefault(); // no text selection while picking tokens
              onPress(i, e);
            }}
            onEnter={() => onEnter(i)}
          />
        ))}
      </div>
    </section>
  );
}

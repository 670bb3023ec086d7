// One lane of the denoising view: a sampler's (or a beam's) canvas at the chosen step. Masked
// positions are blanks, committed tokens are tinted by confidence, given (fixed) text is drawn
// plain, and tokens can be selected for editing (useTokenSelection). A uniform-noise model's
// canvas (DiffusionGemma) has no masks: it shows the model's pick per position, the positions
// re-drawn at random this step faded and struck through, the kept ones outlined, each underlined
// by its entropy, and the two stop signals.
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
  /** Uniform-noise models: this position of the canvas being settled was re-drawn at random this step (not kept), and its entropy. */
  settling?: { renoised: boolean; entropy: number; relative: number };
  onPress(e: MouseEvent): void;
  onEnter(): void;
}

function Token({ piece, confidence, changed, fixed, redone, selected, position, step, was, settling, onPress, onEnter }: TokenProps) {
  const events = { onMouseDown: onPress, onMouseEnter: onEnter, "data-pos": position };
  const sel = selected ? " selected" : "";
  if (piece === null) {
    return <span className={`tok masked${sel}`} title={`position ${position}: masked`} {...events} />;
  }
  const special = isSpecial(piece);
  const text = piece.replace(/\n/g, "↵\n");
  // Fixed tokens were given (infill text, typed replacements): no confidence to show.
  const style = fixed ? undefined : ({ "--conf": confidence, ...(settling ? { "--ent": settling.relative } : {}) } as CSSProperties);
  // LLaDA2.1's editing loop replaced a committed token at this step: show what it held, struck out
  const edited = was !== undefined;
  const title = fixed
    ? `position ${position} · given text (fixed)`
    : settling
      ? `position ${position} · the model's pick, p ${confidence.toFixed(3)} · entropy ${settling.entropy.toFixed(3)} · ${settling.renoised ? `re-drawn at random at step ${step}` : `kept at step ${step}`}`
      : `position ${position} · confidence ${confidence.toFixed(3)}${edited ? ` · edited at step ${step}: was ${JSON.stringify(was)}` : changed ? ` · decided at step ${step}` : ""}`;
  return (
    <span
      className={`tok${changed ? " changed" : ""}${special ? " special" : ""}${fixed ? " fixed" : ""}${redone ? " redone" : ""}${edited ? " edited" : ""}${settling ? (settling.renoised ? " renoised" : " kept") : ""}${sel}`}
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
  onHover,
}: {
  lane: Lane;
  /** The point of the timeline shown (laneStep). */
  at: number;
  title: string;
  selected: ReadonlySet<number>;
  onPress(pos: number, e: MouseEvent): void;
  onEnter(pos: number): void;
  /** The pointer is over this position (the candidate inspector follows it). */
  onHover?(pos: number): void;
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
  // A uniform-noise model's canvas settling: per position of the current canvas, kept or re-drawn, and its entropy.
  const settle = waiting ? undefined : snapshot.settling;
  const kept = new Set(settle?.kept ?? []);
  const maxEntropy = settle ? Math.max(1e-9, ...settle.entropy) : 1;
  const settlingOf = (i: number) => {
    if (!settle || fixed.has(i) || i < settle.canvasStart || i >= settle.canvasStart + settle.canvasLength) return undefined;
    const entropy = settle.entropy[i - settle.canvasStart] ?? 0;
    return { renoised: !kept.has(i), entropy, relative: entropy / maxEntropy };
  };
  return (
    <section className="mf-lane" data-testid="lane" data-lane={lane.key}>
      <header>
        <span className="mf-lane-title">
          {title} <span className="mf-lane-id">{lane.nodeId}</span>
        </span>
        {lane.beam !== undefined && <span className="mf-chip">beam {lane.beam + 1}</span>}
        {snapshot.block !== undefined && <span className="mf-chip" data-testid="block">block {snapshot.block + 1}</span>}
        {!waiting && snapshot.edited?.length ? <span className="mf-chip mf-chip-edit" data-testid="edits">{snapshot.edited.length} edited</span> : null}
        {settle && (
          <span className="mf-settling" data-testid="settling">
            <span className="mf-chip">canvas {settle.canvas + 1}</span>
            <span className="mf-chip" data-testid="kept" title="positions whose sampled token was kept this step; the others were re-drawn at random">
              kept {settle.kept.length}/{settle.canvasLength}
            </span>
            <span className={`mf-chip mf-stop${settle.stable ? " on" : ""}`} data-testid="stable" title="the model's pick for the canvas did not change from the step before">
              {settle.stable ? "✓" : "·"} stable
            </span>
            <span className={`mf-chip mf-stop${settle.confident ? " on" : ""}`} data-testid="confident" title="the mean entropy is under the confidence threshold">
              {settle.confident ? "✓" : "·"} confident
            </span>
          </span>
        )}
        <span className="mf-lane-stats">
          {waiting ? "not started yet" : `step ${snapshot.step}${lane.total ? ` / ${lane.total}` : ""}`} ·{" "}
          {settle
            ? `mean entropy ${settle.meanEntropy.toFixed(3)} · t ${settle.temperature.toFixed(2)}`
            : `${decided}/${snapshot.pieces.length} decided · ${score ?? `mean conf ${meanConf.toFixed(2)}`}`}
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
            settling={settlingOf(i)}
            onPress={(e) => {
              e.preventDefault(); // no text selection while picking tokens
              onPress(i, e);
            }}
            onEnter={() => {
              onEnter(i);
              onHover?.(i);
            }}
          />
        ))}
      </div>
    </section>
  );
}

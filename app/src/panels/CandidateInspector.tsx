// The candidate inspector: for the token under the pointer, what the model offered at that
// position (its top candidates with their probabilities as bars, and the position's entropy), at
// the latest step up to the one shown that looked at it (the step that decided it, or, while it is
// still masked, the last step so far). Denoise records these with its `candidates` input.
import type { CanvasSnapshot } from "../api/types.js";
import type { Lane } from "../run/runState.js";
import { laneStep } from "./LaneView.js";

type Candidates = NonNullable<CanvasSnapshot["candidates"]>[number];

/** The candidates a lane's model offered at `position`, at the latest step up to `at` that looked at it. */
export function candidatesAt(lane: Lane, at: number, position: number): { step: number; candidates: Candidates } | null {
  let found: { step: number; candidates: Candidates } | null = null;
  for (const s of lane.snapshots) {
    if (laneStep(s) > at) break;
    const c = s.candidates?.find((k) => k.position === position);
    if (c) found = { step: s.step, candidates: c };
  }
  return found;
}

const shown = (piece: string) => (piece.trim() === "" ? JSON.stringify(piece) : piece.replace(/\n/g, "↵"));

export function CandidateInspector({ lane, at, position, hint }: { lane: Lane | undefined; at: number; position: number | null; hint: string }) {
  const found = lane && position !== null ? candidatesAt(lane, at, position) : null;
  if (!found) {
    return (
      <div className="mf-token-actions idle" data-testid="token-hint">
        {hint}
      </div>
    );
  }
  const { step, candidates: c } = found;
  return (
    <div className="mf-token-actions idle mf-inspector" data-testid="inspector" aria-live="polite">
      <span className="mf-inspector-where">
        position {position} · step {step}
        {c.entropy !== null && <> · entropy {c.entropy.toFixed(2)} nats</>}
      </span>
      {c.ids.map((id, i) => (
        <span key={id} className="mf-candidate" data-testid="candidate" title={`id ${id} · p ${c.probs[i].toFixed(4)}`}>
          <span className="mf-candidate-piece">{shown(c.pieces[i])}</span>
          <span className="mf-candidate-track">
            <span className="mf-candidate-bar" style={{ width: `${Math.max(1, c.probs[i] * 100)}%` }} />
          </span>
          <span className="mf-candidate-p">{(c.probs[i] * 100).toFixed(1)}%</span>
        </span>
      ))}
    </div>
  );
}

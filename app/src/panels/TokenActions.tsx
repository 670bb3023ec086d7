// What can be done with the tokens selected in the denoising view: remask and regenerate them,
// keep them and regenerate the rest, or type text to put in their place. Each edits the graph
// (undoable) and runs it; the regenerated text appears in a lane beside the original.
import { useState } from "react";
import type { TokenAction } from "../edit/tokenEdit.js";
import { positionSpec } from "../edit/tokenEdit.js";

export function TokenActions({
  positions,
  length,
  fixed,
  disabled,
  onAction,
  onClear,
}: {
  positions: number[];
  length: number;
  fixed: number[];
  /** Why nothing can be done here (a past run of another graph, a beam lane), or null. */
  disabled: string | null;
  onAction(action: TokenAction): void;
  onClear(): void;
}) {
  const [text, setText] = useState("");
  const contiguous = positions.length > 0 && positions[positions.length - 1] - positions[0] === positions.length - 1;
  return (
    <div className="mf-token-actions" data-testid="token-actions" role="toolbar" aria-label="selected tokens">
      <span className="mf-token-count">
        {positions.length} token{positions.length === 1 ? "" : "s"} <span className="mono">{positionSpec(positions)}</span>
      </span>
      {disabled ? (
        <span className="mf-token-why">{disabled}</span>
      ) : (
        <>
          <button type="button" className="mf-btn small" onClick={() => onAction({ kind: "remask", positions })} title="Mask these tokens again and let Denoise rewrite them">
            Remask and regenerate
          </button>
          <button type="button" className="mf-btn small" onClick={() => onAction({ kind: "keep", positions, length, fixed })} title="Keep these tokens, regenerate all the others">
            Keep, regenerate the rest
          </button>
          <input
            className="mf-input mf-token-text"
            aria-label="replacement text"
            placeholder={contiguous ? "type replacement text, Enter" : "select a span to replace"}
            disabled={!contiguous}
            value={text}
            onChange={(e) => setText(e.target.value)}
            onKeyDown={(e) => {
              if (e.key === "Enter") {
                e.preventDefault();
                onAction({ kind: "replace", positions, text });
                setText("");
              }
              if (e.key === "Escape") onClear();
            }}
          />
        </>
      )}
      <button type="button" className="mf-icon-btn" aria-label="clear the selection" title="Clear the selection (Escape)" onClick={onClear}>
        ✕
      </button>
    </div>
  );
}

// Which tokens of which lane the user has selected in the denoising view: click one, shift-click
// to extend from where the selection started, ctrl-click to add or drop one, or drag over a span.
import { useCallback, useEffect, useRef, useState } from "react";

export interface TokenSelection {
  lane: string;
  positions: number[];
}

const range = (a: number, b: number) => Array.from({ length: Math.abs(b - a) + 1 }, (_, i) => Math.min(a, b) + i);

export function useTokenSelection() {
  const [selection, setSelection] = useState<TokenSelection | null>(null);
  const anchor = useRef<{ lane: string; pos: number } | null>(null);
  const dragging = useRef(false);

  useEffect(() => {
    const up = () => {
      dragging.current = false;
    };
    window.addEventListener("mouseup", up);
    return () => window.removeEventListener("mouseup", up);
  }, []);

  const press = useCallback((lane: string, pos: number, e: { shiftKey: boolean; ctrlKey: boolean; metaKey: boolean }) => {
    const from = anchor.current;
    if (e.shiftKey && from?.lane === lane) {
      setSelection({ lane, positions: range(from.pos, pos) });
      return;
    }
    if ((e.ctrlKey || e.metaKey) && from?.lane === lane) {
      setSelection((s) => {
        const had = new Set(s?.lane === lane ? s.positions : []);
        if (had.has(pos)) had.delete(pos);
        else had.add(pos);
        return { lane, positions: [...had].sort((a, b) => a - b) };
      });
      return;
    }
    anchor.current = { lane, pos };
    dragging.current = true;
    setSelection({ lane, positions: [pos] });
  }, []);

  /** The pointer moved onto a token: while the button is held, the span from the anchor is selected. */
  const enter = useCallback((lane: string, pos: number) => {
    const from = anchor.current;
    if (!dragging.current || from?.lane !== lane) return;
    setSelection({ lane, positions: range(from.pos, pos) });
  }, []);

  const clear = useCallback(() => {
    anchor.current = null;
    setSelection(null);
  }, []);

  return { selection, press, enter, clear };
}

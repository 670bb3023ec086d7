// Short messages in the corner. The same message shown again does not stack a second toast: the
// one showing counts the repeat and stays up longer.
import { useCallback, useRef, useState } from "react";

export interface Toast {
  id: number;
  kind: "info" | "error" | "success";
  text: string;
  /** How many times it was shown while up. */
  count: number;
}

let nextId = 1;
const lifetime = (kind: Toast["kind"]) => (kind === "error" ? 7000 : 3500);

export function useToasts() {
  const [toasts, setToasts] = useState<Toast[]>([]);
  const timers = useRef(new Map<number, ReturnType<typeof setTimeout>>());
  const dismiss = useCallback((id: number) => {
    clearTimeout(timers.current.get(id));
    timers.current.delete(id);
    setToasts((list) => list.filter((t) => t.id !== id));
  }, []);
  const show = useCallback(
    (text: string, kind: Toast["kind"] = "info") => {
      setToasts((list) => {
        const same = list.find((t) => t.text === text && t.kind === kind);
        const id = same?.id ?? nextId++;
        clearTimeout(timers.current.get(id));
        timers.current.set(id, setTimeout(() => dismiss(id), lifetime(kind)));
        if (same) return list.map((t) => (t.id === id ? { ...t, count: t.count + 1 } : t));
        return [...list.slice(-3), { id, kind, text, count: 1 }];
      });
    },
    [dismiss],
  );
  return { toasts, show, dismiss };
}

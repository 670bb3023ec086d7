import { useCallback, useState } from "react";

export interface Toast {
  id: number;
  kind: "info" | "error" | "success";
  text: string;
}

let nextId = 1;

export function useToasts() {
  const [toasts, setToasts] = useState<Toast[]>([]);
  const dismiss = useCallback((id: number) => setToasts((list) => list.filter((t) => t.id !== id)), []);
  const show = useCallback(
    (text: string, kind: Toast["kind"] = "info") => {
      const id = nextId++;
      setToasts((list) => [...list.slice(-3), { id, kind, text }]);
      setTimeout(() => dismiss(id), kind === "error" ? 7000 : 3500);
    },
    [dismiss],
  );
  return { toasts, show, dismiss };
}

// Which graph is on the canvas, as an id: a new one for each New, Open, example or loaded run,
// kept across reloads with the autosave. Runs carry the id of the graph they were made from, so
// their badges and outputs are painted on that graph only, never on another that happens to
// reuse a node id.
import { useCallback, useState } from "react";

const KEY = "maskflow.graph.v1";

function fresh(): string {
  // randomUUID exists only in secure contexts; a server reached over plain http on the LAN is not one.
  if (typeof crypto.randomUUID === "function") return crypto.randomUUID();
  return Array.from(crypto.getRandomValues(new Uint8Array(16)), (b) => b.toString(16).padStart(2, "0")).join("");
}

export function useGraphIdentity() {
  const [graphId, setGraphId] = useState(() => localStorage.getItem(KEY) ?? fresh());
  const set = useCallback((id: string) => {
    setGraphId(id);
    try {
      localStorage.setItem(KEY, id);
    } catch {
      // storage full or disabled: the id lasts as long as the page
    }
  }, []);
  /** A different graph is now on the canvas. */
  const renew = useCallback(() => {
    const id = fresh();
    set(id);
    return id;
  }, [set]);
  return { graphId, renew, set };
}

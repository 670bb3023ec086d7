// Runs as the editor knows them: the server's queue list, the event-derived view of recent runs,
// and which run the canvas and denoising view show ("focused").
import { useCallback, useEffect, useReducer, useRef, useState } from "react";
import type { ApiClient } from "../api/client.js";
import type { RunEvent, RunSummary } from "../api/types.js";
import { applyEvent, emptyRun, mergeViews, runFromDetail, type RunView } from "../run/runState.js";

const KEEP_RUNS = 20;

type Action = { type: "events"; events: RunEvent[] } | { type: "set"; view: RunView };

function reducer(state: Record<string, RunView>, action: Action): Record<string, RunView> {
  const next = { ...state };
  if (action.type === "events") {
    for (const event of action.events) next[event.runId] = applyEvent(next[event.runId], event);
  } else {
    const existing = state[action.view.runId];
    // Live events may have arrived while the copy loaded: keep what each side knows.
    next[action.view.runId] = existing ? mergeViews(action.view, existing) : action.view;
  }
  const ids = Object.keys(next);
  for (const id of ids.slice(0, Math.max(0, ids.length - KEEP_RUNS))) delete next[id];
  return next;
}

export function useRuns(api: ApiClient) {
  const [views, dispatch] = useReducer(reducer, {});
  const [list, setList] = useState<RunSummary[]>([]);
  const [focused, setFocused] = useState<string | null>(null);
  const [connected, setConnected] = useState(false);
  const focusedRef = useRef<string | null>(null);
  const viewsRef = useRef(views);
  viewsRef.current = views;
  focusedRef.current = focused;
  const refreshTimer = useRef<ReturnType<typeof setTimeout>>(undefined);

  const refresh = useCallback(() => {
    clearTimeout(refreshTimer.current);
    refreshTimer.current = setTimeout(() => {
      api.runs().then(setList, () => {});
    }, 60);
  }, [api]);

  /** Loads a run the page has no live events for (a reload, or a run started elsewhere). */
  const load = useCallback(
    async (id: string) => {
      const [detail, events] = await Promise.all([api.run(id), api.runEvents(id).catch(() => [] as RunEvent[])]);
      dispatch({ type: "set", view: runFromDetail(detail, events) });
    },
    [api],
  );

  const focus = useCallback(
    (id: string) => {
      setFocused(id);
      const view = viewsRef.current[id];
      if (!view || (view.laneOrder.length === 0 && view.status !== "queued")) load(id).catch(() => {});
    },
    [load],
  );

  /** A run this tab just submitted: focus it before its first event arrives. */
  const submitted = useCallback((id: string) => {
    if (!viewsRef.current[id]) dispatch({ type: "set", view: emptyRun(id) });
    setFocused(id);
  }, []);

  useEffect(() => {
    const catchUp = async () => {
      const runs = await api.runs().catch(() => [] as RunSummary[]);
      setList(runs);
      const active = runs.find((r) => r.status === "running") ?? runs.find((r) => r.status === "queued");
      const target = focusedRef.current ?? active?.id ?? runs[0]?.id;
      if (target) {
        setFocused(target);
        await load(target).catch(() => {});
      }
    };
    // Events are applied in batches, once per frame: a fast sampler sends hundreds a second.
    let pending: RunEvent[] = [];
    let frame = 0;
    const flush = () => {
      frame = 0;
      const events = pending;
      pending = [];
      dispatch({ type: "events", events });
    };
    const unsubscribe = api.subscribe(
      (message) => {
        if (message.type === "queue") {
          setList(message.runs);
          return;
        }
        pending.push(message);
        if (!frame) frame = requestAnimationFrame(flush);
        // A run started elsewhere (CLI, another tab) takes the view unless ours is still going.
        if (message.type === "run_started") {
          const current = focusedRef.current ? viewsRef.current[focusedRef.current] : undefined;
          if (!current || (current.status !== "queued" && current.status !== "running") || current.runId === message.runId) {
            setFocused(message.runId);
          }
        }
      },
      (isConnected) => {
        setConnected(isConnected);
        if (isConnected) catchUp();
      },
    );
    return () => {
      unsubscribe();
      cancelAnimationFrame(frame);
    };
  }, [api, load]);

  return { views, list, focused, focus, submitted, connected, refresh };
}

// Runs as the editor knows them: the server's queue list, the event-derived view of recent runs,
// which run the denoising view shows ("focused"), and which graph each run was made from.
//
// The view follows the running job: a run that starts takes the view, unless the user picked a
// run in the queue since (a pinned choice holds until the next Run). A run queued behind a
// running one does not take the view, so Cancel acts on the run the user sees running.
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

const isActive = (status: string | undefined) => status === "queued" || status === "running";

export interface RunsOptions {
  /** A run this tab submitted failed: the event says where. */
  onFailed?(event: Extract<RunEvent, { type: "failed" }>): void;
}

export function useRuns(api: ApiClient, options: RunsOptions = {}) {
  const [views, dispatch] = useReducer(reducer, {});
  const [list, setList] = useState<RunSummary[]>([]);
  const [focused, setFocused] = useState<string | null>(null);
  const [connected, setConnected] = useState(false);
  const focusedRef = useRef<string | null>(null);
  const viewsRef = useRef(views);
  const listRef = useRef(list);
  viewsRef.current = views;
  listRef.current = list;
  focusedRef.current = focused;
  /** The user picked a run in the queue: the view stays on it when others start. */
  const pinned = useRef(false);
  /** Runs this tab submitted, and the graph each was made from (the server's list says it too, a moment later). */
  const mine = useRef(new Map<string, string | null>());
  const onFailed = useRef(options.onFailed);
  onFailed.current = options.onFailed;
  /** Failures of runs not known as this tab's yet: a run can fail before its POST has answered. */
  const earlyFailures = useRef(new Map<string, Extract<RunEvent, { type: "failed" }>>());
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

  const show = useCallback(
    (id: string) => {
      setFocused(id);
      const view = viewsRef.current[id];
      if (!view || (view.laneOrder.length === 0 && view.status !== "queued")) load(id).catch(() => {});
    },
    [load],
  );

  /** The user picks a run in the queue. */
  const focus = useCallback(
    (id: string) => {
      pinned.current = true;
      show(id);
    },
    [show],
  );

  /** A run this tab just submitted: it takes the view only when nothing else is going. */
  const submitted = useCallback((id: string, graph: string | null) => {
    mine.current.set(id, graph);
    const failure = earlyFailures.current.get(id);
    if (failure) onFailed.current?.(failure);
    earlyFailures.current.clear();
    pinned.current = false;
    if (!viewsRef.current[id]) dispatch({ type: "set", view: emptyRun(id) });
    const busy =
      listRef.current.some((r) => r.id !== id && isActive(r.status)) ||
      Object.values(viewsRef.current).some((v) => v.runId !== id && isActive(v.status));
    if (!busy) setFocused(id);
  }, []);

  /** The graph a run was made from (null: unknown, e.g. a run posted by the CLI or another client). */
  const graphOf = useCallback((id: string): string | null => {
    if (mine.current.has(id)) return mine.current.get(id) ?? null;
    return listRef.current.find((r) => r.id === id)?.graph ?? null;
  }, []);

  /** From now on, this run counts as a run of `graph` (its workflow was loaded into that graph). */
  const adopt = useCallback((id: string, graph: string) => {
    mine.current.set(id, graph);
    setList((l) => [...l]);
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
        if (message.type === "run_started" && !pinned.current) setFocused(message.runId);
        if (message.type === "failed") {
          if (mine.current.has(message.runId)) onFailed.current?.(message);
          else earlyFailures.current.set(message.runId, message);
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

  return { views, list, focused, focus, show, submitted, graphOf, adopt, connected, refresh };
}

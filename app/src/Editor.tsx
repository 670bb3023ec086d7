// The editor: canvas, palette, toolbar, denoising view and queue, wired to the engine server.
// The graph (nodes, links, groups and notes) is React state with whole-graph undo; runs come from
// useRuns. A run belongs to the graph it was made from (useGraphIdentity): only that graph shows
// its badges and outputs, and a run of another graph is shown labelled, with its workflow a
// click away.
import {
  Background,
  BackgroundVariant,
  Controls,
  MiniMap,
  ReactFlow,
  applyEdgeChanges,
  applyNodeChanges,
  useReactFlow,
  type Connection,
  type Edge,
  type EdgeChange,
  type EdgeTypes,
  type FinalConnectionState,
  type Node,
  type NodeChange,
  type NodeTypes,
} from "@xyflow/react";
import { useCallback, useEffect, useMemo, useRef, useState, type DragEvent, type MouseEvent as ReactMouseEvent, type PointerEvent as ReactPointerEvent } from "react";
import { ApiError, type ApiClient } from "./api/client.js";
import type { ExampleSummary, Issue, ModelListing, NodeCatalogEntry, NodeMode, RunEvent, WorkflowDoc } from "./api/types.js";
import { ContextMenu } from "./canvas/ContextMenu.js";
import { DecorContext, GroupNodeView, NoteNodeView, type DecorActions } from "./canvas/DecorNodes.js";
import { useCanvasMenus } from "./canvas/menus.js";
import { READABLE_ZOOM, openingViewport } from "./canvas/openingView.js";
import { RerouteContext, RoutedEdge, insertPoint, type RerouteActions } from "./canvas/RoutedEdge.js";
import { useGroupDrag } from "./canvas/useGroupDrag.js";
import { isEditable, useShortcuts, type ShortcutCommand } from "./canvas/useShortcuts.js";
import { useSpaceHeld } from "./canvas/useSpaceHeld.js";
import { desktop } from "./desktop.js";
import { planTokenEdit, type TokenAction } from "./edit/tokenEdit.js";
import { copySelection, parseClipboard, pasteFragment } from "./graph/clipboard.js";
import { checkConnection } from "./graph/connect.js";
import { GROUP_SIZE, NOTE_SIZE, isDecorId, newDecorId, type DecorNode } from "./graph/decor.js";
import { History } from "./graph/history.js";
import { newNodeId } from "./graph/ids.js";
import { edgeId, type FlowEdge, type FlowNode, type Graph, type Point } from "./graph/model.js";
import { acceptsSocket, inputSockets, socketColor } from "./graph/sockets.js";
import { defaultValues, docToGraph, graphToDoc, looksLikeWorkflow, type WorkflowMeta } from "./graph/workflow.js";
import { useGraphIdentity } from "./hooks/useGraphIdentity.js";
import { useRuns } from "./hooks/useRuns.js";
import { useTheme } from "./hooks/useTheme.js";
import { useToasts } from "./hooks/useToasts.js";
import { EditorContext, RunContext, type EditorView, type RunDisplay } from "./nodes/context.js";
import { FlowNodeView, categoryHue } from "./nodes/FlowNode.js";
import { DenoiseView, type ForeignRun } from "./panels/DenoiseView.js";
import { HelpPanel } from "./panels/HelpPanel.js";
import { NODE_DRAG_TYPE, Palette } from "./panels/Palette.js";
import { NodeSearch } from "./panels/NodeSearch.js";
import { QueuePanel } from "./panels/QueuePanel.js";
import { Toolbar } from "./panels/Toolbar.js";
import { batchOverrides } from "./run/batch.js";
import type { Lane } from "./run/runState.js";

export const AUTOSAVE_KEY = "maskflow.autosave.v1";
const DEFAULT_EXAMPLE = "hello";
/** Issues that only mean "not finished yet": shown after a Run attempt, not while building. */
const INCOMPLETE_CODES = new Set(["missing_input", "no_output_node"]);
/** Below this window width the node library starts folded away, leaving the canvas the room. */
const WIDE_WINDOW = 1360;

const nodeTypes: NodeTypes = { maskflow: FlowNodeView, group: GroupNodeView, note: NoteNodeView };
const edgeTypes: EdgeTypes = { routed: RoutedEdge };

interface Snapshot extends Graph {
  meta: WorkflowMeta;
  decor: DecorNode[];
}

interface SearchState {
  at: { x: number; y: number };
  flowAt: { x: number; y: number };
  /** Set when a link was dropped on empty canvas: connect the new node to it. */
  pending?: { nodeId: string; handleId: string; handleType: "source" | "target"; sockets: string[] };
}

function fileNameFor(meta: WorkflowMeta): string {
  const slug = (meta.name ?? "workflow").toLowerCase().replace(/[^a-z0-9]+/g, "-").replace(/^-|-$/g, "") || "workflow";
  return `${slug}.maskflow.json`;
}

const clock = (iso: string | undefined) => (iso ? new Date(iso).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit", second: "2-digit" }) : "");

export function Editor({ api, catalogList }: { api: ApiClient; catalogList: NodeCatalogEntry[] }) {
  const flow = useReactFlow();
  const catalog = useMemo(() => new Map(catalogList.map((entry) => [entry.type, entry])), [catalogList]);
  const [nodes, setNodes] = useState<FlowNode[]>([]);
  const [edges, setEdges] = useState<FlowEdge[]>([]);
  const [decor, setDecor] = useState<DecorNode[]>([]);
  const [meta, setMeta] = useState<WorkflowMeta>({});
  const [ready, setReady] = useState(false);
  const [fitting, setFitting] = useState(false);
  const fitRequest = useRef(0);
  const graphRef = useRef<Snapshot>({ nodes, edges, meta, decor });
  graphRef.current = { nodes, edges, meta, decor };
  const identity = useGraphIdentity();
  const { set: setGraph, renew: renewGraph } = identity;
  const graphIdRef = useRef(identity.graphId);
  graphIdRef.current = identity.graphId;

  const history = useRef(new History<Snapshot>());
  const [, setHistoryVersion] = useState(0);
  const record = useCallback((mergeKey?: string) => {
    history.current.record(graphRef.current, mergeKey);
    setHistoryVersion((v) => v + 1);
  }, []);

  const { toasts, show: toast, dismiss } = useToasts();
  const { theme, toggle: toggleTheme } = useTheme();
  const titleRef = useRef<(nodeId: string) => string>((id) => id);
  const onFailed = useCallback(
    (event: Extract<RunEvent, { type: "failed" }>) => {
      // The toast says where, as the node shows it: "Run failed at Load Model (model).path: …".
      const where = event.nodeId ? `${titleRef.current(event.nodeId)} (${event.nodeId})${event.input ? `.${event.input}` : ""}: ` : "";
      toast(`Run failed at ${where}${event.message}`, "error");
    },
    [toast],
  );
  const runs = useRuns(api, { onFailed });
  const [issues, setIssues] = useState<Issue[]>([]);
  const [showIncomplete, setShowIncomplete] = useState(false);
  const [search, setSearch] = useState<SearchState | null>(null);
  const [helpOpen, setHelpOpen] = useState(false);
  const [paletteOpen, setPaletteOpen] = useState(() => window.innerWidth >= WIDE_WINDOW);
  const [examples, setExamples] = useState<ExampleSummary[]>([]);
  const [renaming, setRenaming] = useState<string | null>(null);
  const [batch, setBatch] = useState(1);
  const [dockHeight, setDockHeight] = useState(() => Number(localStorage.getItem("maskflow.dock")) || Math.min(300, Math.round(window.innerHeight * 0.34)));
  const wrapper = useRef<HTMLDivElement>(null);
  const fileInput = useRef<HTMLInputElement>(null);
  const pointer = useRef<{ x: number; y: number } | null>(null);
  const clipboard = useRef<WorkflowDoc | null>(null);
  const spaceHeld = useSpaceHeld();

  // ------------------------------------------------------------------ documents

  const currentDoc = useCallback(
    (withViewport = true): WorkflowDoc =>
      graphToDoc(graphRef.current, graphRef.current.meta, withViewport ? flow.getViewport() : undefined, graphRef.current.decor),
    [flow],
  );

  /** Puts a document on the canvas; `graph` is its identity (a new one unless it is the same graph reopened). */
  const showDoc = useCallback(
    (doc: WorkflowDoc, graph?: string) => {
      const shown = docToGraph(doc, catalog);
      setNodes(shown.nodes);
      setEdges(shown.edges);
      setDecor(shown.decor);
      setMeta(shown.meta);
      setIssues([]);
      setShowIncomplete(false);
      if (graph) setGraph(graph);
      else renewGraph();
      // Wait for React Flow to measure the nodes before placing them in view. A graph shown
      // (or cleared) meanwhile cancels this, so the view never jumps under the user.
      const request = ++fitRequest.current;
      setFitting(true);
      const all = [...shown.decor, ...shown.nodes].map((n) => n.id);
      // A node not measured yet would count as a point, and a graph that does not fit would be
      // centred as if it did: wait (a few frames at most) until every node has its size.
      const measured = () => all.every((id) => (flow.getNode(id)?.measured?.height ?? 0) > 0);
      const place = (tries: number) => {
        if (request !== fitRequest.current) return;
        if (!shown.viewport && tries < 60 && !measured()) {
          requestAnimationFrame(() => place(tries + 1));
          return;
        }
        const rect = wrapper.current?.getBoundingClientRect();
        if (shown.viewport) flow.setViewport(shown.viewport);
        else if (rect && all.length) flow.setViewport(openingViewport(flow.getNodesBounds(all), rect));
        setFitting(false);
      };
      requestAnimationFrame(() => setTimeout(() => place(0), 30));
    },
    [catalog, flow, setGraph, renewGraph],
  );

  /** Replaces the graph (undoable). */
  const openDoc = useCallback(
    (doc: WorkflowDoc, from: string, graph?: string) => {
      record();
      showDoc(doc, graph);
      toast(`Opened ${from}`, "success");
    },
    [record, showDoc, toast],
  );

  const openText = useCallback(
    (text: string, from: string) => {
      let json: unknown;
      try {
        json = JSON.parse(text);
      } catch {
        toast(`${from} is not JSON`, "error");
        return;
      }
      if (!looksLikeWorkflow(json)) {
        toast(`${from} is not a Maskflow workflow (version 1)`, "error");
        return;
      }
      openDoc(json, from);
    },
    [openDoc, toast],
  );

  const openExample = useCallback(
    async (name: string) => {
      try {
        openDoc(await api.example(name), `example “${name}”`);
      } catch (err) {
        toast((err as Error).message, "error");
      }
    },
    [api, openDoc, toast],
  );

  // First load: the autosaved graph (the same graph as before the reload), else the hello example.
  useEffect(() => {
    let cancelled = false;
    (async () => {
      const list = await api.examples().catch(() => [] as ExampleSummary[]);
      if (cancelled) return;
      setExamples(list);
      const saved = localStorage.getItem(AUTOSAVE_KEY);
      let doc: WorkflowDoc | null = null;
      let restored = false;
      if (saved) {
        try {
          const json: unknown = JSON.parse(saved);
          if (looksLikeWorkflow(json)) [doc, restored] = [json, true];
        } catch {
          // a damaged autosave is ignored
        }
      }
      const wanted = new URLSearchParams(window.location.search).get("example");
      if (wanted || !doc) {
        const name = wanted ?? (list.some((e) => e.name === DEFAULT_EXAMPLE) ? DEFAULT_EXAMPLE : list[0]?.name);
        if (name) {
          const example = await api.example(name).catch(() => null);
          if (example) [doc, restored] = [example, false];
        }
      }
      if (cancelled) return;
      // Something opened meanwhile (a file dropped while loading) wins over the default.
      // The autosave is the graph of before the reload: it keeps its identity (and its runs).
      if (doc && !history.current.canUndo) showDoc(doc, restored ? graphIdRef.current : undefined);
      setReady(true);
    })();
    return () => {
      cancelled = true;
    };
  }, [api, showDoc]);

  // Autosave: every change, shortly after it settles.
  const autosaveTimer = useRef<ReturnType<typeof setTimeout>>(undefined);
  const scheduleAutosave = useCallback(() => {
    clearTimeout(autosaveTimer.current);
    autosaveTimer.current = setTimeout(() => {
      try {
        localStorage.setItem(AUTOSAVE_KEY, JSON.stringify(currentDoc()));
      } catch {
        // storage full or disabled: nothing to do but keep editing
      }
    }, 250);
  }, [currentDoc]);
  useEffect(() => {
    if (ready) scheduleAutosave();
  }, [ready, nodes, edges, decor, meta, scheduleAutosave]);
  useEffect(() => {
    const flush = () => {
      if (ready) localStorage.setItem(AUTOSAVE_KEY, JSON.stringify(currentDoc()));
    };
    window.addEventListener("beforeunload", flush);
    return () => window.removeEventListener("beforeunload", flush);
  }, [ready, currentDoc]);

  // Live validation: the server's checks, a moment after each change to what would run.
  const logicalKey = useMemo(
    () => JSON.stringify({ n: nodes.map((n) => [n.id, n.data.type, n.data.values, n.data.mode]), e: edges.map((e) => e.id) }),
    [nodes, edges],
  );
  useEffect(() => {
    if (!ready) return;
    const timer = setTimeout(() => {
      api
        .validate(graphToDoc(graphRef.current))
        .then((found) => {
          setIssues(found);
          if (found.length === 0) setShowIncomplete(false);
        })
        .catch(() => {});
    }, 350);
    return () => clearTimeout(timer);
  }, [api, logicalKey, ready]);

  const visibleIssues = useMemo(
    () => (showIncomplete ? issues : issues.filter((issue) => !INCOMPLETE_CODES.has(issue.code))),
    [issues, showIncomplete],
  );
  const issuesByNode = useMemo(() => {
    const map = new Map<string, Issue[]>();
    for (const issue of visibleIssues) {
      if (issue.nodeId === null) continue;
      map.set(issue.nodeId, [...(map.get(issue.nodeId) ?? []), issue]);
    }
    return map;
  }, [visibleIssues]);
  const workflowIssues = visibleIssues.filter((issue) => issue.nodeId === null || !nodes.some((n) => n.id === issue.nodeId));

  // ------------------------------------------------------------------ graph edits

  // React Flow sees one list (groups first, so they sit behind); each change goes to its owner.
  const onNodesChange = useCallback((changes: NodeChange<Node>[]) => {
    const mine = (c: NodeChange<Node>) => ("id" in c ? isDecorId(c.id) : c.item.id && isDecorId(c.item.id));
    const decorChanges = changes.filter(mine) as NodeChange<DecorNode>[];
    const nodeChanges = changes.filter((c) => !mine(c)) as NodeChange<FlowNode>[];
    if (decorChanges.length) setDecor((list) => applyNodeChanges(decorChanges, list));
    if (nodeChanges.length) setNodes((list) => applyNodeChanges(nodeChanges, list));
  }, []);
  const onEdgesChange = useCallback((changes: EdgeChange<FlowEdge>[]) => {
    setEdges((list) => applyEdgeChanges(changes, list));
  }, []);

  const isValidConnection = useCallback(
    (connection: Connection | Edge) => checkConnection(connection as Connection, graphRef.current, catalog).ok,
    [catalog],
  );

  const connect = useCallback(
    (connection: Connection) => {
      const check = checkConnection(connection, graphRef.current, catalog);
      if (!check.ok) {
        toast(check.reason, "error");
        return;
      }
      record();
      const { source, target, sourceHandle, targetHandle } = connection;
      setEdges((list) => [
        // An input takes one link: a new link replaces the old one.
        ...list.filter((e) => !(e.target === target && e.targetHandle === targetHandle)),
        {
          id: edgeId(source, sourceHandle!, target, targetHandle!),
          source,
          sourceHandle,
          target,
          targetHandle,
          data: { socket: check.socket },
        },
      ]);
      // The linked input's constant is no longer used; drop it so the file stays clean.
      setNodes((list) =>
        list.map((n) => {
          if (n.id !== target || !(targetHandle! in n.data.values)) return n;
          const values = { ...n.data.values };
          delete values[targetHandle!];
          return { ...n, data: { ...n.data, values } };
        }),
      );
    },
    [catalog, record, toast],
  );

  const centre = useCallback((): Point => {
    const rect = wrapper.current?.getBoundingClientRect();
    return rect ? flow.screenToFlowPosition({ x: rect.left + rect.width / 2 - 120, y: rect.top + rect.height / 3 }) : { x: 0, y: 0 };
  }, [flow]);

  const addNode = useCallback(
    (type: string, position?: { x: number; y: number }): string | null => {
      const def = catalog.get(type);
      if (!def) return null;
      record();
      let at = position;
      if (!at) {
        at = centre();
        // Clicking "add" repeatedly cascades instead of stacking nodes on each other.
        while (graphRef.current.nodes.some((n) => Math.abs(n.position.x - at!.x) < 10 && Math.abs(n.position.y - at!.y) < 10)) {
          at = { x: at.x + 32, y: at.y + 32 };
        }
      }
      const id = newNodeId(type, new Set(graphRef.current.nodes.map((n) => n.id)));
      const node: FlowNode = {
        id,
        type: "maskflow",
        position: at,
        selected: true,
        data: { type, values: defaultValues(def) },
      };
      setNodes((list) => [...list.map((n) => (n.selected ? { ...n, selected: false } : n)), node]);
      return id;
    },
    [catalog, centre, record],
  );

  const setValue = useCallback(
    (nodeId: string, input: string, value: unknown) => {
      record(`${nodeId}.${input}`);
      setNodes((list) =>
        list.map((n) => {
          if (n.id !== nodeId) return n;
          const values = { ...n.data.values, [input]: value };
          // Unset (a cleared field): the input takes its default, and the file does not mention it.
          if (value === undefined) delete values[input];
          return { ...n, data: { ...n.data, values } };
        }),
      );
    },
    [record],
  );

  const actions = useMemo<EditorView["actions"]>(
    () => ({
      setValue,
      setTitle(nodeId, title) {
        record();
        setNodes((list) =>
          list.map((n) => {
            if (n.id !== nodeId) return n;
            const data = { ...n.data };
            if (title) data.title = title;
            else delete data.title;
            return { ...n, data };
          }),
        );
      },
      toggleCollapsed(nodeId) {
        record();
        setNodes((list) => list.map((n) => (n.id === nodeId ? { ...n, data: { ...n.data, collapsed: !n.data.collapsed } } : n)));
      },
      endRename: () => setRenaming(null),
      browseFile: desktop() ? (current) => desktop()!.browseFile(current) : undefined,
    }),
    [record, setValue],
  );

  /** Bypass or mute the nodes (ComfyUI's Ctrl+B / Ctrl+M): on if any of them is not in that mode yet, else off. */
  const setMode = useCallback(
    (ids: string[], mode: NodeMode) => {
      const targets = graphRef.current.nodes.filter((n) => ids.includes(n.id));
      if (targets.length === 0) return;
      record();
      const on = targets.some((n) => n.data.mode !== mode);
      setNodes((list) =>
        list.map((n) => {
          if (!ids.includes(n.id)) return n;
          const data = { ...n.data };
          if (on) data.mode = mode;
          else delete data.mode;
          return { ...n, data };
        }),
      );
    },
    [record],
  );

  const decorActions = useMemo<DecorActions>(
    () => ({
      setGroupTitle(id, title) {
        record();
        setDecor((list) => list.map((d) => (d.id === id && d.type === "group" ? { ...d, data: { ...d.data, title } } : d)));
      },
      setNoteText(id, text) {
        record(`${id}.text`);
        setDecor((list) => list.map((d) => (d.id === id && d.type === "note" ? { ...d, data: { ...d.data, text } } : d)));
      },
    }),
    [record],
  );

  const addDecor = useCallback(
    (kind: "group" | "note", at: Point) => {
      record();
      const id = newDecorId(kind, graphRef.current.decor);
      const selected = graphRef.current.nodes.filter((n) => n.selected);
      if (kind === "group") {
        // Around the selected nodes, if any; else a box at the pointer.
        let box = { x: at.x, y: at.y, ...GROUP_SIZE };
        if (selected.length) {
          const b = flow.getNodesBounds(selected.map((n) => n.id));
          box = { x: b.x - 30, y: b.y - 60, width: b.width + 60, height: b.height + 90 };
        }
        setDecor((list) => [...list, { id, type: "group", position: { x: box.x, y: box.y }, width: box.width, height: box.height, zIndex: -1, data: { title: "Group" } }]);
      } else {
        setDecor((list) => [...list, { id, type: "note", position: at, ...NOTE_SIZE, data: { text: "" } }]);
      }
    },
    [flow, record],
  );

  const rerouteActions = useMemo<RerouteActions>(
    () => ({
      beginMove: () => record(),
      movePoint(edgeIdToMove, index, at) {
        setEdges((list) =>
          list.map((e) => (e.id === edgeIdToMove ? { ...e, data: { ...e.data, points: (e.data?.points ?? []).map((p, i) => (i === index ? at : p)) } } : e)),
        );
      },
      pointMenu: (event, id, index) => menusRef.current?.onRerouteContextMenu(event, id, index),
    }),
    [record],
  );

  const linked = useMemo(() => {
    const map = new Map<string, Set<string>>();
    for (const edge of edges) {
      if (!edge.targetHandle) continue;
      const set = map.get(edge.target) ?? new Set<string>();
      set.add(edge.targetHandle);
      map.set(edge.target, set);
    }
    return map;
  }, [edges]);

  const used = useMemo(() => {
    const map = new Map<string, Set<string>>();
    for (const edge of edges) {
      if (!edge.sourceHandle) continue;
      const set = map.get(edge.source) ?? new Set<string>();
      set.add(edge.sourceHandle);
      map.set(edge.source, set);
    }
    return map;
  }, [edges]);

  // Load Model's picker: the model folders the server finds, read again when the window regains
  // focus (a conversion may have finished meanwhile).
  const [models, setModels] = useState<readonly ModelListing[]>([]);
  useEffect(() => {
    const load = () => void api.models().then(setModels, () => undefined);
    load();
    window.addEventListener("focus", load);
    return () => window.removeEventListener("focus", load);
  }, [api]);
  const suggestions = useMemo(() => ({ models }), [models]);

  const editorView = useMemo<EditorView>(
    () => ({ catalog, linked, used, actions, suggestions, renaming }),
    [catalog, linked, used, actions, suggestions, renaming],
  );

  const restore = useCallback((snapshot: Snapshot) => {
    setNodes(snapshot.nodes);
    setEdges(snapshot.edges);
    setDecor(snapshot.decor);
    setMeta(snapshot.meta);
    setHistoryVersion((v) => v + 1);
  }, []);
  const undo = useCallback(() => {
    const previous = history.current.undo(graphRef.current);
    if (previous) restore(previous);
  }, [restore]);
  const redo = useCallback(() => {
    const next = history.current.redo(graphRef.current);
    if (next) restore(next);
  }, [restore]);

  const selectedIds = useCallback(() => new Set(graphRef.current.nodes.filter((n) => n.selected).map((n) => n.id)), []);

  const pointerFlowPosition = useCallback(() => {
    const rect = wrapper.current?.getBoundingClientRect();
    const p = pointer.current;
    if (!rect || !p || p.x < rect.left || p.x > rect.right || p.y < rect.top || p.y > rect.bottom) return null;
    return flow.screenToFlowPosition(p);
  }, [flow]);

  const paste = useCallback(
    (fragment: WorkflowDoc, at?: { x: number; y: number }) => {
      const origin = Object.values(fragment.nodes)[0]?.ui;
      const position = at ?? pointerFlowPosition() ?? { x: (origin?.x ?? 0) + 40, y: (origin?.y ?? 0) + 40 };
      const pasted = pasteFragment(fragment, graphRef.current, catalog, position);
      if (pasted.nodes.length === 0) return;
      record();
      setNodes((list) => [...list.map((n) => (n.selected ? { ...n, selected: false } : n)), ...pasted.nodes]);
      setEdges((list) => [...list, ...pasted.edges]);
    },
    [catalog, pointerFlowPosition, record],
  );

  const duplicate = useCallback(
    (ids: ReadonlySet<string> = selectedIds()) => {
      const fragment = copySelection(graphRef.current, ids);
      if (!fragment) return;
      const first = Object.values(fragment.nodes).reduce(
        (min, n) => ({ x: Math.min(min.x, n.ui?.x ?? 0), y: Math.min(min.y, n.ui?.y ?? 0) }),
        { x: Infinity, y: Infinity },
      );
      paste(fragment, { x: first.x + 40, y: first.y + 40 });
    },
    [paste, selectedIds],
  );

  const removeElements = useCallback(
    (ids: string[]) => {
      record();
      const gone = new Set(ids);
      setNodes((list) => list.filter((n) => !gone.has(n.id)));
      setDecor((list) => list.filter((d) => !gone.has(d.id)));
      setEdges((list) => list.filter((e) => !gone.has(e.id) && !gone.has(e.source) && !gone.has(e.target)));
    },
    [record],
  );

  // ------------------------------------------------------------------ runs

  const focusedRun = runs.focused ? runs.views[runs.focused] : undefined;
  const focusedSummary = runs.list.find((r) => r.id === runs.focused);
  /** The focused run was made from the graph on the canvas: only then are its badges and outputs painted here. */
  const ownRun = focusedRun && runs.graphOf(focusedRun.runId) === identity.graphId ? focusedRun : undefined;
  const activeRun = runs.list.find((r) => r.status === "running") ?? runs.list.find((r) => r.status === "queued");
  // Cancel acts on the run shown when it is going, else on the one running.
  const cancellable =
    focusedRun && (focusedRun.status === "queued" || focusedRun.status === "running") ? focusedRun.runId : (activeRun?.id ?? null);

  const submit = useCallback(
    async (doc: WorkflowDoc, { front = false, count = 1 }: { front?: boolean; count?: number } = {}) => {
      try {
        const overrides = batchOverrides(doc, catalog, count);
        // Run next with a batch: queued last-first at the front, so they still run in order.
        for (const set of front ? [...overrides].reverse() : overrides) {
          const { id } = await api.submit(doc, { graph: identity.graphId, front, ...(Object.keys(set).length ? { overrides: set } : {}) });
          runs.submitted(id, identity.graphId);
        }
        runs.refresh();
      } catch (err) {
        if (err instanceof ApiError && err.details.length) {
          setIssues(err.details);
          setShowIncomplete(true);
          toast(`Cannot run yet: ${err.details.length} problem${err.details.length === 1 ? "" : "s"}, marked on the nodes`, "error");
        } else {
          toast((err as Error).message, "error");
        }
      }
    },
    [api, catalog, identity.graphId, runs, toast],
  );

  const run = useCallback((front = false) => submit(currentDoc(), { front, count: front ? 1 : batch }), [batch, currentDoc, submit]);

  const cancel = useCallback(
    async (id: string | null = cancellable) => {
      if (!id) return;
      try {
        await api.cancel(id);
        runs.refresh();
      } catch (err) {
        toast((err as Error).message, "error");
      }
    },
    [api, cancellable, runs, toast],
  );

  const queueCall = useCallback(
    async (call: () => Promise<unknown>) => {
      try {
        await call();
        runs.refresh();
      } catch (err) {
        toast((err as Error).message, "error");
      }
    },
    [runs, toast],
  );

  /** A past run's own workflow on the canvas (undoable), shown with that run's results. */
  const loadRunWorkflow = useCallback(
    async (id: string) => {
      try {
        const detail = await api.run(id);
        if (!looksLikeWorkflow(detail.workflow)) throw new Error("that run's workflow cannot be read");
        const graph = runs.graphOf(id) ?? crypto.randomUUID?.() ?? `run-${id}`;
        runs.adopt(id, graph);
        openDoc(detail.workflow, `the workflow of ${detail.name ?? "the run"} (${clock(detail.createdAt)})`, graph);
        runs.focus(id);
      } catch (err) {
        toast((err as Error).message, "error");
      }
    },
    [api, openDoc, runs, toast],
  );

  const foreign = useMemo<ForeignRun | null>(() => {
    if (!focusedRun || ownRun) return null;
    return { label: `${focusedSummary?.name ?? "a run"} (${clock(focusedSummary?.createdAt)})`, onLoad: () => void loadRunWorkflow(focusedRun.runId) };
  }, [focusedRun, ownRun, focusedSummary, loadRunWorkflow]);

  const runDisplay = useMemo<RunDisplay>(
    () => ({ nodes: ownRun?.nodes ?? {}, outputs: ownRun?.outputs ?? {}, issues: issuesByNode }),
    [ownRun, issuesByNode],
  );

  const titleOf = useCallback(
    (nodeId: string) => {
      const title = (id: string) => {
        const node = nodes.find((n) => n.id === id);
        return node?.data.title || (node ? (catalog.get(node.data.type)?.title ?? node.data.type) : id);
      };
      return title(nodeId);
    },
    [nodes, catalog],
  );
  titleRef.current = titleOf;

  /** The node whose canvas a lane shows: a sampler, or for a lane rebuilt from an output node, the node feeding it. */
  const laneSource = useCallback(
    (lane: Lane): string => {
      const node = nodes.find((n) => n.id === lane.nodeId);
      const feeder = node && catalog.get(node.data.type)?.output ? edges.find((e) => e.target === lane.nodeId)?.source : undefined;
      return feeder ?? lane.nodeId;
    },
    [nodes, edges, catalog],
  );

  const whyNotEditable = useCallback(
    (lane: Lane): string | null => {
      if (!ownRun) return "This run is of another graph: load its workflow to edit its tokens.";
      if (lane.beam !== undefined) return "A beam's tokens: Pick it first, then edit the picked canvas.";
      const source = graphRef.current.nodes.find((n) => n.id === laneSource(lane));
      if (!source || catalog.get(source.data.type)?.outputs.canvas?.socket !== "CANVAS") return "These tokens come from no node of this graph with a canvas output.";
      return null;
    },
    [ownRun, laneSource, catalog],
  );

  const onTokenAction = useCallback(
    (lane: Lane, action: TokenAction) => {
      const plan = planTokenEdit(graphRef.current, catalog, laneSource(lane), action);
      if (!plan.ok) {
        toast(plan.reason, "error");
        return;
      }
      record();
      setNodes(plan.graph.nodes);
      setEdges(plan.graph.edges);
      const doc = graphToDoc(plan.graph, graphRef.current.meta, flow.getViewport(), graphRef.current.decor);
      void submit(doc);
      // Show where the new nodes went (under the graph), still at a readable zoom.
      if (plan.added.length) {
        const shown = [laneSource(lane), ...plan.added].map((id) => ({ id }));
        setTimeout(() => void flow.fitView({ nodes: shown, padding: 0.1, minZoom: READABLE_ZOOM, maxZoom: 1, duration: 300 }), 80);
      }
      toast(action.kind === "replace" ? "Replacing the selection and regenerating around it" : action.kind === "keep" ? "Keeping the selection, regenerating the rest" : "Regenerating the selection", "info");
    },
    [catalog, flow, laneSource, record, submit, toast],
  );

  // Nodes for React Flow: groups behind, nodes with an error raised above their neighbours so
  // the reason, which makes the node taller, is never drawn under the node below it.
  const flowNodes = useMemo<Node[]>(
    () => [
      ...decor,
      ...nodes.map((n) => {
        const failed = ownRun?.nodes[n.id]?.status === "error" || issuesByNode.has(n.id);
        return failed ? { ...n, zIndex: 20 } : n;
      }),
    ],
    [decor, nodes, ownRun, issuesByNode],
  );

  const styledEdges = useMemo(
    () =>
      edges.map((edge) => ({
        ...edge,
        type: "routed",
        style: { stroke: socketColor(edge.data?.socket), strokeWidth: edge.selected ? 3.5 : 2.25 },
        animated: ownRun?.nodes[edge.target]?.status === "running" || ownRun?.nodes[edge.source]?.status === "running",
      })),
    [edges, ownRun],
  );

  const groupDrag = useGroupDrag(
    useCallback(() => [...graphRef.current.decor, ...graphRef.current.nodes], []),
    useCallback((positions: ReadonlyMap<string, Point>) => {
      setNodes((list) => list.map((n) => (positions.has(n.id) ? { ...n, position: positions.get(n.id)! } : n)));
      setDecor((list) => list.map((d) => (positions.has(d.id) ? { ...d, position: positions.get(d.id)! } : d)));
    }, []),
  );

  // ------------------------------------------------------------------ files

  const save = useCallback(async () => {
    const text = JSON.stringify(currentDoc(), null, 2) + "\n";
    const name = fileNameFor(graphRef.current.meta);
    const bridge = desktop();
    if (bridge) {
      const saved = await bridge.saveWorkflow(text, name);
      if (saved) toast(`Saved ${saved}`, "success");
      return;
    }
    const url = URL.createObjectURL(new Blob([text], { type: "application/json" }));
    const link = document.createElement("a");
    link.href = url;
    link.download = name;
    document.body.appendChild(link);
    link.click();
    link.remove();
    setTimeout(() => URL.revokeObjectURL(url), 1000);
    toast(`Saved ${name}`, "success");
  }, [currentDoc, toast]);

  const open = useCallback(async () => {
    const bridge = desktop();
    if (!bridge) {
      fileInput.current?.click();
      return;
    }
    const file = await bridge.openWorkflow();
    if (file) openText(file.text, file.name);
  }, [openText]);

  const newWorkflow = useCallback(() => {
    record();
    fitRequest.current++;
    setFitting(false);
    setNodes([]);
    setEdges([]);
    setDecor([]);
    setMeta({ name: "untitled" });
    setIssues([]);
    renewGraph();
  }, [renewGraph, record]);

  // ------------------------------------------------------------------ canvas events

  const openSearch = useCallback(
    (clientX: number, clientY: number, pending?: SearchState["pending"]) => {
      const rect = wrapper.current?.getBoundingClientRect();
      if (!rect) return;
      setSearch({
        at: { x: Math.min(clientX - rect.left, rect.width - 330), y: Math.min(clientY - rect.top, rect.height - 360) },
        flowAt: flow.screenToFlowPosition({ x: clientX, y: clientY }),
        pending,
      });
    },
    [flow],
  );

  const onConnectEnd = useCallback(
    (event: MouseEvent | TouchEvent, state: FinalConnectionState) => {
      if (state.isValid || !state.fromHandle || !state.fromNode) return;
      const from = state.fromHandle;
      if (state.toHandle && state.toNode) {
        // Dropped on a handle that does not fit: say why.
        const connection =
          from.type === "source"
            ? { source: from.nodeId, sourceHandle: from.id ?? null, target: state.toNode.id, targetHandle: state.toHandle.id ?? null }
            : { source: state.toNode.id, sourceHandle: state.toHandle.id ?? null, target: from.nodeId, targetHandle: from.id ?? null };
        const check = checkConnection(connection, graphRef.current, catalog);
        if (!check.ok) toast(`Not connected: ${check.reason}`, "error");
        return;
      }
      if (state.toNode) return;
      const fromNode = graphRef.current.nodes.find((n) => n.id === from.nodeId);
      const def = fromNode && catalog.get(fromNode.data.type);
      if (!def || !from.id) return;
      const sockets = from.type === "source" ? [def.outputs[from.id]?.socket].filter(Boolean) : inputSockets(def.inputs[from.id] ?? {});
      const point = "changedTouches" in event ? event.changedTouches[0] : event;
      openSearch(point.clientX, point.clientY, { nodeId: from.nodeId, handleId: from.id, handleType: from.type, sockets: sockets as string[] });
    },
    [catalog, openSearch, toast],
  );

  const pickFromSearch = useCallback(
    (type: string) => {
      if (!search) return;
      const id = addNode(type, search.flowAt);
      const pending = search.pending;
      setSearch(null);
      const def = catalog.get(type);
      if (!id || !pending || !def) return;
      // Connect the dropped link to the new node's first matching socket.
      setTimeout(() => {
        if (pending.handleType === "source") {
          const input = Object.entries(def.inputs).find(([, i]) => pending.sockets.some((s) => acceptsSocket(i, s)));
          if (input) connect({ source: pending.nodeId, sourceHandle: pending.handleId, target: id, targetHandle: input[0] });
        } else {
          const output = Object.entries(def.outputs).find(([, o]) => pending.sockets.includes("*") || pending.sockets.includes(o.socket));
          if (output) connect({ source: id, sourceHandle: output[0], target: pending.nodeId, targetHandle: pending.handleId });
        }
      }, 0);
    },
    [addNode, catalog, connect, search],
  );

  const searchFilter = useMemo(() => {
    const pending = search?.pending;
    if (!pending) return undefined;
    return (entry: NodeCatalogEntry) =>
      pending.handleType === "source"
        ? Object.values(entry.inputs).some((i) => pending.sockets.some((s) => acceptsSocket(i, s)))
        : Object.values(entry.outputs).some((o) => pending.sockets.includes("*") || pending.sockets.includes(o.socket));
  }, [search?.pending]);

  const onDrop = useCallback(
    (event: DragEvent) => {
      event.preventDefault();
      const type = event.dataTransfer.getData(NODE_DRAG_TYPE);
      if (type) {
        addNode(type, flow.screenToFlowPosition({ x: event.clientX, y: event.clientY }));
        return;
      }
      const file = event.dataTransfer.files[0];
      if (file) file.text().then((text) => openText(text, file.name));
    },
    [addNode, flow, openText],
  );

  const onDoubleClick = useCallback(
    (event: ReactMouseEvent) => {
      if ((event.target as HTMLElement).classList.contains("react-flow__pane")) openSearch(event.clientX, event.clientY);
    },
    [openSearch],
  );

  const fit = useCallback(() => flow.fitView({ padding: 0.15, maxZoom: 1 }), [flow]);

  const menus = useCanvasMenus({
    toFlow: (p) => flow.screenToFlowPosition(p),
    search: (p) => openSearch(p.x, p.y),
    addNote: (at) => addDecor("note", at),
    addGroup: (at) => addDecor("group", at),
    canPaste: () => clipboard.current !== null,
    paste: (at) => clipboard.current && paste(clipboard.current, at),
    selectAll: () => setNodes((list) => list.map((n) => ({ ...n, selected: true }))),
    fit,
    targets: (id) => (selectedIds().has(id) ? [...selectedIds()] : [id]),
    rename: (id) => setRenaming(id),
    setMode,
    isMode: (id, mode) => graphRef.current.nodes.find((n) => n.id === id)?.data.mode === mode,
    toggleCollapsed: actions.toggleCollapsed,
    duplicate: (ids) => duplicate(new Set(ids)),
    copy: (ids) => {
      clipboard.current = copySelection(graphRef.current, new Set(ids));
    },
    remove: removeElements,
    renameGroup: (id) => setRenaming(id),
    removeEdge: (id) => removeElements([id]),
    addReroute(id, at) {
      const edge = graphRef.current.edges.find((e) => e.id === id);
      const source = edge && flow.getInternalNode(edge.source);
      const target = edge && flow.getInternalNode(edge.target);
      if (!edge || !source || !target) return;
      const from = { x: source.internals.positionAbsolute.x + (source.measured.width ?? 0), y: source.internals.positionAbsolute.y };
      const to = { x: target.internals.positionAbsolute.x, y: target.internals.positionAbsolute.y };
      record();
      setEdges((list) => list.map((e) => (e.id === id ? { ...e, data: { ...e.data, points: insertPoint(e.data?.points ?? [], from, to, at) } } : e)));
    },
    removeReroute(id, index) {
      record();
      setEdges((list) => list.map((e) => (e.id === id ? { ...e, data: { ...e.data, points: (e.data?.points ?? []).filter((_, i) => i !== index) } } : e)));
    },
  });
  const menusRef = useRef(menus);
  menusRef.current = menus;

  // ------------------------------------------------------------------ keyboard, clipboard, desktop menu

  const commands = useRef<Partial<Record<ShortcutCommand | "cancel" | "new" | "theme", () => void>>>({});
  commands.current = {
    run: () => void run(),
    runNext: () => void run(true),
    cancel: () => void cancel(),
    save: () => void save(),
    open: () => void open(),
    new: newWorkflow,
    // From the desktop menu: inside a text field, undo the typing; elsewhere, the graph edit.
    undo: () => (isEditable(document.activeElement) ? document.execCommand("undo") : undo()),
    redo: () => (isEditable(document.activeElement) ? document.execCommand("redo") : redo()),
    help: () => setHelpOpen((o) => !o),
    theme: toggleTheme,
    fit,
    duplicate: () => duplicate(),
    selectAll: () => setNodes((list) => list.map((n) => ({ ...n, selected: true }))),
    bypass: () => setMode([...selectedIds()], "bypass"),
    mute: () => setMode([...selectedIds()], "mute"),
    copy: () => {
      const fragment = copySelection(graphRef.current, selectedIds());
      if (fragment) clipboard.current = fragment;
    },
    paste: () => {
      // The paste event below carries the system clipboard; if the browser sends none
      // (no permission, headless), fall back to what this tab copied.
      pasteHandled.current = false;
      setTimeout(() => {
        if (!pasteHandled.current && clipboard.current) paste(clipboard.current);
      }, 30);
    },
    search: () => {
      const rect = wrapper.current?.getBoundingClientRect();
      const p = pointer.current ?? (rect ? { x: rect.left + rect.width / 2, y: rect.top + rect.height / 3 } : { x: 0, y: 0 });
      openSearch(p.x, p.y);
    },
    escape: () => {
      setSearch(null);
      setHelpOpen(false);
      menus.close();
    },
  };
  useShortcuts(commands);
  const pasteHandled = useRef(false);

  useEffect(() => {
    const onCopy = (e: ClipboardEvent) => {
      if (isEditable(e.target) || window.getSelection()?.toString()) return;
      const fragment = copySelection(graphRef.current, selectedIds());
      if (!fragment) return;
      clipboard.current = fragment;
      e.clipboardData?.setData("text/plain", JSON.stringify(fragment, null, 2));
      e.preventDefault();
    };
    const onPaste = (e: ClipboardEvent) => {
      if (isEditable(e.target)) return;
      pasteHandled.current = true;
      const fragment = parseClipboard(e.clipboardData?.getData("text/plain") ?? "") ?? clipboard.current;
      if (fragment) {
        e.preventDefault();
        paste(fragment);
      }
    };
    window.addEventListener("copy", onCopy);
    window.addEventListener("paste", onPaste);
    return () => {
      window.removeEventListener("copy", onCopy);
      window.removeEventListener("paste", onPaste);
    };
  }, [paste, selectedIds]);

  useEffect(() => desktop()?.onMenuCommand((command) => commands.current[command as ShortcutCommand]?.()), []);

  // ------------------------------------------------------------------ layout

  const startDockResize = (event: ReactPointerEvent) => {
    const startY = event.clientY;
    const startHeight = dockHeight;
    const move = (e: PointerEvent) => setDockHeight(Math.max(120, Math.min(window.innerHeight - 200, startHeight + startY - e.clientY)));
    const up = () => {
      window.removeEventListener("pointermove", move);
      window.removeEventListener("pointerup", up);
      setDockHeight((h) => {
        localStorage.setItem("maskflow.dock", String(h));
        return h;
      });
    };
    window.addEventListener("pointermove", move);
    window.addEventListener("pointerup", up);
  };

  return (
    <EditorContext.Provider value={editorView}>
      <RunContext.Provider value={runDisplay}>
        <DecorContext.Provider value={decorActions}>
          <RerouteContext.Provider value={rerouteActions}>
            <div className="mf-app" data-ready={ready} data-fitting={fitting} data-graph={identity.graphId}>
              <Toolbar
                name={meta.name ?? ""}
                onRename={(name) => {
                  record("workflow-name");
                  setMeta((m) => ({ ...m, name }));
                }}
                examples={examples}
                onNew={newWorkflow}
                onOpen={() => void open()}
                onSave={() => void save()}
                onExample={(name) => void openExample(name)}
                canUndo={history.current.canUndo}
                canRedo={history.current.canRedo}
                onUndo={undo}
                onRedo={redo}
                connected={runs.connected}
                runStatus={focusedRun?.status}
                onRun={() => void run()}
                onRunNext={() => void run(true)}
                batch={batch}
                onBatch={setBatch}
                canCancel={cancellable !== null}
                onCancel={() => void cancel()}
                theme={theme}
                onTheme={toggleTheme}
                onHelp={() => setHelpOpen(true)}
                paletteOpen={paletteOpen}
                onPalette={() => setPaletteOpen((o) => !o)}
              />
              <div className="mf-main">
                {paletteOpen && <Palette catalog={catalogList} onAdd={(type) => void addNode(type)} />}
                <div
                  className={`mf-canvas${spaceHeld ? " panning" : ""}`}
                  ref={wrapper}
                  onDrop={onDrop}
                  onDragOver={(e) => {
                    e.preventDefault();
                    e.dataTransfer.dropEffect = e.dataTransfer.types.includes(NODE_DRAG_TYPE) ? "copy" : "move";
                  }}
                  onDoubleClick={onDoubleClick}
                  onMouseMove={(e) => {
                    pointer.current = { x: e.clientX, y: e.clientY };
                  }}
                >
                  <ReactFlow<Node, FlowEdge>
                    nodes={flowNodes}
                    edges={styledEdges}
                    nodeTypes={nodeTypes}
                    edgeTypes={edgeTypes}
                    onNodesChange={onNodesChange}
                    onEdgesChange={onEdgesChange}
                    onConnect={connect}
                    onConnectEnd={onConnectEnd}
                    isValidConnection={isValidConnection}
                    onBeforeDelete={async () => {
                      record();
                      return true;
                    }}
                    onNodeDragStart={(_e, node) => {
                      record();
                      groupDrag.start(node);
                    }}
                    onNodeDrag={(_e, node) => groupDrag.during(node)}
                    onNodeDragStop={groupDrag.stop}
                    onPaneContextMenu={menus.onPaneContextMenu}
                    onNodeContextMenu={menus.onNodeContextMenu}
                    onEdgeContextMenu={menus.onEdgeContextMenu}
                    onMoveEnd={scheduleAutosave}
                    deleteKeyCode={["Backspace", "Delete"]}
                    multiSelectionKeyCode={["Meta", "Control"]}
                    selectionKeyCode="Shift"
                    zoomOnDoubleClick={false}
                    nodesDraggable={!spaceHeld}
                    colorMode={theme}
                    minZoom={0.15}
                    maxZoom={2.5}
                    connectionRadius={28}
                    connectionLineStyle={{ strokeWidth: 2.25, stroke: "var(--accent)" }}
                    proOptions={{ hideAttribution: true }}
                  >
                    <Background variant={BackgroundVariant.Dots} gap={22} size={1.3} />
                    <Controls showInteractive={false} />
                    <MiniMap
                      pannable
                      zoomable
                      nodeColor={(n) =>
                        n.type === "maskflow" ? `hsl(${categoryHue(catalog.get((n as FlowNode).data.type)?.category ?? "")} 55% 55%)` : "var(--minimap-decor)"
                      }
                      maskColor="var(--minimap-mask)"
                    />
                  </ReactFlow>
                  {nodes.length === 0 && ready && (
                    <div className="mf-canvas-hint">
                      <p>
                        <strong>Empty canvas.</strong> Double-click or press <kbd>/</kbd> to add a node, right-click for more, drag one from the library,
                        or open an example.
                      </p>
                    </div>
                  )}
                  {workflowIssues.length > 0 && (
                    <div className="mf-banner" role="alert">
                      {workflowIssues.map((issue, i) => (
                        <div key={i}>
                          {issue.nodeId ? `${issue.nodeId}: ` : ""}
                          {issue.message}
                        </div>
                      ))}
                    </div>
                  )}
                  {search && (
                    <NodeSearch
                      catalog={catalogList}
                      at={search.at}
                      filter={searchFilter}
                      hint={search.pending ? `nodes that take ${search.pending.sockets.join(" | ")}` : undefined}
                      onPick={pickFromSearch}
                      onClose={() => setSearch(null)}
                    />
                  )}
                </div>
              </div>
              <div className="mf-dock" style={{ height: dockHeight }}>
                <div className="mf-dock-resize" onPointerDown={startDockResize} title="Drag to resize" />
                <DenoiseView run={focusedRun} titleOf={titleOf} foreign={foreign} whyNotEditable={whyNotEditable} onTokenAction={onTokenAction} />
                <QueuePanel
                  runs={runs.list}
                  focused={runs.focused}
                  onFocus={runs.focus}
                  onCancel={(id) => void cancel(id)}
                  onRunNext={(id) => void queueCall(() => api.runNext(id))}
                  onOpen={(id) => void loadRunWorkflow(id)}
                  onClearQueue={() => void queueCall(() => api.clearQueue())}
                  onClearHistory={() => void queueCall(() => api.clearHistory())}
                />
              </div>
              <input
                ref={fileInput}
                type="file"
                accept=".json,application/json"
                hidden
                data-testid="open-file"
                onChange={async (e) => {
                  const file = e.target.files?.[0];
                  e.target.value = "";
                  if (file) openText(await file.text(), file.name);
                }}
              />
              {helpOpen && <HelpPanel onClose={() => setHelpOpen(false)} />}
              {menus.menu && <ContextMenu menu={menus.menu} onClose={menus.close} />}
              <div className="mf-toasts" aria-live="polite">
                {toasts.map((t) => (
                  <div key={t.id} className={`mf-toast ${t.kind}`} data-testid="toast" data-count={t.count} onClick={() => dismiss(t.id)}>
                    {t.text}
                    {t.count > 1 && <span className="mf-toast-count"> ×{t.count}</span>}
                  </div>
                ))}
              </div>
            </div>
          </RerouteContext.Provider>
        </DecorContext.Provider>
      </RunContext.Provider>
    </EditorContext.Provider>
  );
}

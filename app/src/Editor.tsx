// The editor: canvas, palette, toolbar, denoising view and queue, wired to the engine server.
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
  type FinalConnectionState,
  type NodeChange,
  type NodeTypes,
} from "@xyflow/react";
import {
  useCallback,
  useEffect,
  useMemo,
  useRef,
  useState,
  type DragEvent,
  type MouseEvent as ReactMouseEvent,
  type PointerEvent as ReactPointerEvent,
} from "react";
import { ApiError, type ApiClient } from "./api/client.js";
import type { ExampleSummary, Issue, ModelListing, NodeCatalogEntry, WorkflowDoc } from "./api/types.js";
import { copySelection, parseClipboard, pasteFragment } from "./graph/clipboard.js";
import { checkConnection } from "./graph/connect.js";
import { History } from "./graph/history.js";
import { newNodeId } from "./graph/ids.js";
import { edgeId, type FlowEdge, type FlowNode, type Graph } from "./graph/model.js";
import { inputSockets, socketColor } from "./graph/sockets.js";
import { defaultValues, docToGraph, graphToDoc, looksLikeWorkflow, type WorkflowMeta } from "./graph/workflow.js";
import { desktop } from "./desktop.js";
import { useRuns } from "./hooks/useRuns.js";
import { useTheme } from "./hooks/useTheme.js";
import { useToasts } from "./hooks/useToasts.js";
import { EditorContext, RunContext, type EditorView, type RunDisplay } from "./nodes/context.js";
import { FlowNodeView, categoryHue } from "./nodes/FlowNode.js";
import { DenoiseView } from "./panels/DenoiseView.js";
import { HelpPanel } from "./panels/HelpPanel.js";
import { NODE_DRAG_TYPE, Palette } from "./panels/Palette.js";
import { NodeSearch } from "./panels/NodeSearch.js";
import { QueuePanel } from "./panels/QueuePanel.js";
import { Toolbar } from "./panels/Toolbar.js";

export const AUTOSAVE_KEY = "maskflow.autosave.v1";
const DEFAULT_EXAMPLE = "hello";
/** Issues that only mean "not finished yet": shown after a Run attempt, not while building. */
const INCOMPLETE_CODES = new Set(["missing_input", "no_output_node"]);

const nodeTypes: NodeTypes = { maskflow: FlowNodeView };

interface Snapshot extends Graph {
  meta: WorkflowMeta;
}

interface SearchState {
  at: { x: number; y: number };
  flowAt: { x: number; y: number };
  /** Set when a link was dropped on empty canvas: connect the new node to it. */
  pending?: { nodeId: string; handleId: string; handleType: "source" | "target"; sockets: string[] };
}

function isEditable(target: EventTarget | null): boolean {
  const el = target as HTMLElement | null;
  if (!el || !el.tagName) return false;
  return el.isContentEditable || ["INPUT", "TEXTAREA", "SELECT"].includes(el.tagName);
}

function fileNameFor(meta: WorkflowMeta): string {
  const slug = (meta.name ?? "workflow").toLowerCase().replace(/[^a-z0-9]+/g, "-").replace(/^-|-$/g, "") || "workflow";
  return `${slug}.maskflow.json`;
}

export function Editor({ api, catalogList }: { api: ApiClient; catalogList: NodeCatalogEntry[] }) {
  const flow = useReactFlow<FlowNode, FlowEdge>();
  const catalog = useMemo(() => new Map(catalogList.map((entry) => [entry.type, entry])), [catalogList]);
  const [nodes, setNodes] = useState<FlowNode[]>([]);
  const [edges, setEdges] = useState<FlowEdge[]>([]);
  const [meta, setMeta] = useState<WorkflowMeta>({});
  const [ready, setReady] = useState(false);
  const [fitting, setFitting] = useState(false);
  const fitRequest = useRef(0);
  const graphRef = useRef<Snapshot>({ nodes, edges, meta });
  graphRef.current = { nodes, edges, meta };

  const history = useRef(new History<Snapshot>());
  const [, setHistoryVersion] = useState(0);
  const record = useCallback((mergeKey?: string) => {
    history.current.record(graphRef.current, mergeKey);
    setHistoryVersion((v) => v + 1);
  }, []);

  const { toasts, show: toast, dismiss } = useToasts();
  const { theme, toggle: toggleTheme } = useTheme();
  const runs = useRuns(api);
  const [issues, setIssues] = useState<Issue[]>([]);
  const [showIncomplete, setShowIncomplete] = useState(false);
  const [search, setSearch] = useState<SearchState | null>(null);
  const [helpOpen, setHelpOpen] = useState(false);
  const [paletteOpen, setPaletteOpen] = useState(true);
  const [examples, setExamples] = useState<ExampleSummary[]>([]);
  const [dockHeight, setDockHeight] = useState(() => Number(localStorage.getItem("maskflow.dock")) || 300);
  const wrapper = useRef<HTMLDivElement>(null);
  const fileInput = useRef<HTMLInputElement>(null);
  const pointer = useRef<{ x: number; y: number } | null>(null);
  const clipboard = useRef<WorkflowDoc | null>(null);

  // ------------------------------------------------------------------ documents

  const currentDoc = useCallback(
    (withViewport = true): WorkflowDoc => graphToDoc(graphRef.current, graphRef.current.meta, withViewport ? flow.getViewport() : undefined),
    [flow],
  );

  const showDoc = useCallback(
    (doc: WorkflowDoc) => {
      const graph = docToGraph(doc, catalog);
      setNodes(graph.nodes);
      setEdges(graph.edges);
      setMeta(graph.meta);
      setIssues([]);
      setShowIncomplete(false);
      // Wait for React Flow to measure the nodes before fitting them in view. A graph shown
      // (or cleared) meanwhile cancels this fit, so the view never jumps under the user.
      const request = ++fitRequest.current;
      setFitting(true);
      requestAnimationFrame(() =>
        setTimeout(() => {
          if (request !== fitRequest.current) return;
          if (graph.viewport) flow.setViewport(graph.viewport);
          else flow.fitView({ padding: 0.15, maxZoom: 1 });
          setFitting(false);
        }, 30),
      );
    },
    [catalog, flow],
  );

  /** Replaces the graph (undoable). */
  const openDoc = useCallback(
    (doc: WorkflowDoc, from: string) => {
      record();
      showDoc(doc);
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

  // First load: the autosaved graph, else the hello example.
  useEffect(() => {
    let cancelled = false;
    (async () => {
      const list = await api.examples().catch(() => [] as ExampleSummary[]);
      if (cancelled) return;
      setExamples(list);
      const saved = localStorage.getItem(AUTOSAVE_KEY);
      let doc: WorkflowDoc | null = null;
      if (saved) {
        try {
          const json: unknown = JSON.parse(saved);
          if (looksLikeWorkflow(json)) doc = json;
        } catch {
          // a damaged autosave is ignored
        }
      }
      const wanted = new URLSearchParams(window.location.search).get("example");
      if (wanted || !doc) {
        const name = wanted ?? (list.some((e) => e.name === DEFAULT_EXAMPLE) ? DEFAULT_EXAMPLE : list[0]?.name);
        if (name) doc = await api.example(name).catch(() => doc);
      }
      if (cancelled) return;
      // Something opened meanwhile (a file dropped while loading) wins over the default.
      if (doc && !history.current.canUndo) showDoc(doc);
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
  }, [ready, nodes, edges, meta, scheduleAutosave]);
  useEffect(() => {
    const flush = () => {
      if (ready) localStorage.setItem(AUTOSAVE_KEY, JSON.stringify(currentDoc()));
    };
    window.addEventListener("beforeunload", flush);
    return () => window.removeEventListener("beforeunload", flush);
  }, [ready, currentDoc]);

  // Live validation: the server's checks, a moment after each change to what would run.
  const logicalKey = useMemo(
    () => JSON.stringify({ n: nodes.map((n) => [n.id, n.data.type, n.data.values]), e: edges.map((e) => e.id) }),
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

  const onNodesChange = useCallback((changes: NodeChange<FlowNode>[]) => {
    setNodes((list) => applyNodeChanges(changes, list));
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

  const addNode = useCallback(
    (type: string, position?: { x: number; y: number }): string | null => {
      const def = catalog.get(type);
      if (!def) return null;
      record();
      let at = position;
      if (!at) {
        const rect = wrapper.current?.getBoundingClientRect();
        at = rect ? flow.screenToFlowPosition({ x: rect.left + rect.width / 2 - 120, y: rect.top + rect.height / 3 }) : { x: 0, y: 0 };
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
    [catalog, flow, record],
  );

  const actions = useMemo<EditorView["actions"]>(
    () => ({
      setValue(nodeId, input, value) {
        record(`${nodeId}.${input}`);
        setNodes((list) => list.map((n) => (n.id === nodeId ? { ...n, data: { ...n.data, values: { ...n.data.values, [input]: value } } } : n)));
      },
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
      browseFile: desktop() ? (current) => desktop()!.browseFile(current) : undefined,
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

  const editorView = useMemo<EditorView>(() => ({ catalog, linked, used, actions, suggestions }), [catalog, linked, used, actions, suggestions]);

  const undo = useCallback(() => {
    const previous = history.current.undo(graphRef.current);
    if (!previous) return;
    setNodes(previous.nodes);
    setEdges(previous.edges);
    setMeta(previous.meta);
    setHistoryVersion((v) => v + 1);
  }, []);
  const redo = useCallback(() => {
    const next = history.current.redo(graphRef.current);
    if (!next) return;
    setNodes(next.nodes);
    setEdges(next.edges);
    setMeta(next.meta);
    setHistoryVersion((v) => v + 1);
  }, []);

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

  const duplicate = useCallback(() => {
    const fragment = copySelection(graphRef.current, selectedIds());
    if (!fragment) return;
    const first = Object.values(fragment.nodes).reduce(
      (min, n) => ({ x: Math.min(min.x, n.ui?.x ?? 0), y: Math.min(min.y, n.ui?.y ?? 0) }),
      { x: Infinity, y: Infinity },
    );
    paste(fragment, { x: first.x + 40, y: first.y + 40 });
  }, [paste, selectedIds]);

  // ------------------------------------------------------------------ runs

  const focusedRun = runs.focused ? runs.views[runs.focused] : undefined;
  const activeRun = runs.list.find((r) => r.status === "running") ?? runs.list.find((r) => r.status === "queued");
  const cancellable =
    focusedRun && (focusedRun.status === "queued" || focusedRun.status === "running") ? focusedRun.runId : (activeRun?.id ?? null);

  const run = useCallback(async () => {
    const doc = currentDoc();
    try {
      const { id } = await api.submit(doc);
      runs.submitted(id);
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
  }, [api, currentDoc, runs, toast]);

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

  const runDisplay = useMemo<RunDisplay>(
    () => ({ nodes: focusedRun?.nodes ?? {}, outputs: focusedRun?.outputs ?? {}, issues: issuesByNode }),
    [focusedRun, issuesByNode],
  );

  const styledEdges = useMemo(
    () =>
      edges.map((edge) => ({
        ...edge,
        style: { stroke: socketColor(edge.data?.socket), strokeWidth: edge.selected ? 3.5 : 2.25 },
        animated: focusedRun?.nodes[edge.target]?.status === "running" || focusedRun?.nodes[edge.source]?.status === "running",
      })),
    [edges, focusedRun],
  );

  const titleOf = useCallback(
    (nodeId: string) => {
      const title = (id: string) => {
        const node = nodes.find((n) => n.id === id);
        return node?.data.title || (node ? (catalog.get(node.data.type)?.title ?? node.data.type) : id);
      };
      // A lane rebuilt from an output node's trace is named after the sampler that feeds it.
      const node = nodes.find((n) => n.id === nodeId);
      const feeder = node && catalog.get(node.data.type)?.output ? edges.find((e) => e.target === nodeId)?.source : undefined;
      return feeder ? title(feeder) : title(nodeId);
    },
    [nodes, edges, catalog],
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
    setMeta({ name: "untitled" });
    setIssues([]);
  }, [record]);

  // ------------------------------------------------------------------ canvas events

  const openSearch = useCallback((clientX: number, clientY: number, pending?: SearchState["pending"]) => {
    const rect = wrapper.current?.getBoundingClientRect();
    if (!rect) return;
    setSearch({
      at: { x: Math.min(clientX - rect.left, rect.width - 330), y: Math.min(clientY - rect.top, rect.height - 360) },
      flowAt: flow.screenToFlowPosition({ x: clientX, y: clientY }),
      pending,
    });
  }, [flow]);

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
          const input = Object.entries(def.inputs).find(([, i]) => inputSockets(i).some((s) => pending.sockets.includes(s)));
          if (input) connect({ source: pending.nodeId, sourceHandle: pending.handleId, target: id, targetHandle: input[0] });
        } else {
          const output = Object.entries(def.outputs).find(([, o]) => pending.sockets.includes(o.socket));
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
        ? Object.values(entry.inputs).some((i) => inputSockets(i).some((s) => pending.sockets.includes(s)))
        : Object.values(entry.outputs).some((o) => pending.sockets.includes(o.socket));
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

  // ------------------------------------------------------------------ keyboard, clipboard, desktop menu

  const commands = useRef<Record<string, () => void>>({});
  commands.current = {
    run: () => void run(),
    cancel: () => void cancel(),
    save: () => void save(),
    open: () => void open(),
    new: newWorkflow,
    // From the desktop menu: inside a text field, undo the typing; elsewhere, the graph edit.
    undo: () => (isEditable(document.activeElement) ? document.execCommand("undo") : undo()),
    redo: () => (isEditable(document.activeElement) ? document.execCommand("redo") : redo()),
    help: () => setHelpOpen((o) => !o),
    theme: toggleTheme,
    fit: () => flow.fitView({ padding: 0.15, maxZoom: 1 }),
  };

  useEffect(() => {
    const onKey = (e: KeyboardEvent) => {
      const mod = e.ctrlKey || e.metaKey;
      const key = e.key.toLowerCase();
      if (mod && key === "enter") {
        e.preventDefault();
        commands.current.run();
        return;
      }
      if (mod && key === "s") {
        e.preventDefault();
        commands.current.save();
        return;
      }
      if (mod && key === "o") {
        e.preventDefault();
        commands.current.open();
        return;
      }
      if (e.key === "Escape") {
        setSearch(null);
        setHelpOpen(false);
        return;
      }
      if (isEditable(e.target)) return;
      if (mod && key === "z") {
        e.preventDefault();
        if (e.shiftKey) redo();
        else undo();
      } else if (mod && key === "y") {
        e.preventDefault();
        redo();
      } else if (mod && key === "d") {
        e.preventDefault();
        duplicate();
      } else if (mod && key === "a") {
        e.preventDefault();
        setNodes((list) => list.map((n) => ({ ...n, selected: true })));
      } else if (mod && key === "c") {
        const fragment = copySelection(graphRef.current, selectedIds());
        if (fragment) clipboard.current = fragment;
      } else if (mod && key === "v") {
        // The paste event below carries the system clipboard; if the browser sends none
        // (no permission, headless), fall back to what this tab copied.
        pasteHandled.current = false;
        setTimeout(() => {
          if (!pasteHandled.current && clipboard.current) paste(clipboard.current);
        }, 30);
      } else if (!mod && !e.altKey && (e.key === "/" || e.key === "?")) {
        e.preventDefault();
        if (e.key === "?") commands.current.help();
        else {
          const rect = wrapper.current?.getBoundingClientRect();
          const p = pointer.current ?? (rect ? { x: rect.left + rect.width / 2, y: rect.top + rect.height / 3 } : { x: 0, y: 0 });
          openSearch(p.x, p.y);
        }
      } else if (!mod && !e.altKey && key === "f") {
        commands.current.fit();
      }
    };
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
    window.addEventListener("keydown", onKey);
    window.addEventListener("copy", onCopy);
    window.addEventListener("paste", onPaste);
    return () => {
      window.removeEventListener("keydown", onKey);
      window.removeEventListener("copy", onCopy);
      window.removeEventListener("paste", onPaste);
    };
  }, [duplicate, openSearch, paste, selectedIds, undo, redo]);
  const pasteHandled = useRef(false);

  useEffect(() => desktop()?.onMenuCommand((command) => commands.current[command]?.()), []);

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
        <div className="mf-app" data-ready={ready} data-fitting={fitting}>
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
              className="mf-canvas"
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
              <ReactFlow<FlowNode, FlowEdge>
                nodes={nodes}
                edges={styledEdges}
                nodeTypes={nodeTypes}
                onNodesChange={onNodesChange}
                onEdgesChange={onEdgesChange}
                onConnect={connect}
                onConnectEnd={onConnectEnd}
                isValidConnection={isValidConnection}
                onBeforeDelete={async () => {
                  record();
                  return true;
                }}
                onNodeDragStart={() => record()}
                onMoveEnd={scheduleAutosave}
                deleteKeyCode={["Backspace", "Delete"]}
                multiSelectionKeyCode={["Meta", "Control"]}
                selectionKeyCode="Shift"
                zoomOnDoubleClick={false}
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
                  nodeColor={(n) => `hsl(${categoryHue(catalog.get((n as FlowNode).data.type)?.category ?? "")} 55% 55%)`}
                  maskColor="var(--minimap-mask)"
                />
              </ReactFlow>
              {nodes.length === 0 && ready && (
                <div className="mf-canvas-hint">
                  <p>
                    <strong>Empty canvas.</strong> Double-click or press <kbd>/</kbd> to add a node, drag one from the library, or
                    open an example.
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
            <DenoiseView run={focusedRun} titleOf={titleOf} />
            <QueuePanel runs={runs.list} focused={runs.focused} onFocus={runs.focus} onCancel={(id) => void cancel(id)} />
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
          <div className="mf-toasts" aria-live="polite">
            {toasts.map((t) => (
              <div key={t.id} className={`mf-toast ${t.kind}`} data-testid="toast" onClick={() => dismiss(t.id)}>
                {t.text}
              </div>
            ))}
          </div>
        </div>
      </RunContext.Provider>
    </EditorContext.Provider>
  );
}

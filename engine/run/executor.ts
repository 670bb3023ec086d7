// Runs a compiled workflow. Semantics learned from ComfyUI: only nodes that feed an output node
// run; each node's outputs are cached under a structural key (type, version, constant inputs,
// upstream keys, file content fingerprints), so changing a downstream input reuses upstream
// results, and a cache hit shows again what the node showed when it ran (replay.ts);
// cancellation is cooperative; a failing node is named and only its dependants skip.
import { createHash, randomUUID } from "node:crypto";
import { fingerprint } from "../paths.js";
import type { NodeRegistry } from "../registry.js";
import type { ExecuteContext, NodeOutputs, RunEvent, RunEventListener } from "../types.js";
import { compileWorkflow, type CompiledNode } from "../workflow/compile.js";
import { WorkflowError } from "../workflow/issues.js";
import { applyOverrides } from "../workflow/overrides.js";
import { isLink, type WorkflowDoc } from "../workflow/schema.js";
import { NodeError, NodeInputError, isAbort } from "./errors.js";
import { ReplayLog } from "./replay.js";

export interface RunOptions {
  runId?: string;
  signal?: AbortSignal;
  onEvent?: RunEventListener;
  /** `{"<nodeId>.<input>": value}`, applied before validation. */
  overrides?: Record<string, unknown>;
}

export interface RunStats {
  ms: number;
  executed: number;
  cached: number;
  nodes: Record<string, { ms: number; cached: boolean }>;
}

export interface RunWarning {
  nodeId: string;
  message: string;
}

export interface RunResult {
  runId: string;
  status: "finished" | "failed" | "cancelled";
  /** Output node id -> what it returned (JSON). */
  outputs: Record<string, unknown>;
  error?: { nodeId: string | null; input: string | null; message: string };
  /** What nodes warned about (ctx.log.warn), cached nodes included: a run can finish and still have done nothing useful. */
  warnings: RunWarning[];
  stats: RunStats;
}

interface CacheEntry {
  outputs: Promise<NodeOutputs>;
  lastUsed: number;
  /** What the node showed while computing these outputs, shown again on a hit. */
  replay: ReplayLog;
}

export class Executor {
  private readonly cache = new Map<string, CacheEntry>();
  private clock = 0;

  constructor(
    readonly registry: NodeRegistry,
    private readonly maxCacheEntries = 256,
  ) {}

  /** Validates (throwing WorkflowError with every issue), then runs. Never throws for node failures. */
  async run(input: WorkflowDoc, options: RunOptions = {}): Promise<RunResult> {
    const runId = options.runId ?? randomUUID();
    const emit = (event: RunEvent): void => options.onEvent?.(event);
    const { doc, issues } = applyOverrides(input, options.overrides ?? {});
    if (issues.length) throw new WorkflowError(issues);
    const graph = compileWorkflow(doc, this.registry);
    const signal = options.signal ?? new AbortController().signal;
    const started = performance.now();
    const stats: RunStats = { ms: 0, executed: 0, cached: 0, nodes: {} };
    const outputs: Record<string, unknown> = {};
    const values = new Map<string, NodeOutputs>();
    const keys = new Map<string, string>();
    const failed = new Set<string>();
    const warnings: RunWarning[] = [];
    let error: RunResult["error"];
    const finish = (status: RunResult["status"]): RunResult => {
      stats.ms = Math.round(performance.now() - started);
      if (status === "finished") emit({ type: "run_finished", runId, ms: stats.ms, outputs });
      return { runId, status, outputs, error, warnings, stats };
    };
    const observe = (event: RunEvent): void => {
      if (event.type === "warning") warnings.push({ nodeId: event.nodeId, message: event.message });
      emit(event);
    };

    emit({ type: "run_started", runId, nodes: graph.order.map((n) => n.id) });
    for (const { nodeId, because } of graph.skipped) emit({ type: "node_skipped", runId, nodeId, because });
    for (const node of graph.order) {
      if (signal.aborted) {
        emit({ type: "cancelled", runId, nodeId: null });
        return finish("cancelled");
      }
      const upstream = Object.values(node.inputs).filter(isLink).map((l) => l.from);
      const blocked = upstream.find((id) => failed.has(id));
      if (blocked !== undefined) {
        failed.add(node.id);
        emit({ type: "node_skipped", runId, nodeId: node.id, because: `${blocked} failed` });
        continue;
      }
      const key = this.key(node, keys);
      keys.set(node.id, key);
      const t0 = performance.now();
      const hit = node.def.volatile ? undefined : this.cache.get(key);
      let result: NodeOutputs;
      try {
        if (hit) {
          hit.lastUsed = ++this.clock;
          result = await hit.outputs;
          emit({ type: "node_cached", runId, nodeId: node.id, nodeType: node.def.type });
          for (const e of hit.replay.list) observe({ ...e, runId, nodeId: node.id, replayed: true });
          stats.cached++;
        } else {
          emit({ type: "node_started", runId, nodeId: node.id, nodeType: node.def.type });
          const replay = new ReplayLog();
          const pending = this.execute(node, values, runId, signal, observe, replay);
          if (!node.def.volatile) this.store(key, pending, replay);
          result = await pending;
          stats.executed++;
        }
      } catch (err) {
        this.cache.delete(key);
        if (isAbort(err, signal)) {
          emit({ type: "cancelled", runId, nodeId: node.id });
          return finish("cancelled");
        }
        const input = err instanceof NodeInputError ? err.input : err instanceof NodeError ? err.input : null;
        const message = err instanceof Error ? err.message : String(err);
        failed.add(node.id);
        error ??= { nodeId: node.id, input, message };
        emit({ type: "failed", runId, nodeId: node.id, input, message });
        continue;
      }
      const ms = Math.round(performance.now() - t0);
      stats.nodes[node.id] = { ms, cached: Boolean(hit) };
      values.set(node.id, result);
      if (node.def.output) outputs[node.id] = result;
      emit({ type: "node_finished", runId, nodeId: node.id, nodeType: node.def.type, ms, output: node.def.output ? result : undefined });
    }
    return finish(error ? "failed" : "finished");
  }

  /** Forget every cached output (models included). */
  clearCache(): void {
    for (const entry of this.cache.values()) void entry.outputs.then(dispose, () => undefined);
    this.cache.clear();
  }

  private async execute(
    node: CompiledNode,
    values: Map<string, NodeOutputs>,
    runId: string,
    signal: AbortSignal,
    emit: (e: RunEvent) => void,
    replay: ReplayLog,
  ): Promise<NodeOutputs> {
    const inputs: Record<string, unknown> = {};
    for (const [name, input] of Object.entries(node.inputs)) {
      if (isLink(input)) {
        const value = values.get(input.from)?.[input.output];
        if (value === undefined) throw new NodeError(node.id, name, `${input.from} produced no "${input.output}" output`);
        inputs[name] = value;
      } else inputs[name] = input.value;
    }
    const ctx: ExecuteContext = {
      nodeId: node.id,
      signal,
      progress: (u) => {
        if (u.canvas) replay.add({ type: "progress", step: u.step, total: u.total, canvas: u.canvas, ...(u.label ? { label: u.label } : {}) });
        emit({ type: "progress", runId, nodeId: node.id, ...u });
      },
      log: {
        info: (m) => emit({ type: "progress", runId, nodeId: node.id, step: 0, total: 0, label: m }),
        warn: (m) => {
          replay.add({ type: "warning", message: m });
          emit({ type: "warning", runId, nodeId: node.id, message: m });
        },
      },
      fail: (input, message) => {
        throw new NodeInputError(input, message);
      },
    };
    return await node.def.execute(inputs, ctx);
  }

  /** Structural key: type and version, constant inputs (files by content), upstream keys. */
  private key(node: CompiledNode, keys: Map<string, string>): string {
    const parts = Object.keys(node.inputs)
      .sort()
      .map((name) => {
        const input = node.inputs[name];
        if (isLink(input)) return [name, "link", keys.get(input.from), input.output];
        const file = node.def.inputs[name].file && typeof input.value === "string" ? fingerprint(input.value) : null;
        return [name, "value", input.value, file];
      });
    return createHash("sha256")
      .update(JSON.stringify([node.def.type, node.def.version, parts]))
      .digest("hex");
  }

  private store(key: string, outputs: Promise<NodeOutputs>, replay: ReplayLog): void {
    this.cache.set(key, { outputs, lastUsed: ++this.clock, replay });
    if (this.cache.size <= this.maxCacheEntries) return;
    let oldest: string | undefined;
    let oldestUse = Infinity;
    for (const [k, e] of this.cache) if (e.lastUsed < oldestUse) [oldest, oldestUse] = [k, e.lastUsed];
    if (oldest === undefined) return;
    const evicted = this.cache.get(oldest)!;
    this.cache.delete(oldest);
    void evicted.outputs.then(dispose, () => undefined);
  }
}

/** Outputs that hold resources (a model's ONNX session) release them when evicted. */
function dispose(outputs: NodeOutputs): void {
  for (const value of Object.values(outputs)) {
    const d = (value as { dispose?: () => unknown } | null)?.dispose;
    if (typeof d === "function") void d.call(value);
  }
}

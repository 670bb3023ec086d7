// Runs a compiled workflow. Semantics learned from ComfyUI: only nodes that feed an output node
// run; each node's outputs are cached under a structural key (type, version, constant inputs,
// upstream keys, file content fingerprints), so changing a downstream input reuses upstream
// results, and a cache hit shows again what the node showed when it ran (replay.ts);
// cancellation is cooperative; a failing node is named and only its dependants skip.
// Everything a workflow controls is bounded (engine/limits.ts): the size of each value and of a
// run's outputs, the cache's bytes and loaded models, the fingerprint walk, and (served) the
// folders files are read from.
import { createHash, randomUUID } from "node:crypto";
import { PathRefused, nodeFiles, unrestrictedFiles, type FileAccess } from "../files/access.js";
import { fingerprint, FingerprintError } from "../files/fingerprint.js";
import { DEFAULT_LIMITS, formatBytes, limitHint, type Limits } from "../limits.js";
import type { NodeRegistry } from "../registry.js";
import type { ExecuteContext, NodeDefinition, NodeOutputs, RunEvent, RunEventListener } from "../types.js";
import { compileWorkflow, type CompiledNode } from "../workflow/compile.js";
import { WorkflowError } from "../workflow/issues.js";
import { applyOverrides } from "../workflow/overrides.js";
import { isLink, type WorkflowDoc } from "../workflow/schema.js";
import { OutputCache, dispose, type CacheEntry } from "./cache.js";
import { NodeError, NodeInputError, isAbort } from "./errors.js";
import { ReplayLog } from "./replay.js";
import { measureValue } from "./value-size.js";

export interface ExecutorOptions {
  /** Limits in force (missing ones: DEFAULT_LIMITS); the CLI and server resolve them from flags and MASKFLOW_LIMITS. */
  limits?: Partial<Limits>;
  /** Which files nodes may read (default: any, as the CLI); a served instance confines them. */
  files?: FileAccess;
}

export interface RunOptions {
  runId?: string;
  signal?: AbortSignal;
  onEvent?: RunEventListener;
  /** `{"<nodeId>.<input>": value}`, applied before validation. */
  overrides?: Record<string, unknown>;
  /** Nodes whose outputs the result also carries, beside the output nodes' (a sweep's metric node). */
  capture?: readonly string[];
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

/** Warnings a run's result lists; the events carry every one. A node that warns per step must not grow the result without bound. */
export const MAX_RUN_WARNINGS = 100;

export interface RunResult {
  runId: string;
  status: "finished" | "failed" | "cancelled";
  /** Output node id -> what it returned (JSON). */
  outputs: Record<string, unknown>;
  error?: { nodeId: string | null; input: string | null; message: string };
  /**
   * What nodes warned about (ctx.log.warn), cached nodes included: a run can finish and still have
   * done nothing useful. The first MAX_RUN_WARNINGS of them.
   */
  warnings: RunWarning[];
  stats: RunStats;
}

/** Whether a node type gives a model (its outputs hold an ONNX session and a worker thread). */
function givesModel(def: NodeDefinition): boolean {
  return Object.values(def.outputs).some((o) => o.socket === "MODEL");
}

export class Executor {
  readonly limits: Limits;
  private readonly cache: OutputCache;
  private readonly files: FileAccess;

  constructor(
    readonly registry: NodeRegistry,
    options: ExecutorOptions = {},
  ) {
    this.limits = { ...DEFAULT_LIMITS, ...options.limits };
    this.cache = new OutputCache(this.limits);
    this.files = options.files ?? unrestrictedFiles;
  }

  /** What the cache holds now (entries, bytes, models). */
  cacheStats(): { entries: number; bytes: number; models: number } {
    return this.cache.stats();
  }

  /** Validates (throwing WorkflowError with every issue), then runs. Never throws for node failures. */
  async run(input: WorkflowDoc, options: RunOptions = {}): Promise<RunResult> {
    const runId = options.runId ?? randomUUID();
    const emit = (event: RunEvent): void => options.onEvent?.(event);
    const { doc, issues } = applyOverrides(input, options.overrides ?? {}, this.limits);
    if (issues.length) throw new WorkflowError(issues);
    const graph = compileWorkflow(doc, this.registry, { files: this.files, limits: this.limits });
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
      if (event.type === "warning" && warnings.length < MAX_RUN_WARNINGS) warnings.push({ nodeId: event.nodeId, message: event.message });
      emit(event);
    };

    emit({ type: "run_started", runId, nodes: graph.order.map((n) => n.id) });
    for (const { nodeId, because } of graph.skipped) emit({ type: "node_skipped", runId, nodeId, because });
    // Entries this run uses stay loaded until it ends.
    const pinned: CacheEntry[] = [];
    let outputBytes = 0;
    try {
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
        const t0 = performance.now();
        let key: string | undefined;
        let hit: CacheEntry | undefined;
        let result: NodeOutputs;
        try {
          key = await this.key(node, keys);
          keys.set(node.id, key);
          hit = node.def.volatile ? undefined : this.cache.get(key);
          if (hit) {
            this.cache.pin(hit);
            pinned.push(hit);
            result = await hit.outputs;
            emit({ type: "node_cached", runId, nodeId: node.id, nodeType: node.def.type });
            for (const e of hit.replay?.list ?? []) observe({ ...e, runId, nodeId: node.id, replayed: true });
            stats.cached++;
          } else {
            const model = givesModel(node.def);
            if (model && !this.cache.roomForModel()) {
              throw new NodeError(node.id, null, `this run needs more than ${this.limits.maxModels} models loaded at once (${limitHint("maxModels", this.limits)})`);
            }
            emit({ type: "node_started", runId, nodeId: node.id, nodeType: node.def.type });
            const replay = new ReplayLog();
            const pending = this.execute(node, values, runId, signal, observe, replay, options.onEvent !== undefined);
            const entry = node.def.volatile ? null : this.cache.put(key, pending, model ? 1 : 0, replay);
            if (entry) pinned.push(entry);
            result = await pending;
            const size = this.checkSize(node.id, result);
            // What the replay log keeps is held by the cache too.
            if (entry) this.cache.settle(entry, { ...size, held: size.held + replay.bytes });
            stats.executed++;
          }
          if (node.def.output) {
            outputBytes += measureValue(result, this.limits.maxRunOutputBytes).data;
            if (outputBytes > this.limits.maxRunOutputBytes) {
              throw new NodeError(node.id, null, `the run's outputs pass ${formatBytes(this.limits.maxRunOutputBytes)} (${limitHint("maxRunOutputBytes", this.limits)})`);
            }
          }
        } catch (err) {
          if (key !== undefined && !hit) this.cache.remove(key);
          if (isAbort(err, signal)) {
            emit({ type: "cancelled", runId, nodeId: node.id });
            return finish("cancelled");
          }
          const input = err instanceof NodeInputError ? err.input : err instanceof NodeError ? err.input : null;
          const message = this.files.redact(err instanceof Error ? err.message : String(err));
          failed.add(node.id);
          error ??= { nodeId: node.id, input, message };
          emit({ type: "failed", runId, nodeId: node.id, input, message });
          continue;
        }
        const ms = Math.round(performance.now() - t0);
        stats.nodes[node.id] = { ms, cached: Boolean(hit) };
        values.set(node.id, result);
        if (node.def.output || options.capture?.includes(node.id)) outputs[node.id] = result;
        emit({ type: "node_finished", runId, nodeId: node.id, nodeType: node.def.type, ms, output: node.def.output ? result : undefined });
      }
      return finish(error ? "failed" : "finished");
    } finally {
      for (const entry of pinned) this.cache.unpin(entry);
      this.cache.evict();
    }
  }

  /**
   * Refuses outputs bigger than maxValueBytes (each output on its own), disposing what they hold;
   * returns their size for the cache.
   */
  private checkSize(nodeId: string, result: NodeOutputs): ReturnType<typeof measureValue> {
    const total = { data: 0, held: 0, resources: 0 };
    for (const [name, value] of Object.entries(result ?? {})) {
      const size = measureValue(value, this.limits.maxValueBytes);
      if (size.data > this.limits.maxValueBytes) {
        dispose(result);
        throw new NodeError(nodeId, null, `output "${name}" is more than ${formatBytes(this.limits.maxValueBytes)} (${limitHint("maxValueBytes", this.limits)})`);
      }
      total.data += size.data;
      total.held += size.held;
      total.resources += size.resources;
    }
    return total;
  }

  /** Forget every cached output (models included). */
  clearCache(): void {
    this.cache.clear();
  }

  private async execute(
    node: CompiledNode,
    values: Map<string, NodeOutputs>,
    runId: string,
    signal: AbortSignal,
    emit: (e: RunEvent) => void,
    replay: ReplayLog,
    watched: boolean,
  ): Promise<NodeOutputs> {
    const inputs: Record<string, unknown> = {};
    for (const [name, input] of Object.entries(node.inputs)) {
      if (isLink(input)) {
        const value = values.get(input.from)?.[input.output];
        if (value === undefined) throw new NodeError(node.id, name, `${input.from} produced no "${input.output}" output`);
        inputs[name] = value;
      } else inputs[name] = input.value;
    }
    const redact = (m: string) => this.files.redact(m);
    const ctx: ExecuteContext = {
      nodeId: node.id,
      signal,
      progress: (u) => {
        if (u.canvas) replay.add({ type: "progress", step: u.step, total: u.total, canvas: u.canvas, ...(u.label ? { label: u.label } : {}) });
        emit({ type: "progress", runId, nodeId: node.id, ...u });
      },
      log: {
        info: (m) => emit({ type: "progress", runId, nodeId: node.id, step: 0, total: 0, label: redact(m) }),
        warn: (m) => {
          const message = redact(m);
          replay.add({ type: "warning", message });
          emit({ type: "warning", runId, nodeId: node.id, message });
        },
      },
      fail: (input, message) => {
        throw new NodeInputError(input, message);
      },
      files: nodeFiles(this.files),
      watched,
    };
    return await node.def.execute(inputs, ctx);
  }

  /** Structural key: type and version, constant inputs (files by content), upstream keys. */
  private async key(node: CompiledNode, keys: Map<string, string>): Promise<string> {
    const parts: unknown[] = [];
    for (const name of Object.keys(node.inputs).sort()) {
      const input = node.inputs[name];
      if (isLink(input)) {
        parts.push([name, "link", keys.get(input.from), input.output]);
        continue;
      }
      const file = node.def.inputs[name].file && typeof input.value === "string" ? await this.fileKey(name, input.value) : null;
      parts.push([name, "value", input.value, file]);
    }
    return createHash("sha256")
      .update(JSON.stringify([node.def.type, node.def.version, parts]))
      .digest("hex");
  }

  /** The fingerprint of the file an input names: confined and bounded; refusals name the input. */
  private async fileKey(input: string, path: string): Promise<string> {
    let abs: string;
    try {
      abs = await this.files.resolve(path);
    } catch (err) {
      if (err instanceof PathRefused) throw new NodeInputError(input, err.message);
      throw err;
    }
    try {
      return await fingerprint(abs, this.limits, (p) => this.files.redact(p));
    } catch (err) {
      if (err instanceof FingerprintError) {
        const hint = err.limit ? ` (${limitHint(err.limit, this.limits)})` : "";
        throw new NodeInputError(input, err.message + hint);
      }
      throw err;
    }
  }
}

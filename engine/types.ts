// The contracts every part of Maskflow shares: socket types, node definitions, the
// execution context handed to a node, and the typed event stream (DESIGN.md, contracts 2-5).

/** Named socket types. A link between different types is refused by the editor and the compiler. */
export const SOCKET_TYPES = ["MODEL", "TEXT", "SCHEDULE", "CANVAS", "CANVASES", "NUMBER"] as const;
export type SocketType = (typeof SOCKET_TYPES)[number];

/** An input that takes a link from an output of any socket type (Show Text shows whatever it gets). */
export const ANY_SOCKET = "*";

/** Widget kinds an input can ask the editor for. */
export type Widget = "number" | "slider" | "select" | "toggle" | "text" | "textarea" | "file" | "seed";

/** A constant input's JSON type. Link-only inputs (sockets) have `socket` set instead. */
export type ValueKind = "string" | "number" | "integer" | "boolean";

export interface InputDef {
  /** Link input of this socket type (or one of these types, or "*": any). Absent for widget-only inputs. */
  socket?: SocketType | SocketType[] | typeof ANY_SOCKET;
  /** JSON type of a constant value. Absent for link-only inputs. */
  kind?: ValueKind;
  widget?: Widget;
  default?: unknown;
  min?: number;
  max?: number;
  step?: number;
  options?: readonly string[];
  optional?: boolean;
  description?: string;
  /** This input names a file whose content is hashed into the cache key. */
  file?: boolean;
  /** A knob most runs leave alone: the editor folds it away until asked. */
  advanced?: boolean;
  /** The editor offers a list to pick from ("models": the model folders GET /api/models finds); free text stays allowed. */
  suggest?: "models";
}

export interface OutputDef {
  socket: SocketType;
  description?: string;
}

export interface Logger {
  info(message: string): void;
  warn(message: string): void;
}

export interface ProgressUpdate {
  step: number;
  total: number;
  /** What a denoising step produced; the editor animates it. */
  canvas?: CanvasSnapshot;
  label?: string;
}

/**
 * What a node can say before anything runs (InspectInputs -> InspectResult): facts about its
 * outputs that downstream nodes can check their own inputs against, e.g. Load Model reads the
 * model's max_length from its folder and Denoise checks prompt plus gen_length against it.
 */
export interface InspectInputs {
  /** Constant inputs, defaults filled in. */
  values: Record<string, unknown>;
  /** For each linked input, what the upstream node's inspect() said about that output (undefined: unknown). */
  upstream: Record<string, unknown>;
  /** The files inspect() may read: confined like ExecuteContext.files when served. */
  files: InspectFiles;
}

/**
 * ExecuteContext.files for a static check (synchronous). A served instance validates workflows
 * that anyone with access sends: inspect() reads only what a run of the same workflow could.
 */
export interface InspectFiles {
  /** The absolute path a node's input names, or null where it may not be read (or is not there). */
  resolve(path: string): string | null;
  /** Real folders every file read must stay inside (a symlink may not lead out); null: anywhere. */
  readonly roots: readonly string[] | null;
}

export interface InspectResult {
  /** Output name -> a fact about it (any value; only nodes that know its shape read it). */
  outputs?: Record<string, unknown>;
  /** Problems found with this node's inputs (reported like any validation issue). */
  issues?: { input: string | null; message: string }[];
}

/**
 * The files a node may read. The CLI may read anywhere; a served instance only inside its model
 * roots (engine/files/access.ts), so nodes resolve every path an input names through this.
 */
export interface NodeFiles {
  /** The absolute path an input names; a refused path throws a NodeInputError naming `input`. */
  resolve(input: string, path: string): Promise<string>;
  /** Real folders every file read must stay inside (a symlink may not lead out); null: anywhere. */
  readonly roots: readonly string[] | null;
}

export interface ExecuteContext {
  nodeId: string;
  signal: AbortSignal;
  progress(update: ProgressUpdate): void;
  log: Logger;
  /** Throws a NodeInputError naming this node and input. */
  fail(input: string | null, message: string): never;
  files: NodeFiles;
  /**
   * Whether anyone receives this run's progress events (the editor, a progress bar); a node may
   * skip work done only for them (Denoise's candidates). Absent: as if watched.
   */
  watched?: boolean;
}

export type NodeInputs = Record<string, unknown>;
export type NodeOutputs = Record<string, unknown>;

export interface NodeDefinition {
  type: string;
  /** Bumped when a node's behaviour changes, so cached outputs of the old version are not reused. */
  version: number;
  title: string;
  category: string;
  description: string;
  inputs: Record<string, InputDef>;
  outputs: Record<string, OutputDef>;
  /** Output nodes are the roots of a run: only nodes that feed one execute. */
  output?: boolean;
  /** Never cached (e.g. a node that reads the clock). Seeds are inputs, so samplers are cacheable. */
  volatile?: boolean;
  execute(inputs: NodeInputs, ctx: ExecuteContext): Promise<NodeOutputs> | NodeOutputs;
  /** Optional static check, run while validating (cheap, synchronous, best effort: it may return nothing). */
  inspect?(inputs: InspectInputs): InspectResult | undefined;
}

/** Where a node type that is not built in comes from: a node package (engine/plugins). */
export interface NodeSource {
  /** The package's name (its package.json "name", else its folder or file name). */
  package: string;
  /** The package's folder (or file), absolute. */
  path: string;
}

/**
 * The serialisable part of a definition: what `maskflow nodes --json` and `GET /api/nodes` return.
 * `source` is set for nodes from a package and absent for built-in ones.
 */
export type NodeCatalogEntry = Omit<NodeDefinition, "execute" | "inspect"> & { source?: NodeSource };

/** How a node takes part in a run (the workflow's `mode`, ComfyUI's bypass and mute). */
export type NodeMode = "bypass" | "mute";

/** A CANVAS as it stands after a step, small enough to send per step. */
export interface CanvasSnapshot {
  step: number;
  /** Token ids of the generated region (prompt excluded). */
  tokens: number[];
  /** Token strings, `null` where still masked. */
  pieces: (string | null)[];
  /** Confidence of each committed token when it was committed (0 where masked). */
  confidence: number[];
  /** Positions (in the generated region) committed at this step. */
  changed: number[];
  /** Present for beam search: which candidate this snapshot belongs to. */
  beam?: number;
  /**
   * Uniform-noise models (DiffusionGemma): this step of the canvas being settled. `tokens` are the
   * canvases committed so far and this canvas's current argmax; `changed` the positions kept (the
   * others of the canvas were re-drawn at random).
   */
  settling?: {
    canvas: number;
    canvasStart: number;
    canvasLength: number;
    kept: number[];
    /** per position of this canvas, the entropy (nats) of its tempered prediction */
    entropy: number[];
    meanEntropy: number;
    temperature: number;
    /** the stop signals: the argmax repeated the last stability_threshold steps; the mean entropy is under confidence_threshold */
    stable: boolean;
    confident: boolean;
  };
  /** Positions fixed by the user (infill text, replaced tokens): given, not decided by the model. */
  fixed?: number[];
  /**
   * Where this step sits in the canvas's whole history (its trace length): a Denoise that
   * continues a remasked canvas goes on from the steps before it, so lanes line up in time.
   */
  at?: number;
  /** Beam search: the candidate's score so far (what the beams are ranked by), and what kind. */
  score?: number;
  scoreKind?: string;
  /**
   * What the model offered this step at each position it looked at (the block's masked positions):
   * its top candidates with their probabilities (untempered, CFG applied) and the position's
   * entropy (nats; null when the graph's head does not give it). Denoise's `candidates` input.
   */
  candidates?: { position: number; ids: number[]; pieces: string[]; probs: number[]; entropy: number | null }[];
  /** Block-causal decoding: the block this step decoded. */
  block?: number;
  /** LLaDA2.1 editing: positions whose committed token this step replaced, and what they held. */
  edited?: number[];
  previous?: number[];
  previousPieces?: string[];
}

// ---------------------------------------------------------------- events (contract 5)

export type RunEvent =
  | { type: "run_queued"; runId: string; nodes: string[] }
  | { type: "run_started"; runId: string; nodes: string[] }
  | { type: "node_started"; runId: string; nodeId: string; nodeType: string }
  // `replayed`: a cached node's recorded progress and warnings, sent again after node_cached so
  // a cached result shows exactly what the run that computed it showed.
  | { type: "node_cached"; runId: string; nodeId: string; nodeType: string }
  | { type: "progress"; runId: string; nodeId: string; step: number; total: number; label?: string; canvas?: CanvasSnapshot; replayed?: true }
  | { type: "warning"; runId: string; nodeId: string; message: string; replayed?: true }
  | { type: "node_finished"; runId: string; nodeId: string; nodeType: string; ms: number; output?: unknown }
  | { type: "node_skipped"; runId: string; nodeId: string; because: string }
  | { type: "run_finished"; runId: string; ms: number; outputs: Record<string, unknown> }
  | { type: "failed"; runId: string; nodeId: string | null; input?: string | null; message: string }
  | { type: "cancelled"; runId: string; nodeId: string | null };

export type RunEventListener = (event: RunEvent) => void;

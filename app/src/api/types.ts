// What the editor exchanges with the engine server. Node and event types are shared with the
// engine (type-only imports: nothing of the engine ends up in the bundle).
export type {
  CanvasSnapshot,
  InputDef,
  NodeCatalogEntry,
  NodeMode,
  OutputDef,
  RunEvent,
  SocketType,
  ValueKind,
  Widget,
} from "../../../engine/types.js";

import type { NodeMode } from "../../../engine/types.js";
export type { Issue } from "../../../engine/workflow/issues.js";
export type { ModelListing } from "../../../engine/dllm/convert/models.js";
export type { ApiErrorBody, RunDetail, RunError, RunStatus, RunSummary, ServerMessage } from "../../../engine/server/protocol.js";

/** An input is a constant or a link to another node's named output. */
export interface WorkflowLink {
  from: string;
  output: string;
}

export interface WorkflowNodeDoc {
  type: string;
  title?: string;
  mode?: NodeMode;
  inputs: Record<string, unknown>;
  ui?: { x: number; y: number; width?: number; collapsed?: boolean; [key: string]: unknown };
}

/** The `*.maskflow.json` document, version 1: the same file the CLI runs. */
export interface WorkflowDoc {
  $schema?: string;
  version: 1;
  name?: string;
  description?: string;
  nodes: Record<string, WorkflowNodeDoc>;
  ui?: { viewport?: { x: number; y: number; zoom: number }; [key: string]: unknown };
}

export interface ExampleSummary {
  name: string;
  title: string;
  description: string;
}

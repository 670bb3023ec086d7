// What every node component reads besides its own data: the catalog, which inputs are linked,
// the current run's state and the validation issues. Kept in context so node data stays
// exactly what the workflow file stores.
import { createContext, useContext } from "react";
import type { Issue, ModelListing } from "../api/types.js";
import type { NodeRunState } from "../run/runState.js";
import type { Catalog } from "../graph/workflow.js";

export interface EditorActions {
  setValue(nodeId: string, input: string, value: unknown): void;
  setTitle(nodeId: string, title: string): void;
  toggleCollapsed(nodeId: string): void;
  /** The node's title field has closed (EditorView.renaming ends). */
  endRename(): void;
  /** Present in the desktop app: a native file picker for file-path widgets. */
  browseFile?: (current: string) => Promise<string | null>;
}

export interface EditorView {
  catalog: Catalog;
  /** nodeId -> names of its inputs that have a link. */
  linked: ReadonlyMap<string, ReadonlySet<string>>;
  /** nodeId -> names of its outputs that have links (drawn even for node types the catalog lacks). */
  used: ReadonlyMap<string, ReadonlySet<string>>;
  actions: EditorActions;
  /** Lists inputs can offer (InputDef.suggest): the model folders the server finds. */
  suggestions: { models: readonly ModelListing[] };
  /** The node whose title is being edited from its context menu, if any. */
  renaming: string | null;
}

export interface RunDisplay {
  nodes: Record<string, NodeRunState>;
  outputs: Record<string, unknown>;
  /** nodeId -> issues (input null: about the node itself). */
  issues: ReadonlyMap<string, Issue[]>;
}

export const EditorContext = createContext<EditorView | null>(null);
export const RunContext = createContext<RunDisplay>({ nodes: {}, outputs: {}, issues: new Map() });

export function useEditor(): EditorView {
  const view = useContext(EditorContext);
  if (!view) throw new Error("EditorContext is missing");
  return view;
}

export function useRunDisplay(): RunDisplay {
  return useContext(RunContext);
}

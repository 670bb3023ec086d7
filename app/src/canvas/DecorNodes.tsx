// Groups and notes on the canvas (graph/decor.ts). A group is a titled box behind nodes; dragging
// its title bar moves the nodes inside it (useGroupDrag.ts). A note is text for whoever reads
// the graph. Neither runs: they live in the file's `ui`.
import { NodeResizer, type NodeProps } from "@xyflow/react";
import { createContext, memo, useContext, useState } from "react";
import type { GroupNode, NoteNode } from "../graph/decor.js";
import { useEditor } from "../nodes/context.js";

export interface DecorActions {
  setGroupTitle(id: string, title: string): void;
  setNoteText(id: string, text: string): void;
}

export const DecorContext = createContext<DecorActions | null>(null);

function useDecor(): DecorActions {
  const actions = useContext(DecorContext);
  if (!actions) throw new Error("DecorContext is missing");
  return actions;
}

export const GroupNodeView = memo(function GroupNodeView({ id, data, selected }: NodeProps<GroupNode>) {
  const { setGroupTitle } = useDecor();
  const { renaming, actions } = useEditor();
  const [editingHere, setEditingHere] = useState(false);
  // Renamed by a double-click on its title or from its context menu.
  const editing = editingHere || renaming === id;
  const setEditing = (on: boolean) => {
    setEditingHere(on);
    if (!on) actions.endRename();
  };
  return (
    <div className={`mf-group${selected ? " selected" : ""}`} data-testid="group" style={data.color ? { borderColor: data.color } : undefined}>
      <NodeResizer isVisible={selected} minWidth={160} minHeight={100} lineClassName="mf-resize-line" handleClassName="mf-resize-handle" />
      <header className="mf-group-title">
        {editing ? (
          <input
            className="mf-title-edit nodrag"
            aria-label="group title"
            autoFocus
            defaultValue={data.title}
            onFocus={(e) => e.target.select()}
            onBlur={(e) => {
              setGroupTitle(id, e.target.value.trim() || "Group");
              setEditing(false);
            }}
            onKeyDown={(e) => {
              if (e.key === "Enter") (e.target as HTMLInputElement).blur();
              if (e.key === "Escape") setEditing(false);
            }}
          />
        ) : (
          <span onDoubleClick={() => setEditing(true)} title="Drag to move the group and its nodes; double-click to rename">
            {data.title}
          </span>
        )}
      </header>
    </div>
  );
});

export const NoteNodeView = memo(function NoteNodeView({ id, data, selected }: NodeProps<NoteNode>) {
  const { setNoteText } = useDecor();
  return (
    <div className={`mf-note${selected ? " selected" : ""}`} data-testid="note">
      <NodeResizer isVisible={selected} minWidth={140} minHeight={60} lineClassName="mf-resize-line" handleClassName="mf-resize-handle" />
      <header className="mf-note-title">Note</header>
      <textarea
        className="mf-note-text nodrag nowheel"
        aria-label="note"
        placeholder="Write a note…"
        value={data.text}
        onChange={(e) => setNoteText(id, e.target.value)}
      />
    </div>
  );
});

// The keyboard shortcut sheet ("?"). Each entry lists alternative key combinations.
export const SHORTCUTS: [string[], string][] = [
  [["Ctrl+Enter"], "Run the workflow (the batch count says how many runs)"],
  [["Ctrl+Shift+Enter"], "Run it next, ahead of the queue"],
  [["Escape"], "Close a menu, dialog or the search; clear a token selection"],
  [["/", "Double-click canvas"], "Add a node (search)"],
  [["Right-click"], "Menu of the canvas, a node, a link or a reroute point"],
  [["Ctrl+B"], "Bypass the selection (inputs pass through)"],
  [["Ctrl+M"], "Mute the selection (it does not run)"],
  [["Space+Drag"], "Pan, even over nodes"],
  [["Click", "Shift+Click", "Drag"], "Select tokens in the denoising view"],
  [["Drop a link on the canvas"], "Add a node that takes it"],
  [["Ctrl+Z"], "Undo"],
  [["Ctrl+Shift+Z", "Ctrl+Y"], "Redo"],
  [["Ctrl+C", "Ctrl+V"], "Copy, paste nodes"],
  [["Ctrl+D"], "Duplicate the selection"],
  [["Ctrl+A"], "Select every node"],
  [["Delete", "Backspace"], "Delete the selection"],
  [["Shift+Drag"], "Box-select"],
  [["Ctrl+Click"], "Add to the selection"],
  [["Ctrl+S"], "Save the workflow file"],
  [["Ctrl+O"], "Open a workflow file"],
  [["F"], "Fit the graph in view"],
  [["?"], "This help"],
];

function Keys({ combo }: { combo: string }) {
  const parts = combo.split("+");
  return (
    <span className="mf-combo">
      {parts.map((key, i) => (
        <kbd key={i}>{key}</kbd>
      ))}
    </span>
  );
}

export function HelpPanel({ onClose }: { onClose(): void }) {
  return (
    <div className="mf-modal-backdrop" onClick={onClose}>
      <div className="mf-modal" role="dialog" aria-label="Keyboard shortcuts" onClick={(e) => e.stopPropagation()}>
        <header>
          <h2>Keyboard shortcuts</h2>
          <button type="button" className="mf-icon-btn" aria-label="close" onClick={onClose}>
            ✕
          </button>
        </header>
        <table className="mf-shortcuts">
          <tbody>
            {SHORTCUTS.map(([alternatives, what]) => (
              <tr key={what}>
                <td>
                  {alternatives.map((combo, i) => (
                    <span key={combo}>
                      {i > 0 && <span className="mf-or">or</span>}
                      <Keys combo={combo} />
                    </span>
                  ))}
                </td>
                <td>{what}</td>
              </tr>
            ))}
          </tbody>
        </table>
        <p className="mf-help-foot">On macOS, Cmd works wherever Ctrl is listed. Drop a .maskflow.json file anywhere on the canvas to open it.</p>
      </div>
    </div>
  );
}

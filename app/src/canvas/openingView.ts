// Where a graph opens: fitted in view when that keeps its text readable, else at the smallest
// readable zoom with its top-left corner in view (the rest is a pan away). Node text is at least
// 12 px at zoom 1, so READABLE_ZOOM keeps everything at 11 px or more on screen.
export const READABLE_ZOOM = 0.92;
const PADDING = 24;

export interface Bounds {
  x: number;
  y: number;
  width: number;
  height: number;
}

export function openingViewport(bounds: Bounds, view: { width: number; height: number }): { x: number; y: number; zoom: number } {
  const fit = Math.min((view.width - 2 * PADDING) / bounds.width, (view.height - 2 * PADDING) / bounds.height, 1);
  const zoom = Math.max(READABLE_ZOOM, fit);
  const width = bounds.width * zoom;
  const height = bounds.height * zoom;
  // Centred on the axes where it fits; from its left (top) edge where it does not.
  const x = width <= view.width - 2 * PADDING ? (view.width - width) / 2 - bounds.x * zoom : PADDING - bounds.x * zoom;
  const y = height <= view.height - 2 * PADDING ? (view.height - height) / 2 - bounds.y * zoom : PADDING - bounds.y * zoom;
  return { x, y, zoom };
}

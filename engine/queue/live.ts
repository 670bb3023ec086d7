// Live events of an editor's run, from the worker that runs it to the server that shows it,
// over Redis pub/sub. Pub/sub is fire-and-forget (nothing is stored), which suits per-step
// canvases: a late viewer catches up from the server's own log. Outputs can be megabytes, and
// Redis drops a subscriber that falls 32 MB behind, so big outputs are left out of the live
// events; the server takes them from the stored result when the job ends.
import type { RunEvent } from "../types.js";

/** An output larger than this (as JSON) is not sent live. */
export const LIVE_OUTPUT_LIMIT = 256 * 1024;

export interface LiveMessage {
  job: string;
  worker: string;
  event: RunEvent;
}

/** The event as it is published, or null when it is not published (run_finished: see above). */
export function liveEvent(event: RunEvent): RunEvent | null {
  if (event.type === "run_finished") return null;
  if (event.type === "node_finished" && event.output !== undefined && JSON.stringify(event.output).length > LIVE_OUTPUT_LIMIT) {
    return { ...event, output: undefined };
  }
  return event;
}

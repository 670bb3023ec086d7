import cliProgress from "cli-progress";
import type { RunEvent } from "../types.js";

/** A progress bar on stderr (only when it is a TTY): which node runs, and its steps. */
export class RunProgress {
  private bar: cliProgress.SingleBar | null = null;
  private nodesDone = 0;
  private nodesTotal = 0;

  constructor(
    private readonly stream: NodeJS.WriteStream,
    enabled: boolean,
  ) {
    if (!enabled || !stream.isTTY) return;
    this.bar = new cliProgress.SingleBar(
      { stream, format: "{node} |{bar}| {value}/{total} {unit}  node {nodes}", hideCursor: true, clearOnComplete: true },
      cliProgress.Presets.shades_classic,
    );
  }

  onEvent(e: RunEvent): void {
    if (!this.bar) return;
    switch (e.type) {
      case "run_started":
        this.nodesTotal = e.nodes.length;
        this.bar.start(1, 0, { node: "", unit: "", nodes: `0/${this.nodesTotal}` });
        break;
      case "node_started":
        this.bar.setTotal(1);
        this.bar.update(0, { node: e.nodeId, unit: "", nodes: `${this.nodesDone + 1}/${this.nodesTotal}` });
        break;
      case "progress":
        if (e.total > 0) {
          this.bar.setTotal(e.total);
          this.bar.update(e.step, { node: e.nodeId, unit: "steps" });
        }
        break;
      case "node_finished":
      case "node_cached":
      case "node_skipped":
        this.nodesDone++;
        this.bar.update({ nodes: `${this.nodesDone}/${this.nodesTotal}` });
        break;
    }
  }

  stop(): void {
    this.bar?.stop();
    this.bar = null;
  }
}

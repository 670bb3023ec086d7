// HTTP and WebSocket access to the engine server. When the server requires a token, the page is
// opened as `/?token=...`; the token is then kept for this tab and sent with every request.
import type { ApiErrorBody, ExampleSummary, ModelListing, Issue, NodeCatalogEntry, RunDetail, RunEvent, RunSummary, ServerMessage, WorkflowDoc } from "./types.js";

const TOKEN_KEY = "maskflow.token";

function readToken(): string | null {
  const fromUrl = new URLSearchParams(window.location.search).get("token");
  if (fromUrl) {
    sessionStorage.setItem(TOKEN_KEY, fromUrl);
    return fromUrl;
  }
  return sessionStorage.getItem(TOKEN_KEY);
}

/** A failed API call; `details` carries the per-node issues of a rejected workflow. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly details: Issue[] = [],
  ) {
    super(message);
    this.name = "ApiError";
  }
}

export class ApiClient {
  private readonly token = readToken();
  private readonly base = new URL("./", window.location.href);

  private url(path: string): URL {
    return new URL(path.replace(/^\//, ""), this.base);
  }

  private async request<T>(method: string, path: string, body?: unknown): Promise<T> {
    const headers: Record<string, string> = {};
    if (this.token) headers.Authorization = `Bearer ${this.token}`;
    if (body !== undefined) headers["Content-Type"] = "application/json";
    const response = await fetch(this.url(path), {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await response.text();
    const json: unknown = text ? JSON.parse(text) : null;
    if (!response.ok) {
      const err = (json ?? {}) as Partial<ApiErrorBody>;
      throw new ApiError(response.status, err.error ?? `${method} ${path}: HTTP ${response.status}`, err.details ?? []);
    }
    return json as T;
  }

  nodes(): Promise<NodeCatalogEntry[]> {
    return this.request("GET", "/api/nodes");
  }

  /** The model folders the server finds (bundled and in the user's models directory), for Load Model's picker. */
  models(): Promise<ModelListing[]> {
    return this.request("GET", "/api/models");
  }

  examples(): Promise<ExampleSummary[]> {
    return this.request("GET", "/api/workflows");
  }

  example(name: string): Promise<WorkflowDoc> {
    return this.request("GET", `/api/workflows/${encodeURIComponent(name)}`);
  }

  /**
   * Queues a run. `graph` is this editor's id for the graph it comes from (runs of another graph
   * are not painted on this one); `front` runs it next; `overrides` as `maskflow run --set`.
   */
  submit(workflow: WorkflowDoc, options: { graph?: string; front?: boolean; overrides?: Record<string, unknown> } = {}): Promise<{ id: string }> {
    return this.request("POST", "/api/runs", { workflow, ...options });
  }

  /** Moves a queued run ahead of the others. */
  runNext(id: string): Promise<RunSummary[]> {
    return this.request("POST", `/api/runs/${encodeURIComponent(id)}/next`);
  }

  /** Cancels every run still waiting. */
  clearQueue(): Promise<RunSummary[]> {
    return this.request("DELETE", "/api/queue");
  }

  /** Forgets every ended run (on the server's disk too). */
  clearHistory(): Promise<{ removed: number }> {
    return this.request("DELETE", "/api/runs");
  }

  /** Every problem the engine finds in a workflow ([] when it would run). */
  async validate(workflow: WorkflowDoc): Promise<Issue[]> {
    const result = await this.request<{ issues: Issue[] }>("POST", "/api/validate", { workflow });
    return result.issues;
  }

  runs(): Promise<RunSummary[]> {
    return this.request("GET", "/api/runs");
  }

  run(id: string): Promise<RunDetail> {
    return this.request("GET", `/api/runs/${encodeURIComponent(id)}`);
  }

  runEvents(id: string): Promise<RunEvent[]> {
    return this.request("GET", `/api/runs/${encodeURIComponent(id)}/events`);
  }

  cancel(id: string): Promise<RunSummary> {
    return this.request("DELETE", `/api/runs/${encodeURIComponent(id)}`);
  }

  /**
   * Listens to the server's event stream, reconnecting with backoff when the connection drops.
   * Returns a function that closes it for good.
   */
  subscribe(onMessage: (message: ServerMessage) => void, onConnection: (connected: boolean) => void): () => void {
    let socket: WebSocket | null = null;
    let closed = false;
    let retryMs = 500;
    let timer: ReturnType<typeof setTimeout> | undefined;

    const connect = () => {
      const url = this.url("/api/events");
      url.protocol = url.protocol === "https:" ? "wss:" : "ws:";
      if (this.token) url.searchParams.set("token", this.token);
      socket = new WebSocket(url);
      socket.onopen = () => {
        retryMs = 500;
        onConnection(true);
      };
      socket.onmessage = (message) => {
        try {
          onMessage(JSON.parse(String(message.data)) as ServerMessage);
        } catch {
          // A malformed frame is dropped rather than breaking the stream.
        }
      };
      socket.onclose = () => {
        onConnection(false);
        if (closed) return;
        timer = setTimeout(connect, retryMs);
        retryMs = Math.min(retryMs * 2, 8000);
      };
    };
    connect();
    return () => {
      closed = true;
      clearTimeout(timer);
      socket?.close();
    };
  }
}

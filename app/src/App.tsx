import { ReactFlowProvider } from "@xyflow/react";
import { useEffect, useMemo, useState } from "react";
import { ApiClient } from "./api/client.js";
import type { NodeCatalogEntry } from "./api/types.js";
import { Editor } from "./Editor.js";

export function App() {
  const api = useMemo(() => new ApiClient(), []);
  const [catalog, setCatalog] = useState<NodeCatalogEntry[] | null>(null);
  const [error, setError] = useState<string | null>(null);
  useEffect(() => {
    let retry: ReturnType<typeof setTimeout>;
    const load = () =>
      api.nodes().then(setCatalog, (err: Error) => {
        setError(err.message);
        retry = setTimeout(load, 2000);
      });
    load();
    return () => clearTimeout(retry);
  }, [api]);
  if (!catalog) {
    return (
      <div className="mf-boot">
        <div className="mf-logo big" aria-hidden>
          <i />
          <i className="m" />
          <i className="m" />
          <i />
        </div>
        <p>{error ? `Cannot reach the Maskflow engine (${error}). Retrying…` : "Loading the node catalog…"}</p>
      </div>
    );
  }
  return (
    <ReactFlowProvider>
      <Editor api={api} catalogList={catalog} />
    </ReactFlowProvider>
  );
}

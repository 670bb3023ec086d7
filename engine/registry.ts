import type { NodeCatalogEntry, NodeDefinition } from "./types.js";

/** The node types a workflow may use. Definitions are data; the editor renders every node from the catalog. */
export class NodeRegistry {
  private readonly defs = new Map<string, NodeDefinition>();

  constructor(definitions: Iterable<NodeDefinition> = []) {
    for (const def of definitions) this.register(def);
  }

  register(def: NodeDefinition): void {
    if (this.defs.has(def.type)) throw new Error(`node type "${def.type}" is registered twice`);
    this.defs.set(def.type, def);
  }

  get(type: string): NodeDefinition | undefined {
    return this.defs.get(type);
  }

  types(): string[] {
    return [...this.defs.keys()];
  }

  catalog(): NodeCatalogEntry[] {
    return [...this.defs.values()].map(({ execute: _execute, ...entry }) => entry);
  }
}

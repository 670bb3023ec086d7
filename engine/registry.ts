import type { NodeCatalogEntry, NodeDefinition, NodeSource } from "./types.js";

/**
 * The node types a workflow may use. Definitions are data; the editor renders every node from the
 * catalog. The engine fills no registry itself: the CLI, the server and the desktop shell assemble
 * one from the built-in nodes plus node packages (engine/plugins).
 */
export class NodeRegistry {
  private readonly defs = new Map<string, NodeDefinition>();
  private readonly sources = new Map<string, NodeSource>();

  constructor(definitions: Iterable<NodeDefinition> = []) {
    for (const def of definitions) this.register(def);
  }

  /** Adds a node type; `source` names the package it comes from (absent: built in). */
  register(def: NodeDefinition, source?: NodeSource): void {
    if (this.defs.has(def.type)) throw new Error(`node type "${def.type}" is registered twice`);
    this.defs.set(def.type, def);
    if (source) this.sources.set(def.type, source);
  }

  get(type: string): NodeDefinition | undefined {
    return this.defs.get(type);
  }

  /** The package a node type comes from; undefined for built-in (and unknown) types. */
  sourceOf(type: string): NodeSource | undefined {
    return this.sources.get(type);
  }

  types(): string[] {
    return [...this.defs.keys()];
  }

  catalog(): NodeCatalogEntry[] {
    return [...this.defs.values()].map(({ execute: _execute, inspect: _inspect, ...entry }) => {
      const source = this.sources.get(entry.type);
      return source ? { ...entry, source } : entry;
    });
  }
}

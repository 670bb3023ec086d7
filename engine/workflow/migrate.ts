import { WORKFLOW_VERSION } from "./schema.js";

/**
 * Upgrades older documents to the current version, one step at a time. Version 1 is the
 * first, so the table is empty; a version 2 adds `1: (doc) => ({...doc, version: 2, ...})`.
 */
const MIGRATIONS: Record<number, (doc: Record<string, unknown>) => Record<string, unknown>> = {};

export function migrate(raw: Record<string, unknown>): Record<string, unknown> {
  let doc = raw;
  while (typeof doc.version === "number" && doc.version < WORKFLOW_VERSION && MIGRATIONS[doc.version]) {
    doc = MIGRATIONS[doc.version](doc);
  }
  return doc;
}

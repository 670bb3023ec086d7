// The workflow file, version 1 (`*.maskflow.json`): one document for the editor, the CLI
// and the API. A node is `id -> { type, inputs }`; an input is a constant or a link to another
// node's named output. `ui` (positions, viewport) rides along and the engine ignores it.
import { z } from "zod";

export const WORKFLOW_VERSION = 1;

export const linkSchema = z
  .object({
    from: z.string().min(1).describe("id of the node whose output this input reads"),
    output: z.string().min(1).describe("name of that node's output"),
  })
  .strict();

/** A constant input: any JSON value that is not a link. */
export const constantSchema = z.union([z.string(), z.number(), z.boolean(), z.null(), z.array(z.unknown())]);

export const nodeSchema = z
  .object({
    type: z.string().min(1),
    title: z.string().optional(),
    mode: z
      .enum(["bypass", "mute"])
      .optional()
      .describe("bypass: the node passes each input on to the output of the same socket type; mute: the node and what needs it do not run"),
    inputs: z.record(z.string(), z.union([linkSchema, constantSchema])).default({}),
    ui: z
      .object({
        x: z.number(),
        y: z.number(),
        width: z.number().optional(),
        collapsed: z.boolean().optional(),
      })
      .passthrough()
      .optional(),
  })
  .strict();

/** `nodes`: id -> node. */
export const nodesSchema = z.record(z.string().regex(/^[A-Za-z0-9_.-]+$/, "node ids use letters, digits, _ . -"), nodeSchema);

export const workflowSchema = z
  .object({
    $schema: z.string().optional(),
    version: z.literal(WORKFLOW_VERSION),
    name: z.string().optional(),
    description: z.string().optional(),
    nodes: nodesSchema,
    ui: z.record(z.string(), z.unknown()).optional(),
  })
  .strict();

export type Link = z.infer<typeof linkSchema>;
export type WorkflowNode = z.infer<typeof nodeSchema>;
export type WorkflowDoc = z.infer<typeof workflowSchema>;

export function isLink(value: unknown): value is Link {
  return (
    typeof value === "object" &&
    value !== null &&
    !Array.isArray(value) &&
    typeof (value as Link).from === "string" &&
    typeof (value as Link).output === "string"
  );
}

/** The JSON Schema published as workflows/maskflow.schema.json. */
export function workflowJsonSchema(): Record<string, unknown> {
  return {
    ...z.toJSONSchema(workflowSchema, { io: "input" }),
    $id: "https://maskflow.dev/schema/workflow-v1.json",
    title: "Maskflow workflow (version 1)",
  };
}

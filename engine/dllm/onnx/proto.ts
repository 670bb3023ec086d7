// The ONNX protobuf schema (onnx.proto, ONNX 1.12) loaded into protobufjs, and TypeScript shapes
// for the parts of it Maskflow reads and edits. Decoded messages are protobufjs Message objects:
// int64 fields arrive as Long (use `toNumber`), bytes fields as Node Buffers that are *views* of
// the decoded buffer, and absent optional fields read as prototype defaults, so test presence
// with `has(message, field)`. To drop a field before encoding set it to null (an empty
// rawData would be written as present-but-empty, which ONNX Runtime rejects).
import protobuf from "protobufjs";
import { ONNX_SCHEMA } from "./schema.js";

export type Int64 = number | { toNumber(): number; low: number; high: number };

export interface StringStringEntryProto {
  key: string;
  value: string;
}

export interface TensorProto {
  name: string;
  dims: Int64[];
  dataType: number;
  rawData?: Uint8Array | null;
  floatData?: number[] | null;
  int32Data?: number[] | null;
  int64Data?: Int64[] | null;
  doubleData?: number[] | null;
  uint64Data?: Int64[] | null;
  stringData?: Uint8Array[] | null;
  externalData?: StringStringEntryProto[] | null;
  /** 0 DEFAULT, 1 EXTERNAL */
  dataLocation?: number | null;
  docString?: string;
}

export interface AttributeProto {
  name: string;
  type: number;
  f?: number;
  i?: Int64;
  s?: Uint8Array;
  t?: TensorProto | null;
  g?: GraphProto | null;
  floats?: number[];
  ints?: Int64[];
  strings?: Uint8Array[];
  tensors?: TensorProto[];
  graphs?: GraphProto[];
}

export interface NodeProto {
  input: string[];
  output: string[];
  name?: string;
  opType: string;
  domain?: string;
  attribute: AttributeProto[];
  docString?: string;
}

export interface ValueInfoProto {
  name: string;
  type?: unknown;
  docString?: string;
}

export interface GraphProto {
  node: NodeProto[];
  name?: string;
  initializer: TensorProto[];
  sparseInitializer?: unknown[];
  docString?: string;
  input: ValueInfoProto[];
  output: ValueInfoProto[];
  valueInfo: ValueInfoProto[];
}

export interface OperatorSetIdProto {
  domain?: string;
  version: Int64;
}

export interface ModelProto {
  irVersion?: Int64;
  opsetImport: OperatorSetIdProto[];
  producerName?: string;
  producerVersion?: string;
  domain?: string;
  modelVersion?: Int64;
  docString?: string;
  graph: GraphProto;
  metadataProps: StringStringEntryProto[];
  functions?: unknown[];
}

export const TensorDataLocation = { DEFAULT: 0, EXTERNAL: 1 } as const;

let root: protobuf.Root | null = null;

function types(): { model: protobuf.Type; tensor: protobuf.Type } {
  root ??= protobuf.Root.fromJSON(ONNX_SCHEMA as protobuf.INamespace);
  return { model: root.lookupType("onnx.ModelProto"), tensor: root.lookupType("onnx.TensorProto") };
}

/** The protobufjs type of a message, for callers that build new messages (e.g. graph surgery). */
export function onnxType(name: string): protobuf.Type {
  types();
  return root!.lookupType(name.startsWith("onnx.") ? name : `onnx.${name}`);
}

export function decodeModel(bytes: Uint8Array): ModelProto {
  return types().model.decode(bytes) as unknown as ModelProto;
}

export function encodeModel(model: ModelProto): Uint8Array {
  return types().model.encode(model as unknown as protobuf.Message).finish();
}

/** A new TensorProto message (encodes like a decoded one). */
export function createTensor(props: Partial<TensorProto>): TensorProto {
  return types().tensor.create(props as Record<string, unknown>) as unknown as TensorProto;
}

export function toNumber(v: Int64 | null | undefined): number {
  if (v === null || v === undefined) return 0;
  if (typeof v === "number") return v;
  const n = v.toNumber();
  if (!Number.isSafeInteger(n)) throw new Error(`int64 value ${n} is too large`);
  return n;
}

/** Whether an optional field was present on the wire (or set since). */
export function has(message: object, field: string): boolean {
  const v = (message as Record<string, unknown>)[field];
  return Object.prototype.hasOwnProperty.call(message, field) && v !== null && v !== undefined;
}

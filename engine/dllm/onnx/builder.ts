// Writing an ONNX graph node by node, from TypeScript: what `maskflow convert` uses to turn a
// checkpoint's config and weights into model.onnx without PyTorch. Weights are streamed as they
// come: each initializer of at least `inlineLimit` bytes is appended to the external data file at
// once and only its {location, offset, length} stays in memory, so building an 8B-parameter graph
// holds one tensor at a time, not the model.
import { ExternalDataWriter, externalEntries } from "./external.js";
import { encodeModel, TensorDataLocation, type AttributeProto, type ModelProto, type NodeProto, type TensorProto, type ValueInfoProto } from "./proto.js";
import { DataType, floatToHalf } from "./dtypes.js";

/** ONNX AttributeProto.AttributeType */
const ATTR = { FLOAT: 1, INT: 2, STRING: 3, FLOATS: 6, INTS: 7 } as const;

export type AttrValue = { f: number } | { i: number } | { s: string } | { ints: number[] } | { floats: number[] };
/** Attribute helpers: ONNX distinguishes 1 from 1.0, so each value says its kind. */
export const attr = {
  f: (v: number): AttrValue => ({ f: v }),
  i: (v: number): AttrValue => ({ i: v }),
  s: (v: string): AttrValue => ({ s: v }),
  ints: (v: number[]): AttrValue => ({ ints: v }),
  floats: (v: number[]): AttrValue => ({ floats: v }),
};

function attribute(name: string, v: AttrValue): AttributeProto {
  if ("f" in v) return { name, type: ATTR.FLOAT, f: v.f };
  if ("i" in v) return { name, type: ATTR.INT, i: v.i };
  if ("s" in v) return { name, type: ATTR.STRING, s: new TextEncoder().encode(v.s) };
  if ("ints" in v) return { name, type: ATTR.INTS, ints: v.ints };
  return { name, type: ATTR.FLOATS, floats: v.floats };
}

/** A dimension: a fixed size or a symbolic name ("batch"). */
export type Dim = number | string;

export interface BuilderOptions {
  /** The external data file, relative to the model's folder; null keeps every tensor inline. */
  external: ExternalDataWriter | null;
  /** Tensors smaller than this stay inline in the protobuf (default 1024 bytes). */
  inlineLimit?: number;
}

export class GraphBuilder {
  readonly nodes: NodeProto[] = [];
  readonly initializers: TensorProto[] = [];
  readonly inputs: ValueInfoProto[] = [];
  readonly outputs: ValueInfoProto[] = [];
  private readonly names = new Set<string>();
  private counter = 0;
  private readonly domains = new Map<string, number>([["", 17]]);
  /** Bytes of weights written so far (inline and external). */
  weightBytes = 0;

  constructor(private readonly options: BuilderOptions) {}

  /** A fresh value name with a readable stem. */
  fresh(stem: string): string {
    let name = `${stem}_${this.counter++}`;
    while (this.names.has(name)) name = `${stem}_${this.counter++}`;
    this.names.add(name);
    return name;
  }

  /** Declares that the graph uses an operator domain (com.microsoft for onnxruntime's contrib ops). */
  useDomain(domain: string, version: number): void {
    this.domains.set(domain, version);
  }

  /**
   * Adds a node; returns its output names (`outputs` fresh ones unless names are given).
   * Inputs may be "" for an omitted optional input.
   */
  op(opType: string, inputs: string[], attrs: Record<string, AttrValue> = {}, opts: { outputs?: number | string[]; domain?: string; stem?: string } = {}): string[] {
    const stem = opts.stem ?? opType.toLowerCase();
    const outputs = Array.isArray(opts.outputs) ? opts.outputs : Array.from({ length: opts.outputs ?? 1 }, () => this.fresh(stem));
    for (const o of outputs) this.names.add(o);
    this.nodes.push({
      opType,
      domain: opts.domain ?? "",
      input: inputs,
      output: outputs,
      name: this.fresh(`n_${stem}`),
      attribute: Object.entries(attrs).map(([k, v]) => attribute(k, v)),
    });
    return outputs;
  }

  /** The single output of a one-output node. */
  op1(opType: string, inputs: string[], attrs: Record<string, AttrValue> = {}, opts: { domain?: string; stem?: string; output?: string } = {}): string {
    return this.op(opType, inputs, attrs, { ...opts, outputs: opts.output ? [opts.output] : 1 })[0];
  }

  /**
   * An initializer from raw little-endian bytes. Large ones go straight to the external data file.
   * `name` is kept as given (weights keep their checkpoint names, which LoRA merging relies on).
   */
  initializer(name: string, dataType: number, dims: number[], bytes: Uint8Array): string {
    if (this.names.has(name)) throw new Error(`graph value "${name}" is defined twice`);
    this.names.add(name);
    const t: TensorProto = { name, dims, dataType };
    const limit = this.options.inlineLimit ?? 1024;
    if (this.options.external && bytes.byteLength >= limit) {
      const ref = this.options.external.append(bytes);
      t.externalData = externalEntries(ref);
      t.dataLocation = TensorDataLocation.EXTERNAL;
    } else {
      t.rawData = bytes.byteLength ? bytes : null; // an empty tensor has no data field at all
    }
    this.weightBytes += bytes.byteLength;
    this.initializers.push(t);
    return name;
  }

  float32(name: string, dims: number[], values: Float32Array): string {
    return this.initializer(name, DataType.FLOAT, dims, new Uint8Array(values.buffer, values.byteOffset, values.byteLength));
  }

  /** A small int64 constant (shapes, axes, indices). */
  int64(values: number[], dims: number[] = [values.length], stem = "const"): string {
    const name = this.fresh(stem);
    this.names.delete(name);
    return this.initializer(name, DataType.INT64, dims, new Uint8Array(BigInt64Array.from(values, (v) => BigInt(v)).buffer));
  }

  /** A small float constant of the given element type (FLOAT or FLOAT16). */
  scalar(value: number, dataType: number = DataType.FLOAT, stem = "const"): string {
    const name = this.fresh(stem);
    this.names.delete(name);
    if (dataType === DataType.FLOAT16) {
      const view = new DataView(new ArrayBuffer(2));
      view.setUint16(0, floatToHalf(value), true);
      return this.initializer(name, dataType, [], new Uint8Array(view.buffer));
    }
    return this.initializer(name, DataType.FLOAT, [], new Uint8Array(Float32Array.of(value).buffer));
  }

  input(name: string, elemType: number, dims: Dim[]): string {
    this.names.add(name);
    this.inputs.push(valueInfo(name, elemType, dims));
    return name;
  }

  /** Declares `value` a graph output named `name` (an Identity when the names differ). */
  output(name: string, value: string, elemType: number, dims: Dim[]): void {
    if (value !== name) this.op("Identity", [value], {}, { outputs: [name] });
    this.outputs.push(valueInfo(name, elemType, dims));
  }

  model(meta: { producer: string; doc?: string; metadata?: Record<string, string> }): ModelProto {
    return {
      irVersion: 8,
      producerName: meta.producer,
      docString: meta.doc ?? "",
      opsetImport: [...this.domains].map(([domain, version]) => ({ domain, version })),
      graph: {
        name: "maskflow",
        node: this.nodes,
        initializer: this.initializers,
        input: this.inputs,
        output: this.outputs,
        valueInfo: [],
      },
      metadataProps: Object.entries(meta.metadata ?? {}).map(([key, value]) => ({ key, value })),
    };
  }

  encode(meta: { producer: string; doc?: string; metadata?: Record<string, string> }): Uint8Array {
    return encodeModel(this.model(meta));
  }
}

function valueInfo(name: string, elemType: number, dims: Dim[]): ValueInfoProto {
  return {
    name,
    type: { tensorType: { elemType, shape: { dim: dims.map((d) => (typeof d === "number" ? { dimValue: d } : { dimParam: d })) } } },
  };
}

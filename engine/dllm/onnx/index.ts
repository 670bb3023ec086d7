// ONNX protobuf helpers: open a model, list and edit initializers (inline or external data),
// write it back. Shared by LoRA merging and graph surgery.
export { OnnxModel, PROTOBUF_LIMIT, type InitializerInfo, type SaveOptions } from "./model.js";
export { ExternalDataWriter, externalRef, linkOrCopy, readRange, resolveInside } from "./external.js";
export {
  DataType,
  bf16ToFloat,
  bytesToFloat32,
  dataTypeName,
  dataTypeSize,
  float32ToBytes,
  floatToBf16,
  floatToHalf,
  halfToFloat,
  isFloatType,
  type DataTypeName,
} from "./dtypes.js";
export {
  TensorDataLocation,
  createTensor,
  decodeModel,
  encodeModel,
  has,
  onnxType,
  toNumber,
  type AttributeProto,
  type GraphProto,
  type ModelProto,
  type NodeProto,
  type TensorProto,
} from "./proto.js";

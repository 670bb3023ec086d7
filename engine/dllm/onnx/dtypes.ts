// ONNX tensor element types (TensorProto.DataType) and the float conversions every weight
// editor needs: float16 and bfloat16 to and from float32, little-endian on every host.

export const DataType = {
  UNDEFINED: 0,
  FLOAT: 1,
  UINT8: 2,
  INT8: 3,
  UINT16: 4,
  INT16: 5,
  INT32: 6,
  INT64: 7,
  STRING: 8,
  BOOL: 9,
  FLOAT16: 10,
  DOUBLE: 11,
  UINT32: 12,
  UINT64: 13,
  COMPLEX64: 14,
  COMPLEX128: 15,
  BFLOAT16: 16,
} as const;
export type DataTypeName = keyof typeof DataType;

const NAMES = new Map<number, DataTypeName>(Object.entries(DataType).map(([k, v]) => [v, k as DataTypeName]));

/** Bytes per element; undefined for STRING and unknown types. */
const SIZES: Record<number, number> = {
  1: 4, 2: 1, 3: 1, 4: 2, 5: 2, 6: 4, 7: 8, 9: 1, 10: 2, 11: 8, 12: 4, 13: 8, 14: 8, 15: 16, 16: 2,
};

export function dataTypeName(code: number): string {
  return NAMES.get(code) ?? `unknown(${code})`;
}

export function dataTypeSize(code: number): number | undefined {
  return SIZES[code];
}

/** The element types `readFloat32`/`writeFloat32` convert. */
export function isFloatType(code: number): boolean {
  return code === DataType.FLOAT || code === DataType.FLOAT16 || code === DataType.BFLOAT16 || code === DataType.DOUBLE;
}

// ---------------------------------------------------------------- half precision

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

/** IEEE 754 binary16 bits -> number (exact). */
export function halfToFloat(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exp = (h >> 10) & 0x1f;
  const frac = h & 0x3ff;
  if (exp === 0) return sign * frac * 2 ** -24;
  if (exp === 0x1f) return frac ? NaN : sign * Infinity;
  return sign * (1 + frac / 1024) * 2 ** (exp - 15);
}

/** number -> binary16 bits, round to nearest even (as numpy and torch do). */
export function floatToHalf(value: number): number {
  f32[0] = value;
  const x = u32[0];
  const sign = (x >>> 16) & 0x8000;
  const exp = (x >>> 23) & 0xff;
  let mant = x & 0x7fffff;
  if (exp === 0xff) return sign | 0x7c00 | (mant ? 0x200 : 0); // inf / nan
  const e = exp - 127 + 15;
  if (e >= 0x1f) return sign | 0x7c00; // overflow -> inf
  if (e <= 0) {
    // subnormal half (or zero)
    if (e < -10) return sign;
    mant |= 0x800000;
    const shift = 14 - e;
    let half = mant >>> shift;
    const rem = mant & ((1 << shift) - 1);
    const mid = 1 << (shift - 1);
    if (rem > mid || (rem === mid && half & 1)) half++;
    return sign | half;
  }
  let half = (e << 10) | (mant >>> 13);
  const rem = mant & 0x1fff;
  if (rem > 0x1000 || (rem === 0x1000 && half & 1)) half++; // a carry into the exponent is still correct
  return sign | half;
}

/** bfloat16 bits -> number (exact: the top half of a float32). */
export function bf16ToFloat(b: number): number {
  u32[0] = (b & 0xffff) << 16;
  return f32[0];
}

/** number -> bfloat16 bits, round to nearest even (as torch does). */
export function floatToBf16(value: number): number {
  f32[0] = value;
  const x = u32[0];
  if ((x & 0x7f800000) === 0x7f800000 && x & 0x7fffff) return ((x >>> 16) | 0x40) & 0xffff; // quiet nan
  const rounded = x + 0x7fff + ((x >>> 16) & 1);
  return (rounded >>> 16) & 0xffff;
}

/** Little-endian bytes of `type` -> float32 (copies). */
export function bytesToFloat32(bytes: Uint8Array, type: number, count: number): Float32Array {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const out = new Float32Array(count);
  switch (type) {
    case DataType.FLOAT:
      if (bytes.byteOffset % 4 === 0) out.set(new Float32Array(bytes.buffer, bytes.byteOffset, count));
      else out.set(new Float32Array(new Uint8Array(bytes.subarray(0, count * 4)).buffer)); // Buffer.slice would not copy
      return out;
    case DataType.FLOAT16:
      for (let i = 0; i < count; i++) out[i] = halfToFloat(view.getUint16(i * 2, true));
      return out;
    case DataType.BFLOAT16:
      for (let i = 0; i < count; i++) out[i] = bf16ToFloat(view.getUint16(i * 2, true));
      return out;
    case DataType.DOUBLE:
      for (let i = 0; i < count; i++) out[i] = view.getFloat64(i * 8, true);
      return out;
    default:
      throw new Error(`cannot read ${dataTypeName(type)} data as float32`);
  }
}

/** float values -> little-endian bytes of `type` (rounding to nearest even for the 16-bit types). */
export function float32ToBytes(values: ArrayLike<number>, type: number): Uint8Array {
  const n = values.length;
  switch (type) {
    case DataType.FLOAT: {
      const out = Float32Array.from(values);
      return new Uint8Array(out.buffer);
    }
    case DataType.FLOAT16:
    case DataType.BFLOAT16: {
      const out = new Uint8Array(n * 2);
      const view = new DataView(out.buffer);
      const conv = type === DataType.FLOAT16 ? floatToHalf : floatToBf16;
      for (let i = 0; i < n; i++) view.setUint16(i * 2, conv(values[i]), true);
      return out;
    }
    case DataType.DOUBLE: {
      const out = new Uint8Array(n * 8);
      const view = new DataView(out.buffer);
      for (let i = 0; i < n; i++) view.setFloat64(i * 8, values[i], true);
      return out;
    }
    default:
      throw new Error(`cannot write float values as ${dataTypeName(type)}`);
  }
}

/** Every supported host is little-endian; ONNX raw_data and safetensors are too. Fail loudly elsewhere. */
export function assertLittleEndian(): void {
  if (new Uint8Array(new Uint16Array([1]).buffer)[0] !== 1) throw new Error("Maskflow's weight editing needs a little-endian host");
}

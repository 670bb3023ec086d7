// Block-wise weight-only quantisation in the layout of onnxruntime's MatMulNBits (com.microsoft):
// a weight W [N, K] (nn.Linear's [out, in]) is cut along K into blocks of `blockSize`; each block
// keeps a float scale and an unsigned zero point, and each value q = clamp(round(w / scale) + zp,
// 0, 2^bits - 1), so w ~= (q - zp) * scale. Round to nearest, asymmetric (the block's range is
// stretched to include 0, as onnxruntime's own quantiser does, so 0 stays exact).
//
// Layout (MatMulNBits and GatherBlockQuantized read the same bytes):
//   data        uint8 [N, kBlocks, blockSize * bits / 8]; 4 bits: value 2j in the low nibble of byte j
//   scales      float [N * kBlocks]
//   zeroPoints  uint8 [N * ceil(kBlocks * bits / 8)]; 4 bits: block 2j in the low nibble
// A last partial block is padded with zeros (which quantise exactly).

export type QuantBits = 4 | 8;

/** Round to nearest, ties to even, for |x| < 2^51 (adding 1.5 * 2^52 leaves no fraction bits). */
const MAGIC = 6755399441055744;
function round(x: number): number {
  return x + MAGIC - MAGIC;
}

export interface QuantizedMatrix {
  bits: QuantBits;
  blockSize: number;
  /** rows (N) and columns (K) of the original matrix */
  rows: number;
  cols: number;
  kBlocks: number;
  data: Uint8Array;
  scales: Float32Array;
  zeroPoints: Uint8Array;
}

/**
 * Symmetric variant: the zero point is fixed at 2^(bits-1) (MatMulNBits' and QMoE's default when
 * no zero points are given) and scale = max|w| / (2^(bits-1) - 1). onnxruntime 1.29's CPU QMoE runs
 * 8-bit blocks without zero points 2x faster than with them (measured, models/README.md).
 */
export function quantizeRowsSymmetric(w: Float32Array, rows: number, cols: number, bits: QuantBits, blockSize: number): QuantizedMatrix {
  if (w.length !== rows * cols) throw new Error(`quantize: ${w.length} values, expected ${rows} x ${cols}`);
  const kBlocks = Math.ceil(cols / blockSize);
  const blob = (blockSize * bits) / 8;
  const zp = 1 << (bits - 1);
  const qmax = (1 << bits) - 1;
  const data = new Uint8Array(rows * kBlocks * blob);
  const scales = new Float32Array(rows * kBlocks);
  for (let n = 0; n < rows; n++) {
    for (let b = 0; b < kBlocks; b++) {
      const from = n * cols + b * blockSize;
      const count = Math.min(cols, (b + 1) * blockSize) - b * blockSize;
      let amax = 0;
      let sum = 0;
      for (let k = 0; k < count; k++) {
        const v = w[from + k];
        const a = v < 0 ? -v : v;
        amax = a > amax ? a : amax;
        sum += v;
      }
      if (!Number.isFinite(sum)) throw new Error(`quantize: row ${n} holds a value that is not finite`);
      let scale = Math.fround(amax / (zp - 1));
      if (scale === 0) scale = 1;
      const inv = 1 / scale;
      const out = (n * kBlocks + b) * blob;
      const q = (j: number) => {
        if (j >= count) return zp;
        const v = round(w[from + j] * inv) + zp;
        return v < 0 ? 0 : v > qmax ? qmax : v;
      };
      if (bits === 8) for (let j = 0; j < blockSize; j++) data[out + j] = q(j);
      else for (let j = 0; j < blob; j++) data[out + j] = q(2 * j) | (q(2 * j + 1) << 4);
      scales[n * kBlocks + b] = scale;
    }
  }
  const zeroPoints = new Uint8Array(rows * Math.ceil((kBlocks * bits) / 8));
  if (bits === 8) zeroPoints.fill(zp);
  else zeroPoints.fill(zp | (zp << 4));
  return { bits, blockSize, rows, cols, kBlocks, data, scales, zeroPoints };
}

export function quantizeRows(w: Float32Array, rows: number, cols: number, bits: QuantBits, blockSize: number): QuantizedMatrix {
  if (w.length !== rows * cols) throw new Error(`quantize: ${w.length} values, expected ${rows} x ${cols}`);
  if (blockSize < 16 || (blockSize & (blockSize - 1)) !== 0) throw new Error(`quantize: block size ${blockSize} must be a power of two >= 16`);
  const kBlocks = Math.ceil(cols / blockSize);
  const blob = (blockSize * bits) / 8;
  const qmax = (1 << bits) - 1;
  const data = new Uint8Array(rows * kBlocks * blob);
  const scales = new Float32Array(rows * kBlocks);
  const zpRow = Math.ceil((kBlocks * bits) / 8);
  const zeroPoints = new Uint8Array(rows * zpRow);
  for (let n = 0; n < rows; n++) {
    const rowBase = n * cols;
    for (let b = 0; b < kBlocks; b++) {
      const from = rowBase + b * blockSize;
      const to = rowBase + Math.min(cols, (b + 1) * blockSize);
      let lo = 0;
      let hi = 0;
      let sum = 0;
      for (let k = from; k < to; k++) {
        const v = w[k];
        lo = v < lo ? v : lo;
        hi = v > hi ? v : hi;
        sum += v;
      }
      if (!Number.isFinite(sum)) throw new Error(`quantize: row ${n} holds a value that is not finite`);
      // Scales are stored as float32: round first, then derive the zero point from the stored scale.
      let scale = Math.fround((hi - lo) / qmax);
      if (scale === 0) scale = 1; // an all-zero block: any scale, zero point 0 maps to 0
      const zp = Math.min(qmax, Math.max(0, Math.round(-lo / scale)));
      const inv = 1 / scale;
      const out = (n * kBlocks + b) * blob;
      const count = to - from;
      if (bits === 8) {
        for (let j = 0; j < count; j++) {
          const q = round(w[from + j] * inv) + zp;
          data[out + j] = q < 0 ? 0 : q > 255 ? 255 : q;
        }
        // values past `cols` (a last partial block) are stored as the zero point: they dequantise to 0
        for (let j = count; j < blockSize; j++) data[out + j] = zp;
        zeroPoints[n * zpRow + b] = zp;
      } else {
        const pairs = count >> 1;
        for (let j = 0; j < pairs; j++) {
          let q0 = round(w[from + 2 * j] * inv) + zp;
          let q1 = round(w[from + 2 * j + 1] * inv) + zp;
          q0 = q0 < 0 ? 0 : q0 > 15 ? 15 : q0;
          q1 = q1 < 0 ? 0 : q1 > 15 ? 15 : q1;
          data[out + j] = q0 | (q1 << 4);
        }
        if (count & 1) {
          const q0 = round(w[from + count - 1] * inv) + zp;
          data[out + pairs] = (q0 < 0 ? 0 : q0 > 15 ? 15 : q0) | (zp << 4);
        }
        for (let j = (count + 1) >> 1; j < blob; j++) data[out + j] = zp | (zp << 4);
        zeroPoints[n * zpRow + (b >> 1)] |= b & 1 ? zp << 4 : zp;
      }
      scales[n * kBlocks + b] = scale;
    }
  }
  return { bits, blockSize, rows, cols, kBlocks, data, scales, zeroPoints };
}

/** The float values a quantised matrix stands for, [rows, cols] (for tests and error measurements). */
export function dequantizeRows(m: QuantizedMatrix): Float32Array {
  const { bits, blockSize, rows, cols, kBlocks, data, scales, zeroPoints } = m;
  const blob = (blockSize * bits) / 8;
  const zpRow = Math.ceil((kBlocks * bits) / 8);
  const out = new Float32Array(rows * cols);
  for (let n = 0; n < rows; n++) {
    for (let b = 0; b < kBlocks; b++) {
      const scale = scales[n * kBlocks + b];
      const zpByte = zeroPoints[n * zpRow + (bits === 8 ? b : b >> 1)];
      const zp = bits === 8 ? zpByte : b & 1 ? zpByte >> 4 : zpByte & 15;
      const base = (n * kBlocks + b) * blob;
      for (let k = b * blockSize; k < Math.min(cols, (b + 1) * blockSize); k++) {
        const j = k - b * blockSize;
        const v = bits === 8 ? data[base + j] : j & 1 ? data[base + (j >> 1)] >> 4 : data[base + (j >> 1)] & 15;
        out[n * cols + k] = (v - zp) * scale;
      }
    }
  }
  return out;
}

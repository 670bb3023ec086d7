// Philox4x32-10 uniforms for a whole row, in WebAssembly: the Gumbel-max of a decided row needs one
// Philox block per two vocabulary ids, and JavaScript has no 32x32->64-bit multiply (rng.ts rebuilds
// the high word from a float64 product), so a row of 4,096 costs ~0.13 ms there and ~0.02 ms here.
// Same definition as rng.ts, bit for bit (test/dllm/rng.test.ts compares them over edge counters):
//   for block b in [0, n): (w0, w1, w2, w3) = Philox4x32-10((b, position, step, stream), (k0, k1))
//   out[2b] = ((w0 >>> 5) * 2^26 + (w1 >>> 6)) / 2^53,  out[2b + 1] = the same of (w2, w3)
// The module is a few dozen instructions, written out below with the opcodes named, so there is no
// toolchain to install and nothing generated to keep in sync.

// Opcodes used (WebAssembly 1.0).
const OP = {
  block: 0x02, loop: 0x03, br: 0x0c, brIf: 0x0d, end: 0x0b, void: 0x40,
  localGet: 0x20, localSet: 0x21, localTee: 0x22,
  i32Const: 0x41, i64Const: 0x42, f64Const: 0x44,
  i32Add: 0x6a, i32Shl: 0x74, i32GeU: 0x4f, i32Ne: 0x47,
  i64Add: 0x7c, i64Mul: 0x7e, i64And: 0x83, i64Xor: 0x85, i64Shl: 0x86, i64ShrU: 0x88,
  i64ExtendI32U: 0xad, f64ConvertI64U: 0xba, f64Mul: 0xa2, f64Store: 0x39,
} as const;

function uleb(n: number): number[] {
  const out: number[] = [];
  do {
    let byte = n & 0x7f;
    n = Math.floor(n / 128);
    if (n > 0) byte |= 0x80;
    out.push(byte);
  } while (n > 0);
  return out;
}

function sleb(n: bigint): number[] {
  const out: number[] = [];
  for (;;) {
    const byte = Number(n & 0x7fn);
    n >>= 7n;
    if ((n === 0n && !(byte & 0x40)) || (n === -1n && byte & 0x40)) return [...out, byte];
    out.push(byte | 0x80);
  }
}

const i64 = (v: bigint) => [OP.i64Const, ...sleb(v)];
const i32 = (v: number) => [OP.i32Const, ...sleb(BigInt(v))];
const f64 = (v: number) => [OP.f64Const, ...new Uint8Array(Float64Array.of(v).buffer)];
const get = (l: number) => [OP.localGet, l];
const set = (l: number) => [OP.localSet, l];

// Parameters: k0 k1 position step stream n (i32); locals after them.
const [K0, K1, POS, STEP, STREAM, N] = [0, 1, 2, 3, 4, 5];
const [B, R, X0, X1, X2, X3, P0, P1, RK0, RK1, ADDR] = [6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16];
const LOCALS: [number, number][] = [[2, 0x7f], [8, 0x7e], [1, 0x7f]]; // b r : i32; x0..x3 p0 p1 rk0 rk1 : i64; addr : i32
const MASK32 = [...i64(0xffffffffn), OP.i64And];
const u32 = (l: number) => [...get(l), OP.i64ExtendI32U];
/** ((hi >>> 5) << 26 | lo >>> 6) * 2^-53 stored at addr + offset. */
const unit = (hi: number, lo: number, offset: number) => [
  ...get(ADDR), ...get(hi), ...i64(5n), OP.i64ShrU, ...i64(26n), OP.i64Shl, ...get(lo), ...i64(6n), OP.i64ShrU, OP.i64Add,
  OP.f64ConvertI64U, ...f64(2 ** -53), OP.f64Mul, OP.f64Store, 3, ...uleb(offset),
];

const body = [
  ...i32(0), ...set(B),
  OP.block, OP.void, OP.loop, OP.void,
  ...get(B), ...get(N), OP.i32GeU, OP.brIf, 1,
  // counter (b, position, step, stream), key (k0, k1)
  ...u32(B), ...set(X0), ...u32(POS), ...set(X1), ...u32(STEP), ...set(X2), ...u32(STREAM), ...set(X3),
  ...u32(K0), ...set(RK0), ...u32(K1), ...set(RK1),
  ...i32(0), ...set(R),
  OP.loop, OP.void,
  ...i64(0xd2511f53n), ...get(X0), OP.i64Mul, ...set(P0),
  ...i64(0xcd9e8d57n), ...get(X2), OP.i64Mul, ...set(P1),
  ...get(P1), ...i64(32n), OP.i64ShrU, ...get(X1), OP.i64Xor, ...get(RK0), OP.i64Xor, ...set(X0),
  ...get(P1), ...MASK32, ...set(X1),
  ...get(P0), ...i64(32n), OP.i64ShrU, ...get(X3), OP.i64Xor, ...get(RK1), OP.i64Xor, ...set(X2),
  ...get(P0), ...MASK32, ...set(X3),
  ...get(RK0), ...i64(0x9e3779b9n), OP.i64Add, ...MASK32, ...set(RK0),
  ...get(RK1), ...i64(0xbb67ae85n), OP.i64Add, ...MASK32, ...set(RK1),
  ...get(R), ...i32(1), OP.i32Add, OP.localTee, R, ...i32(10), OP.i32Ne, OP.brIf, 0, // next round
  OP.end,
  ...get(B), ...i32(4), OP.i32Shl, ...set(ADDR), // 16 bytes per block
  ...unit(X0, X1, 0), ...unit(X2, X3, 8),
  ...get(B), ...i32(1), OP.i32Add, ...set(B), OP.br, 0,
  OP.end, OP.end,
  OP.end,
];

function section(id: number, content: number[]): number[] {
  return [id, ...uleb(content.length), ...content];
}

function moduleBytes(): Uint8Array<ArrayBuffer> {
  const fnType = [0x60, 6, ...Array(6).fill(0x7f), 0]; // (i32 x6) -> ()
  const localDecls = [LOCALS.length, ...LOCALS.flatMap(([count, type]) => [...uleb(count), type])];
  const code = [...localDecls, ...body];
  const name = (s: string) => [...uleb(s.length), ...new TextEncoder().encode(s)];
  return Uint8Array.from([
    0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00,
    ...section(1, [1, ...fnType]),
    ...section(3, [1, 0]),
    ...section(5, [1, 0x00, 1]), // one memory, 1 page to start
    ...section(7, [2, ...name("fill"), 0x00, 0, ...name("memory"), 0x02, 0]),
    ...section(10, [1, ...uleb(code.length), ...code]),
  ]);
}

interface Exports {
  fill(k0: number, k1: number, position: number, step: number, stream: number, n: number): void;
  memory: WebAssembly.Memory;
}

let instance: Exports | null = null;

/**
 * `out[i]` = the uniform for (key (k0, k1), stream, step, position, index i), i in [0, out.length),
 * as CounterRng.fill computes it. `out` is a view of the module's memory, valid until the next call.
 */
export function philoxRow(k0: number, k1: number, stream: number, step: number, position: number, length: number): Float64Array {
  instance ??= new WebAssembly.Instance(new WebAssembly.Module(moduleBytes())).exports as unknown as Exports;
  const blocks = Math.ceil(length / 2);
  const need = blocks * 16;
  const have = instance.memory.buffer.byteLength;
  if (need > have) instance.memory.grow(Math.ceil((need - have) / 65536));
  instance.fill(k0, k1, position, step, stream, blocks);
  return new Float64Array(instance.memory.buffer, 0, length);
}

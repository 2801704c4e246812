/*
 * A general matrix product C = act(A · B + bias) (or C += A · B + bias) as a tiny hand-assembled
 * WebAssembly SIMD kernel working on one linear memory the caller owns (no copies): the building
 * block of PRM's single-request inference path (see `src/models/prm-fast.ts`).
 *
 * Blocking: 2 rows x 16 columns per inner step (8 f32x4 accumulators), so `m` is rounded up to a
 * multiple of 2 (the caller's buffers must have room for the padded row, whose values are
 * garbage); narrower column tails use 8- and 4-column variants, then scalar JavaScript. Row strides
 * are free, so a head's slice of a packed Q|K|V matrix is an operand without a copy. All pointers
 * and strides are in bytes.
 */

import { instantiate, lazyModule, wasmApi, type WasmMemory } from './wasm-asm';

/** The body of a GEMM kernel of R rows x 4 * CV columns per inner step (locals, code, end). */
function functionBody(R: number, CV: number): number[] {
  const c: number[] = [];
  const emit = (...parts: number[][]) => {
    for (const p of parts) c.push(...p);
  };
  const get = (i: number) => [0x20, i];
  const set = (i: number) => [0x21, i];
  const tee = (i: number) => [0x22, i];
  const i32 = (v: number) => [0x41, v]; // 0 <= v < 64
  const add = () => [0x6a];
  const shl = () => [0x74];
  const ltU = () => [0x49];
  const and = () => [0x71];
  const loop = () => [0x03, 0x40];
  const ifThen = () => [0x04, 0x40];
  const end = () => [0x0b];
  const brIf0 = () => [0x0d, 0x00];
  const splatLoad = () => [0xfd, 0x09, 0x02, 0x00]; // v128.load32_splat
  const vload = (off: number) => [0xfd, 0x00, 0x04, off];
  const vstore = (off: number) => [0xfd, 0x0b, 0x04, off];
  const fadd = () => [0xfd, 0xe4, 0x01];
  const fmul = () => [0xfd, 0xe6, 0x01];
  const fmax = () => [0xfd, 0xeb, 0x01]; // f32x4.pmax: a < b ? b : a, i.e. max(x, 0) with x first
  const vzero = () => [0xfd, 0x0c, ...new Array<number>(16).fill(0)];
  // params: 0 m, 1 k, 2 n, 3 pa, 4 lda, 5 pb, 6 ldb, 7 pc, 8 ldc, 9 pbias, 10 flags
  // (bit 0: relu, bit 1: accumulate into C)
  // i32 locals: 11 i, 12 j, 13 kk, 14 pB, 15 pC, 16 rowA, 17 rowC, 18.. pA[r]
  const pA = (r: number) => 18 + r;
  const nI32 = 7 + R;
  const V = 11 + nI32; // first v128 local
  const acc = (r: number, h: number) => V + CV * r + h;
  const bv = (h: number) => V + R * CV + h;
  const av = V + R * CV + CV;
  const zero = av + 1;
  const nV128 = R * CV + CV + 2;
  const W = CV * 4; // columns per step
  // columns outer (a W-column strip of B stays in L1), rows inner
  emit(vzero(), set(zero));
  emit(i32(0), set(12));
  emit(loop()); // columns, W at a time
  emit(i32(0), set(11), get(3), set(16), get(7), set(17));
  emit(loop()); // rows, R at a time
  emit(get(9), get(12), i32(2), shl(), add(), set(14));
  for (let h = 0; h < CV; h++) emit(get(14), vload(16 * h), set(bv(h)));
  for (let r = 0; r < R; r++) for (let h = 0; h < CV; h++) emit(get(bv(h)), set(acc(r, h)));
  emit(get(17), get(12), i32(2), shl(), add(), set(15));
  emit(get(10), i32(2), and(), ifThen()); // accumulate: acc += C
  for (let r = 0; r < R; r++) {
    for (let h = 0; h < CV; h++)
      emit(get(acc(r, h)), get(15), vload(16 * h), fadd(), set(acc(r, h)));
    if (r < R - 1) emit(get(15), get(8), add(), set(15));
  }
  emit(get(17), get(12), i32(2), shl(), add(), set(15));
  emit(end());
  emit(get(16), set(pA(0)));
  for (let r = 1; r < R; r++) emit(get(pA(r - 1)), get(4), add(), set(pA(r)));
  emit(get(5), get(12), i32(2), shl(), add(), set(14));
  emit(i32(0), set(13));
  emit(loop()); // inner dimension
  for (let h = 0; h < CV; h++) emit(get(14), vload(16 * h), set(bv(h)));
  for (let r = 0; r < R; r++) {
    emit(get(pA(r)), splatLoad(), set(av));
    for (let h = 0; h < CV; h++)
      emit(get(acc(r, h)), get(av), get(bv(h)), fmul(), fadd(), set(acc(r, h)));
    emit(get(pA(r)), i32(4), add(), set(pA(r)));
  }
  emit(get(14), get(6), add(), set(14));
  emit(get(13), i32(1), add(), tee(13), get(1), ltU(), brIf0());
  emit(end());
  emit(get(10), i32(1), and(), ifThen()); // relu
  for (let r = 0; r < R; r++) {
    for (let h = 0; h < CV; h++) emit(get(acc(r, h)), get(zero), fmax(), set(acc(r, h)));
  }
  emit(end());
  for (let r = 0; r < R; r++) {
    for (let h = 0; h < CV; h++) emit(get(15), get(acc(r, h)), vstore(16 * h));
    if (r < R - 1) emit(get(15), get(8), add(), set(15));
  }
  for (let r = 0; r < R; r++)
    emit(get(16), get(4), add(), set(16), get(17), get(8), add(), set(17));
  emit(get(11), i32(R), add(), tee(11), get(0), ltU(), brIf0());
  emit(end());
  emit(get(12), i32(W), add(), tee(12), get(2), ltU(), brIf0());
  emit(end());
  emit(end()); // function
  return [0x02, nI32, 0x7f, nV128, 0x7b, ...c];
}

const compile = lazyModule(() => [
  { name: 'gemm16', params: 11, body: functionBody(2, 4) },
  { name: 'gemm8', params: 11, body: functionBody(2, 2) },
  { name: 'gemm4', params: 11, body: functionBody(2, 1) },
]);

/**
 * The raw kernel: byte pointers and byte strides into the arena's memory. The last argument holds
 * flags: bit 0 applies relu, bit 1 accumulates (`C += A · B + bias`, before the relu).
 */
export type GemmKernel = (
  m: number,
  k: number,
  n: number,
  pa: number,
  lda: number,
  pb: number,
  ldb: number,
  pc: number,
  ldc: number,
  pbias: number,
  flags: number,
) => void;

const memories = new WeakMap<GemmArena, WasmMemory>();

/** The WebAssembly memory behind an arena (for other kernels that work on the same buffers). */
export function arenaMemory(arena: GemmArena): WasmMemory {
  const m = memories.get(arena);
  if (!m) throw new Error('GemmArena: unknown arena');
  return m;
}

/** True when WebAssembly SIMD is available (the GEMM kernels compile). */
export function simdGemmAvailable(): boolean {
  return compile() !== null;
}

/**
 * A fixed-size float32 arena in its own WebAssembly memory with the GEMM kernels bound to it.
 * Allocation is a bump pointer (16-byte aligned); the memory never grows after construction, so
 * {@link GemmArena.heap} stays valid.
 */
export class GemmArena {
  /** The whole arena as floats; buffers are float indices into it. */
  readonly heap: Float32Array;
  private readonly k16: GemmKernel;
  private readonly k8: GemmKernel;
  private readonly k4: GemmKernel;
  private top = 16; // bytes 0..15 unused so that no buffer starts at address 0
  private readonly bytes: number;

  /** @param floats capacity in float32 values */
  constructor(floats: number) {
    const mod = compile();
    const wa = wasmApi();
    if (!mod || !wa) throw new Error('WebAssembly SIMD is not available');
    this.bytes = Math.ceil((floats * 4 + 1024) / 65536) * 65536;
    const memory = new wa.Memory({ initial: this.bytes / 65536 });
    const e = instantiate(mod, memory);
    this.k16 = e['gemm16'] as GemmKernel;
    this.k8 = e['gemm8'] as GemmKernel;
    this.k4 = e['gemm4'] as GemmKernel;
    this.heap = new Float32Array(memory.buffer);
    memories.set(this, memory);
  }

  /** Reserves `floats` zeroed values; returns the float index of the first (16-byte aligned). */
  alloc(floats: number): number {
    const at = this.top;
    const next = at + Math.ceil((floats * 4) / 16) * 16;
    if (next > this.bytes)
      throw new Error(`GemmArena: out of space (${next} > ${this.bytes} bytes)`);
    this.top = next;
    return at / 4;
  }

  /**
   * `C = act(A · B + bias)` on arena buffers given as float indices and float row strides:
   * A `[m, k]`, B `[k, n]`, C `[m, n]`, bias `[n]` (required: pass a zero buffer for none).
   * Rows are processed in pairs: for odd `m`, row `m` of A is read and row `m` of C is written
   * (the caller's buffers must have that spare row; its values are meaningless).
   * With `accumulate`, `C = act(C + A · B + bias)` (e.g. a residual connection).
   */
  gemm(
    m: number,
    k: number,
    n: number,
    a: number,
    lda: number,
    b: number,
    ldb: number,
    c: number,
    ldc: number,
    bias: number,
    relu = false,
    accumulate = false,
  ): void {
    if (m <= 0 || k <= 0 || n <= 0) return;
    const r = (relu ? 1 : 0) | (accumulate ? 2 : 0);
    let j = 0;
    const n16 = n & ~15;
    if (n16 > 0) this.k16(m, k, n16, a * 4, lda * 4, b * 4, ldb * 4, c * 4, ldc * 4, bias * 4, r);
    j = n16;
    if (n - j >= 8) {
      this.k8(
        m,
        k,
        8,
        a * 4,
        lda * 4,
        (b + j) * 4,
        ldb * 4,
        (c + j) * 4,
        ldc * 4,
        (bias + j) * 4,
        r,
      );
      j += 8;
    }
    if (n - j >= 4) {
      this.k4(
        m,
        k,
        4,
        a * 4,
        lda * 4,
        (b + j) * 4,
        ldb * 4,
        (c + j) * 4,
        ldc * 4,
        (bias + j) * 4,
        r,
      );
      j += 4;
    }
    if (j < n) {
      const h = this.heap;
      for (let i = 0; i < m; i++) {
        for (let jj = j; jj < n; jj++) {
          let s = h[bias + jj] as number;
          if (accumulate) s += h[c + i * ldc + jj] as number;
          for (let t = 0; t < k; t++)
            s += (h[a + i * lda + t] as number) * (h[b + t * ldb + jj] as number);
          h[c + i * ldc + jj] = relu && s < 0 ? 0 : s;
        }
      }
    }
  }
}

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

import { Fn, I, T, instantiate, lazyModule, wasmApi, type WasmMemory } from './wasm-asm';

/** A GEMM kernel of R rows x 4 * CV columns per inner step. */
function gemmFunction(name: string, R: number, CV: number): Fn {
  const { get, set, tee, i32, add, shl, and, ltU, loop, ifThen, end, brIf } = I;
  const f = new Fn(name, 11);
  // parameters; flags: bit 0 relu, bit 1 accumulate into C
  const [m, k, n, pa, lda, pb, ldb, pc, ldc, pbias, flags] = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10];
  const [i, j, kk, pB, pC, rowA, rowC] = f.locals(T.i32, 7);
  const pAs = Array.from({ length: R }, () => f.local(T.i32));
  const pA = (r: number): number => pAs[r]!;
  const accs = Array.from({ length: R * CV }, () => f.local(T.v128));
  const acc = (r: number, h: number): number => accs[CV * r + h]!;
  const bvs = Array.from({ length: CV }, () => f.local(T.v128));
  const bv = (h: number): number => bvs[h]!;
  const [av, zero] = f.locals(T.v128, 2);
  const W = CV * 4; // columns per step
  // columns outer (a W-column strip of B stays in L1), rows inner
  f.emit(I.vconst(0), set(zero));
  f.emit(i32(0), set(j));
  f.emit(loop); // columns, W at a time
  f.emit(i32(0), set(i), get(pa), set(rowA), get(pc), set(rowC));
  f.emit(loop); // rows, R at a time
  f.emit(get(pbias), get(j), i32(2), shl, add, set(pB));
  for (let h = 0; h < CV; h++) f.emit(get(pB), I.vload(16 * h), set(bv(h)));
  for (let r = 0; r < R; r++) for (let h = 0; h < CV; h++) f.emit(get(bv(h)), set(acc(r, h)));
  f.emit(get(rowC), get(j), i32(2), shl, add, set(pC));
  f.emit(get(flags), i32(2), and, ifThen); // accumulate: acc += C
  for (let r = 0; r < R; r++) {
    for (let h = 0; h < CV; h++)
      f.emit(get(acc(r, h)), get(pC), I.vload(16 * h), I.vadd, set(acc(r, h)));
    if (r < R - 1) f.emit(get(pC), get(ldc), add, set(pC));
  }
  f.emit(get(rowC), get(j), i32(2), shl, add, set(pC));
  f.emit(end);
  f.emit(get(rowA), set(pA(0)));
  for (let r = 1; r < R; r++) f.emit(get(pA(r - 1)), get(lda), add, set(pA(r)));
  f.emit(get(pb), get(j), i32(2), shl, add, set(pB));
  f.emit(i32(0), set(kk));
  f.emit(loop); // inner dimension
  for (let h = 0; h < CV; h++) f.emit(get(pB), I.vload(16 * h), set(bv(h)));
  for (let r = 0; r < R; r++) {
    f.emit(get(pA(r)), I.vsplat32(), set(av));
    for (let h = 0; h < CV; h++)
      f.emit(get(acc(r, h)), get(av), get(bv(h)), I.vmul, I.vadd, set(acc(r, h)));
    f.emit(get(pA(r)), i32(4), add, set(pA(r)));
  }
  f.emit(get(pB), get(ldb), add, set(pB));
  f.emit(get(kk), i32(1), add, tee(kk), get(k), ltU, brIf(0));
  f.emit(end);
  f.emit(get(flags), i32(1), and, ifThen); // relu: pmax(x, 0) with x first
  for (let r = 0; r < R; r++) {
    for (let h = 0; h < CV; h++) f.emit(get(acc(r, h)), get(zero), I.vpmax, set(acc(r, h)));
  }
  f.emit(end);
  for (let r = 0; r < R; r++) {
    for (let h = 0; h < CV; h++) f.emit(get(pC), get(acc(r, h)), I.vstore(16 * h));
    if (r < R - 1) f.emit(get(pC), get(ldc), add, set(pC));
  }
  for (let r = 0; r < R; r++)
    f.emit(get(rowA), get(lda), add, set(rowA), get(rowC), get(ldc), add, set(rowC));
  f.emit(get(i), i32(R), add, tee(i), get(m), ltU, brIf(0));
  f.emit(end);
  f.emit(get(j), i32(W), add, tee(j), get(n), ltU, brIf(0));
  f.emit(end);
  return f;
}

const compile = lazyModule(() => [
  gemmFunction('gemm16', 2, 4),
  gemmFunction('gemm8', 2, 2),
  gemmFunction('gemm4', 2, 1),
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

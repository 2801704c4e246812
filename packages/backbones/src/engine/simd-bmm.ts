import * as tf from '@tensorflow/tfjs-core';
import type { Tensor, Tensor3D } from '@tensorflow/tfjs-core';
import { tapeActive } from './tape';
import { moduleBytes, wasmApi, type WasmMemory } from './wasm-asm';

/*
 * A batched matrix product C[b] = A[b] · B[b] as a tiny hand-assembled WebAssembly SIMD kernel.
 *
 * Why: tfjs-backend-wasm runs every batched (3-D) matMul on a scalar fallback (~1.6-3.5 GFLOP/s
 * here) because only 2-D products reach XNNPACK; attention's Q K^T and P V (and their four
 * gradient products) are inherently batched and were over half of a PRM training step. This kernel
 * computes 2 rows x 8 columns per inner loop with f32x4 multiply-adds. Operands are copied into
 * the kernel's own memory (rows padded to even m, columns to a multiple of 8), so it works with any
 * backend whose tensors live in CPU memory (wasm, cpu); elsewhere callers use `tf.matMul`.
 * The module is built from the bytes below at first use: no files, no eval.
 */

function kernelModule(): Uint8Array {
  const c: number[] = [];
  const emit = (...parts: number[][]) => {
    for (const p of parts) c.push(...p);
  };
  const get = (i: number) => [0x20, i];
  const set = (i: number) => [0x21, i];
  const tee = (i: number) => [0x22, i];
  const i32 = (v: number) => [0x41, v]; // 0 <= v < 64
  const add = () => [0x6a];
  const mul = () => [0x6c];
  const shl = () => [0x74];
  const ltU = () => [0x49];
  const loop = () => [0x03, 0x40];
  const end = () => [0x0b];
  const brIf0 = () => [0x0d, 0x00];
  const f32load = () => [0x2a, 0x02, 0x00];
  const splat = () => [0xfd, 0x13];
  const vload = (off: number) => [0xfd, 0x00, 0x04, off];
  const vstore = (off: number) => [0xfd, 0x0b, 0x04, off];
  const fadd = () => [0xfd, 0xe4, 0x01];
  const fmul = () => [0xfd, 0xe6, 0x01];
  const vzero = () => [0xfd, 0x0c, ...new Array<number>(16).fill(0)];
  // params: 0 nb, 1 m, 2 k, 3 np, 4 pa, 5 pb, 6 pc
  // i32 locals: 7 bi, 8 i, 9 j, 10 kk, 11 aB, 12 bB, 13 cB, 14 pA0, 15 pA1, 16 pB, 17 pC, 18 strideA, 19 strideB
  // v128 locals: 20-23 acc00 acc01 acc10 acc11, 24 a0, 25 a1, 26 b0, 27 b1
  emit(get(2), i32(2), shl(), set(18));
  emit(get(3), i32(2), shl(), set(19));
  emit(i32(0), set(7));
  emit(get(4), set(11), get(5), set(12), get(6), set(13));
  emit(loop()); // batches
  emit(i32(0), set(8));
  emit(loop()); // rows, 2 at a time
  emit(i32(0), set(9));
  emit(loop()); // columns, 8 at a time
  for (const l of [20, 21, 22, 23]) emit(vzero(), set(l));
  emit(get(11), get(8), get(18), mul(), add(), tee(14), get(18), add(), set(15));
  emit(get(12), get(9), i32(2), shl(), add(), set(16));
  emit(i32(0), set(10));
  emit(loop()); // inner dimension
  emit(get(14), f32load(), splat(), set(24));
  emit(get(15), f32load(), splat(), set(25));
  emit(get(16), vload(0), set(26));
  emit(get(16), vload(16), set(27));
  for (const [acc, a, b] of [
    [20, 24, 26],
    [21, 24, 27],
    [22, 25, 26],
    [23, 25, 27],
  ] as const) {
    emit(get(acc), get(a), get(b), fmul(), fadd(), set(acc));
  }
  emit(get(14), i32(4), add(), set(14));
  emit(get(15), i32(4), add(), set(15));
  emit(get(16), get(19), add(), set(16));
  emit(get(10), i32(1), add(), tee(10), get(2), ltU(), brIf0());
  emit(end());
  emit(get(13), get(8), get(19), mul(), add(), get(9), i32(2), shl(), add(), set(17));
  emit(get(17), get(20), vstore(0));
  emit(get(17), get(21), vstore(16));
  emit(get(17), get(19), add(), get(22), vstore(0));
  emit(get(17), get(19), add(), get(23), vstore(16));
  emit(get(9), i32(8), add(), tee(9), get(3), ltU(), brIf0());
  emit(end());
  emit(get(8), i32(2), add(), tee(8), get(1), ltU(), brIf0());
  emit(end());
  emit(get(11), get(1), get(18), mul(), add(), set(11));
  emit(get(12), get(2), get(19), mul(), add(), set(12));
  emit(get(13), get(1), get(19), mul(), add(), set(13));
  emit(get(7), i32(1), add(), tee(7), get(0), ltU(), brIf0());
  emit(end());
  emit(end()); // function
  return moduleBytes([{ name: 'bmm', params: 7, body: [0x02, 0x0d, 0x7f, 0x08, 0x7b, ...c] }]);
}

interface Kernel {
  memory: WasmMemory;
  bmm: (nb: number, m: number, k: number, np: number, pa: number, pb: number, pc: number) => void;
}

let kernel: Kernel | null | undefined;

function getKernel(): Kernel | null {
  if (kernel !== undefined) return kernel;
  const wa = wasmApi();
  if (!wa) return (kernel = null);
  try {
    const memory = new wa.Memory({ initial: 1 });
    const module = new wa.Module(kernelModule());
    const instance = new wa.Instance(module, { env: { memory } });
    kernel = { memory, bmm: instance.exports['bmm'] as Kernel['bmm'] };
  } catch {
    kernel = null; // no WebAssembly SIMD: callers fall back to tf.matMul
  }
  return kernel;
}

/** True when the SIMD kernel can be used (WebAssembly SIMD available). */
export function simdKernelAvailable(): boolean {
  return getKernel() !== null;
}

/**
 * C[b] = A[b] · B[b] on plain arrays with the SIMD kernel.
 * @param a `[nb, m, k]` row-major
 * @param b `[nb, k, n]` row-major
 * @returns `[nb, m, n]` row-major
 */
export function batchedMatMulArrays(
  a: Float32Array,
  b: Float32Array,
  nb: number,
  m: number,
  k: number,
  n: number,
): Float32Array {
  const kern = getKernel();
  if (!kern) throw new Error('WebAssembly SIMD is not available');
  if (a.length !== nb * m * k || b.length !== nb * k * n) {
    throw new Error(
      `batchedMatMulArrays: sizes do not match [${nb},${m},${k}] x [${nb},${k},${n}]`,
    );
  }
  const mp = m + (m & 1);
  const np = Math.ceil(n / 8) * 8;
  const aBytes = nb * mp * k * 4;
  const bBytes = nb * k * np * 4;
  const cBytes = nb * mp * np * 4;
  const need = aBytes + bBytes + cBytes;
  const have = kern.memory.buffer.byteLength;
  if (need > have) kern.memory.grow(Math.ceil((need - have) / 65536));
  const heap = new Float32Array(kern.memory.buffer);
  const pa = 0;
  const pb = aBytes;
  const pc = aBytes + bBytes;
  if (mp === m) heap.set(a, 0);
  else {
    for (let i = 0; i < nb; i++) {
      heap.set(a.subarray(i * m * k, (i + 1) * m * k), i * mp * k);
      heap.fill(0, i * mp * k + m * k, (i + 1) * mp * k);
    }
  }
  const bOff = pb / 4;
  if (np === n) heap.set(b, bOff);
  else {
    heap.fill(0, bOff, bOff + nb * k * np);
    for (let r = 0; r < nb * k; r++) heap.set(b.subarray(r * n, r * n + n), bOff + r * np);
  }
  kern.bmm(nb, mp, k, np, pa, pb, pc);
  const cOff = pc / 4;
  const out = new Float32Array(nb * m * n);
  if (np === n && mp === m) out.set(heap.subarray(cOff, cOff + nb * m * n));
  else {
    for (let i = 0; i < nb; i++) {
      for (let r = 0; r < m; r++) {
        const src = cOff + (i * mp + r) * np;
        out.set(heap.subarray(src, src + n), (i * m + r) * n);
      }
    }
  }
  return out;
}

function bmmForward(a: Tensor3D, b: Tensor3D): Tensor3D {
  const [nb, m, k] = a.shape;
  const n = b.shape[2];
  const out = batchedMatMulArrays(
    a.dataSync() as Float32Array,
    b.dataSync() as Float32Array,
    nb,
    m,
    k,
    n,
  );
  return tf.tensor3d(out, [nb, m, n], 'float32');
}

/** Which implementation {@link batchedMatMul} uses: `'auto'` = SIMD kernel on cpu/wasm when available. */
export type BatchedMatMulMode = 'auto' | 'simd' | 'tfjs';
let mode: BatchedMatMulMode = 'auto';

/** Chooses the batched matMul implementation (for benchmarks and debugging). Returns the previous mode. */
export function setBatchedMatMulMode(next: BatchedMatMulMode): BatchedMatMulMode {
  const prev = mode;
  mode = next;
  return prev;
}

function useSimd(): boolean {
  if (mode === 'tfjs') return false;
  if (mode === 'simd') return true;
  const be = tf.getBackend();
  return (be === 'wasm' || be === 'cpu') && simdKernelAvailable();
}

const bmmSimd = tf.customGrad((a, b, save) => {
  (save as unknown as (ts: Tensor[]) => void)([a as Tensor, b as Tensor]);
  return {
    value: bmmForward(a as Tensor3D, b as Tensor3D),
    gradFunc: (dy: Tensor | Tensor[], saved: Tensor[]) => {
      const [sa, sb] = saved as [Tensor3D, Tensor3D];
      const g = dy as Tensor3D;
      return [
        batchedMatMul(g, tf.transpose(sb, [0, 2, 1])),
        batchedMatMul(tf.transpose(sa, [0, 2, 1]), g),
      ];
    },
  };
});

/**
 * Batched matrix product `C[b] = A[b] · B[b]` (no transposes: materialize them with
 * `tf.transpose(x, [0, 2, 1])`, which is cheap). On the cpu and wasm backends it runs the
 * WebAssembly SIMD kernel of this module (forward and gradients), otherwise `tf.matMul`.
 *
 * @param a float32 `[nb, m, k]`
 * @param b float32 `[nb, k, n]`
 * @returns float32 `[nb, m, n]`
 */
export function batchedMatMul(a: Tensor3D, b: Tensor3D): Tensor3D {
  if (a.rank !== 3 || b.rank !== 3 || a.shape[0] !== b.shape[0] || a.shape[2] !== b.shape[1]) {
    throw new Error(
      `batchedMatMul expects [nb,m,k] x [nb,k,n]; got [${a.shape.join(',')}] x [${b.shape.join(',')}]`,
    );
  }
  if (!useSimd()) return tf.matMul(a, b);
  if (!tapeActive()) return bmmForward(a, b);
  return bmmSimd(a, b) as Tensor3D;
}

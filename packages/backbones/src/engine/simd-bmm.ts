import * as tf from '@tensorflow/tfjs-core';
import type { Tensor, Tensor3D } from '@tensorflow/tfjs-core';
import { tapeActive } from './tape';
import { Fn, I, T, moduleBytes, wasmApi, type WasmMemory } from './wasm-asm';

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
  const { get, set, tee, i32, add, mul, shl, ltU, loop, end, brIf } = I;
  const f = new Fn('bmm', 7);
  const [nb, m, k, np, pa, pb, pc] = [0, 1, 2, 3, 4, 5, 6]; // parameters
  const [bi, i, j, kk, aB, bB, cB, pA0, pA1, pB, pC, strideA, strideB] = f.locals(T.i32, 13);
  const [acc00, acc01, acc10, acc11, a0, a1, b0, b1] = f.locals(T.v128, 8);
  const vzero = I.vconst(0);
  f.emit(get(k), i32(2), shl, set(strideA));
  f.emit(get(np), i32(2), shl, set(strideB));
  f.emit(i32(0), set(bi));
  f.emit(get(pa), set(aB), get(pb), set(bB), get(pc), set(cB));
  f.emit(loop); // batches
  f.emit(i32(0), set(i));
  f.emit(loop); // rows, 2 at a time
  f.emit(i32(0), set(j));
  f.emit(loop); // columns, 8 at a time
  for (const l of [acc00, acc01, acc10, acc11]) f.emit(vzero, set(l));
  f.emit(get(aB), get(i), get(strideA), mul, add, tee(pA0), get(strideA), add, set(pA1));
  f.emit(get(bB), get(j), i32(2), shl, add, set(pB));
  f.emit(i32(0), set(kk));
  f.emit(loop); // inner dimension
  f.emit(get(pA0), I.f32load(), I.fsplat, set(a0));
  f.emit(get(pA1), I.f32load(), I.fsplat, set(a1));
  f.emit(get(pB), I.vload(0), set(b0));
  f.emit(get(pB), I.vload(16), set(b1));
  for (const [acc, a, b] of [
    [acc00, a0, b0],
    [acc01, a0, b1],
    [acc10, a1, b0],
    [acc11, a1, b1],
  ] as const) {
    f.emit(get(acc), get(a), get(b), I.vmul, I.vadd, set(acc));
  }
  f.emit(get(pA0), i32(4), add, set(pA0));
  f.emit(get(pA1), i32(4), add, set(pA1));
  f.emit(get(pB), get(strideB), add, set(pB));
  f.emit(get(kk), i32(1), add, tee(kk), get(k), ltU, brIf(0));
  f.emit(end);
  f.emit(get(cB), get(i), get(strideB), mul, add, get(j), i32(2), shl, add, set(pC));
  f.emit(get(pC), get(acc00), I.vstore(0));
  f.emit(get(pC), get(acc01), I.vstore(16));
  f.emit(get(pC), get(strideB), add, get(acc10), I.vstore(0));
  f.emit(get(pC), get(strideB), add, get(acc11), I.vstore(16));
  f.emit(get(j), i32(8), add, tee(j), get(np), ltU, brIf(0));
  f.emit(end);
  f.emit(get(i), i32(2), add, tee(i), get(m), ltU, brIf(0));
  f.emit(end);
  f.emit(get(aB), get(m), get(strideA), mul, add, set(aB));
  f.emit(get(bB), get(k), get(strideB), mul, add, set(bB));
  f.emit(get(cB), get(m), get(strideB), mul, add, set(cB));
  f.emit(get(bi), i32(1), add, tee(bi), get(nb), ltU, brIf(0));
  f.emit(end);
  return moduleBytes([f]);
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

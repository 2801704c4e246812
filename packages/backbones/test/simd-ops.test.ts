import { describe, expect, it } from 'vitest';
import { GemmArena, simdGemmAvailable } from '../src/engine/simd-gemm';
import { SimdOps, simdOpsAvailable } from '../src/engine/simd-ops';
import { sleb, uleb } from '../src/engine/wasm-asm';
import { expectClose, randomData } from './helpers';

// The fast inference path's kernels against plain JavaScript, on cases small enough to check by hand.

function setup(floats = 1 << 14) {
  const arena = new GemmArena(floats);
  const ops = new SimdOps(arena);
  const h = arena.heap;
  const put = (values: ArrayLike<number>, extra = 0) => {
    const at = arena.alloc(values.length + extra);
    h.set(values as ArrayLike<number>, at);
    return at;
  };
  const putInt = (values: number[]) => {
    const at = arena.alloc(values.length);
    new Int32Array(h.buffer).set(values, at);
    return at;
  };
  const read = (at: number, n: number) => Array.from(h.subarray(at, at + n));
  return { arena, ops, h, put, putInt, read };
}

/** Plain softmax in float64. */
function softmaxRef(row: number[]): number[] {
  const m = Math.max(...row);
  const e = row.map((v) => Math.exp(v - m));
  const s = e.reduce((a, b) => a + b, 0);
  return e.map((v) => v / s);
}

describe('wasm-asm LEB128', () => {
  it('encodes the textbook examples', () => {
    expect(uleb(0)).toEqual([0]);
    expect(uleb(127)).toEqual([0x7f]);
    expect(uleb(128)).toEqual([0x80, 0x01]);
    expect(uleb(624485)).toEqual([0xe5, 0x8e, 0x26]);
    expect(sleb(-1)).toEqual([0x7f]);
    expect(sleb(63)).toEqual([0x3f]);
    expect(sleb(64)).toEqual([0xc0, 0x00]);
    expect(sleb(-123456)).toEqual([0xc0, 0xbb, 0x78]);
  });
});

describe('SIMD kernels', () => {
  it('are available in this Node (WebAssembly SIMD)', () => {
    expect(simdGemmAvailable()).toBe(true);
    expect(simdOpsAvailable()).toBe(true);
  });

  it('softmaxRows: hand-computed rows, masked columns exactly 0, stride respected', () => {
    const { ops, put, read } = setup();
    // two rows of 4 with a row stride of 6 (the 2 gap values must stay untouched)
    const p = put([0, Math.log(2), Math.log(3), -Infinity, 7, 7, 1, 1, 1, 1, 7, 7]);
    ops.softmaxRows(p, 2, 4, 6);
    const out = read(p, 12);
    expectClose(out.slice(0, 4), [1 / 6, 2 / 6, 3 / 6, 0], 1e-6, 'row 0');
    expect(out[3]).toBe(0);
    expect(out.slice(4, 6)).toEqual([7, 7]);
    expectClose(out.slice(6, 10), [0.25, 0.25, 0.25, 0.25], 1e-7, 'row 1');
    expect(out.slice(10, 12)).toEqual([7, 7]);
  });

  it('softmaxRows: equals a float64 softmax on random rows (exp to ~1e-6 relative)', () => {
    const { ops, put, read } = setup();
    const rows = 7;
    const cols = 12;
    // float32 logits in [-20, 20)
    const data = Array.from(randomData(rows * cols, 3), (v) => Math.fround(v * 20));
    data[5] = -1e9; // far below the row maximum: probability 0
    const p = put(data);
    ops.softmaxRows(p, rows, cols, cols);
    const out = read(p, rows * cols);
    for (let r = 0; r < rows; r++) {
      const row = data.slice(r * cols, (r + 1) * cols);
      const want = softmaxRef(row);
      const got = out.slice(r * cols, (r + 1) * cols);
      const m = Math.max(...row);
      for (let j = 0; j < cols; j++) {
        const w = want[j] as number;
        // 1e-6 from the polynomial and the normalisation, plus float32 rounding of (x - max) log2 e
        const tol = (1e-6 + 1e-7 * Math.abs((row[j] as number) - m)) * w + 1e-12;
        expect(Math.abs((got[j] as number) - w), `row ${r} col ${j}`).toBeLessThanOrEqual(tol);
      }
    }
    expect(out[5]).toBe(0);
    expect(() => ops.softmaxRows(p, 1, 6, 6)).toThrow(/multiple of 4/);
  });

  it('layerNormRows: hand-computed rows, vector part and scalar tail, in place', () => {
    const { ops, put, read } = setup();
    // d = 5: one f32x4 plus a scalar tail. Row 0 = 1..5: mean 3, variance 2.
    const x = put([1, 2, 3, 4, 5, 2, 2, 2, 2, 2]);
    const gamma = put([1, 1, 2, 1, 1]);
    const beta = put([0, 0, 0, 0, 10]);
    const out = put(new Array<number>(10).fill(0));
    ops.layerNormRows(x, out, 2, 5, gamma, beta);
    const s = 1 / Math.sqrt(2 + 1e-5);
    expectClose(read(out, 5), [-2 * s, -1 * s, 0, 1 * s, 2 * s + 10], 1e-6, 'row 0');
    expect(read(out + 5, 5)).toEqual([0, 0, 0, 0, 10]); // constant row: (x - mean) = 0 -> beta
    expect(read(x, 5)).toEqual([1, 2, 3, 4, 5]); // input untouched
    ops.layerNormRows(x, x, 1, 5, gamma, beta); // in place
    expectClose(read(x, 5), [-2 * s, -1 * s, 0, 1 * s, 2 * s + 10], 1e-6, 'in place');
  });

  it('layerNormRows: equals a float64 layer norm on random rows (d = 12)', () => {
    const { ops, put, read } = setup();
    const n = 3;
    const d = 12;
    const data = Array.from(randomData(n * d, 8), (v) => 3 * v + 1);
    const g = Array.from(randomData(d, 9));
    const b = Array.from(randomData(d, 10));
    const x = put(data);
    ops.layerNormRows(x, x, n, d, put(g), put(b));
    for (let r = 0; r < n; r++) {
      const row = data.slice(r * d, (r + 1) * d);
      const mean = row.reduce((a, v) => a + v, 0) / d;
      const vr = row.reduce((a, v) => a + (v - mean) ** 2, 0) / d;
      const want = row.map(
        (v, j) => ((v - mean) / Math.sqrt(vr + 1e-5)) * (g[j] as number) + (b[j] as number),
      );
      expectClose(read(x + r * d, d), want, 1e-5, `row ${r}`);
    }
  });

  it('gatherRows: gathered rows, with and without the constant and scaled terms', () => {
    const { ops, put, putInt, read } = setup();
    const table = put(Array.from({ length: 15 }, (_, i) => i)); // 3 rows of 5: row r = 5r..5r+4
    const ids = putInt([2, 0]);
    const ids2 = putInt([1, 1]);
    const gains = put([2, 1]);
    const c = put([100, 100, 100, 100, 100]);
    const v = put([1, 2, 3, 4, 5]);
    const sc = put([0, 10]);
    const dst = put(new Array<number>(10).fill(-1));
    ops.gatherRows(dst, 2, 5, ids, table, 5, gains, ids2, table, 5, [c, v, sc]);
    // row 0: 2 * [10..14] + 100 + 0 * v + [5..9]; row 1: [0..4] + 100 + 10 * [1..5] + [5..9]
    expect(read(dst, 5)).toEqual([125, 128, 131, 134, 137]);
    expect(read(dst + 5, 5)).toEqual([115, 127, 139, 151, 163]);
    // ld2 = 0 reads the same row of B for every i
    ops.gatherRows(dst, 2, 5, ids, table, 5, gains, ids2, v, 0);
    expect(read(dst, 5)).toEqual([21, 24, 27, 30, 33]);
    expect(read(dst + 5, 5)).toEqual([1, 3, 5, 7, 9]);
  });

  it('transpose: a 3 x 5 block into a wider destination', () => {
    const { ops, put, read } = setup();
    const src = put(Array.from({ length: 15 }, (_, i) => i));
    const dst = put(new Array<number>(20).fill(-1));
    ops.transpose(src, 5, dst, 4, 3, 5);
    expect(read(dst, 20)).toEqual([
      0, 5, 10, -1, 1, 6, 11, -1, 2, 7, 12, -1, 3, 8, 13, -1, 4, 9, 14, -1,
    ]);
  });
});

describe('GemmArena.gemm', () => {
  /** act(C0 + A B + bias) in float64 over the first m rows. */
  function gemmRef(
    m: number,
    k: number,
    n: number,
    a: Float32Array,
    b: Float32Array,
    bias: Float32Array,
    c0: Float32Array | undefined,
    relu: boolean,
  ): number[] {
    const out: number[] = [];
    for (let i = 0; i < m; i++) {
      for (let j = 0; j < n; j++) {
        let s = (bias[j] as number) + (c0 ? (c0[i * n + j] as number) : 0);
        for (let t = 0; t < k; t++) s += (a[i * k + t] as number) * (b[t * n + j] as number);
        out.push(relu && s < 0 ? 0 : s);
      }
    }
    return out;
  }

  it('2 x 2 by hand: plain, bias + relu, accumulate', () => {
    const { arena, put, read } = setup();
    const a = put([1, 2, 3, 4], 2); // [[1, 2], [3, 4]] + room for no spare row (m even)
    const b = put([1, -1, 1, -2, 0, 0, 0, 0], 8); // n = 4 (the 4-column kernel): [[1,-1,1,-2],[0,0,0,0]]
    const bias = put([0, 0, 0, 0]);
    const c = put(new Array<number>(8).fill(0));
    arena.gemm(2, 2, 4, a, 2, b, 4, c, 4, bias);
    expect(read(c, 8)).toEqual([1, -1, 1, -2, 3, -3, 3, -6]);
    const bias2 = put([1, 1, 1, 1]);
    arena.gemm(2, 2, 4, a, 2, b, 4, c, 4, bias2, true);
    expect(read(c, 8)).toEqual([2, 0, 2, 0, 4, 0, 4, 0]);
    arena.gemm(2, 2, 4, a, 2, b, 4, c, 4, bias, false, true); // C += A B
    expect(read(c, 8)).toEqual([3, -1, 3, -2, 7, -3, 7, -6]);
  });

  it('every column path (16, 8, 4 and scalar tails), odd m, strides, accumulate + relu', () => {
    const { arena, put, read } = setup();
    for (const [m, k, n] of [
      [5, 7, 16],
      [3, 9, 30],
      [4, 3, 6],
      [1, 5, 13],
    ] as const) {
      const av = randomData(m * k, m + k);
      const bv = randomData(k * n, n);
      const biasv = randomData(n, 7);
      const c0 = randomData(m * n, 11);
      const a = put(av, k); // + the spare row read for odd m
      const b = put(bv);
      const bias = put(biasv);
      for (const [relu, acc] of [
        [false, false],
        [true, false],
        [false, true],
        [true, true],
      ] as const) {
        const c = put(c0, n); // + the spare row written for odd m
        arena.gemm(m, k, n, a, k, b, n, c, n, bias, relu, acc);
        const want = gemmRef(m, k, n, av, bv, biasv, acc ? c0 : undefined, relu);
        expectClose(read(c, m * n), want, 1e-5, `${m}x${k}x${n} relu=${relu} acc=${acc}`);
      }
    }
  });
});

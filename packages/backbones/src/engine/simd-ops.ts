/*
 * Row-wise WebAssembly SIMD kernels that work on a `GemmArena`'s memory next to its GEMM, so that
 * an inference pass keeps every activation in that memory (PRM's fast path, `models/prm-fast.ts`):
 *
 * - `softmaxRows`: in-place softmax of rows whose width is a multiple of 4 (masked columns carry
 *   -Infinity and come out as exactly 0), with a vectorised `exp`;
 * - `layerNormRows`: `out = gamma * (x - mean) / sqrt(var + 1e-5) + beta` per row;
 * - `gatherRows`: `dst[i] = g_i * A[ids_i] + c + s_i * v + B[ids2_i]`, the sum of two gathered
 *   table rows, a constant row and a scaled row (embedding lookups with their additive terms);
 * - `transpose`.
 *
 * Widths need not be multiples of 4 except the softmax's (a scalar tail handles the rest). The
 * public methods take float indices and float strides into the arena, like `GemmArena.gemm`.
 */
import { Fn, I, T, instantiate, lazyModule, type Code } from './wasm-asm';
import { arenaMemory, type GemmArena } from './simd-gemm';

const LOG2E = 1.4426950408889634;
const LN2 = 0.6931471805599453;

/** Horizontal sum of the v128 local `v` (pushes one f32). */
function hsum(v: number): Code {
  return [
    ...I.get(v),
    ...I.lane(0),
    ...I.get(v),
    ...I.lane(1),
    ...I.fadd,
    ...I.get(v),
    ...I.lane(2),
    ...I.fadd,
    ...I.get(v),
    ...I.lane(3),
    ...I.fadd,
  ];
}

/** Coefficients of the degree-6 Taylor polynomial of `e^y`, highest first (after 1/720). */
const EXP_POLY = [1 / 120, 1 / 24, 1 / 6, 0.5, 1, 1];

/** 1.5 * 2^23: adding it rounds a float32 of magnitude < 2^22 to an integer (ties to even). */
const ROUND_MAGIC = 12582912;

/** v128 locals holding the constants of {@link emitExp}, set once before the loops. */
interface ExpConsts {
  log2e: number;
  lo: number;
  magic: number;
  ln2: number;
  c6: number;
  poly: number[];
  one: number;
}

function expConsts(f: Fn): ExpConsts {
  const v = (value: number) => {
    const l = f.local(T.v128);
    f.emit(I.vconst(value), I.set(l));
    return l;
  };
  const one = f.local(T.v128);
  f.emit(I.vconstI32(0x3f800000), I.set(one));
  return {
    log2e: v(LOG2E),
    lo: v(-126),
    magic: v(ROUND_MAGIC),
    ln2: v(LN2),
    c6: v(1 / 720),
    poly: EXP_POLY.map(v),
    one,
  };
}

/**
 * `v := exp(v)` lane-wise for `v <= 0` (or -Infinity): `2^k * p(f ln 2)` with `t = v log2 e`,
 * `k = round(t)` (by adding and subtracting 1.5 * 2^23), `f = t - k` in [-0.5, 0.5] and `p` the
 * degree-6 Taylor polynomial of `e^y` (relative error about 1e-7, plus the float32 rounding of
 * `t`, ~6e-8 |t|, as in any float32 exp). `2^k` is built in the
 * exponent bits: the low bits of `t + 1.5 * 2^23` hold k, so `(bits << 23) + bits(1.0)` is
 * `2^k` for k in [-126, 0]. Inputs below 2^-126 give exactly 0 (no subnormals). Only
 * single-instruction operations (pmax, not the NaN-propagating max or a float-to-int conversion).
 */
function emitExp(f: Fn, c: ExpConsts, v: number, t: number, k: number, keep: number): void {
  f.emit(I.get(v), I.get(c.log2e), I.vmul, I.set(t));
  f.emit(I.get(t), I.get(c.lo), I.vge, I.set(keep));
  f.emit(I.get(c.lo), I.get(t), I.vpmax, I.get(c.magic), I.vadd, I.set(k)); // k = round(t) + magic
  f.emit(I.get(c.lo), I.get(t), I.vpmax, I.get(k), I.get(c.magic), I.vsub, I.vsub);
  f.emit(I.get(c.ln2), I.vmul, I.set(t)); // t = (t - round(t)) ln 2
  f.emit(I.get(c.c6));
  for (const p of c.poly) f.emit(I.get(t), I.vmul, I.get(p), I.vadd);
  f.emit(I.get(k), I.i32(23), I.ishl, I.get(c.one), I.iadd, I.vmul);
  f.emit(I.get(keep), I.vand, I.set(v));
}

/** softmax(p, rows, cols, ld): cols a multiple of 4 (>= 4); bytes for p and ld. */
function softmaxFn(): Fn {
  const f = new Fn('softmax', 4);
  const [P, ROWS, COLS, LD] = [0, 1, 2, 3];
  const [r, row, q, end] = f.locals(T.i32, 4);
  const [mx, acc, v, t, k, keep] = f.locals(T.v128, 6);
  const consts = expConsts(f);
  f.emit(I.get(P), I.set(row));
  f.forLoop(r, I.i32(0), I.get(ROWS), I.i32(1), () => {
    f.emit(I.get(row), I.get(COLS), I.i32(2), I.shl, I.add, I.set(end));
    f.emit(I.get(row), I.vload(), I.set(mx));
    f.forLoop(q, [...I.get(row), ...I.i32(16), ...I.add], I.get(end), I.i32(16), () => {
      f.emit(I.get(mx), I.get(q), I.vload(), I.vpmax, I.set(mx));
    });
    f.emit(I.get(mx), I.lane(0), I.get(mx), I.lane(1), I.fmax);
    f.emit(I.get(mx), I.lane(2), I.get(mx), I.lane(3), I.fmax, I.fmax, I.fsplat, I.set(mx));
    f.emit(I.vconst(0), I.set(acc));
    f.forLoop(q, I.get(row), I.get(end), I.i32(16), () => {
      f.emit(I.get(q), I.vload(), I.get(mx), I.vsub, I.set(v));
      emitExp(f, consts, v, t, k, keep);
      f.emit(I.get(q), I.get(v), I.vstore(), I.get(acc), I.get(v), I.vadd, I.set(acc));
    });
    f.emit(I.f32(1), hsum(acc), I.fdiv, I.fsplat, I.set(mx));
    f.forLoop(q, I.get(row), I.get(end), I.i32(16), () => {
      f.emit(I.get(q), I.get(q), I.vload(), I.get(mx), I.vmul, I.vstore());
    });
    f.emit(I.get(row), I.get(LD), I.add, I.set(row));
  });
  return f;
}

/**
 * Declares the i32 locals `vend` (bytes of the whole f32x4 vectors of a row of `width` floats) and
 * `end` (bytes of the row) and sets them from the parameter `width`.
 */
function rowWidth(f: Fn, width: number): { vend: number; end: number } {
  const vend = f.local(T.i32);
  const end = f.local(T.i32);
  f.emit(I.get(width), I.i32(-4), I.and, I.i32(2), I.shl, I.set(vend));
  f.emit(I.get(width), I.i32(2), I.shl, I.set(end));
  return { vend, end };
}

/** layernorm(x, out, n, d, gamma, beta): rows of d floats, contiguous; bytes for pointers. */
function layerNormFn(): Fn {
  const f = new Fn('layernorm', 6);
  const [X, OUT, N, D, G, B] = [0, 1, 2, 3, 4, 5];
  const [i, xr, or, j] = f.locals(T.i32, 4);
  const { vend, end } = rowWidth(f, D);
  const [acc, mv, iv, tv] = f.locals(T.v128, 4);
  const [s, mean, inv, ts] = f.locals(T.f32, 4);
  const at = (base: number): Code => [...I.get(base), ...I.get(j), ...I.add];
  f.emit(I.get(X), I.set(xr), I.get(OUT), I.set(or));
  f.forLoop(i, I.i32(0), I.get(N), I.i32(1), () => {
    // mean
    f.emit(I.vconst(0), I.set(acc), I.f32(0), I.set(s));
    f.forLoop(j, I.i32(0), I.get(vend), I.i32(16), () => {
      f.emit(I.get(acc), at(xr), I.vload(), I.vadd, I.set(acc));
    });
    f.forLoop(j, I.get(vend), I.get(end), I.i32(4), () => {
      f.emit(I.get(s), at(xr), I.f32load(), I.fadd, I.set(s));
    });
    f.emit(hsum(acc), I.get(s), I.fadd, I.get(D), I.fconvertI32, I.fdiv, I.tee(mean));
    f.emit(I.fsplat, I.set(mv));
    // variance (two-pass)
    f.emit(I.vconst(0), I.set(acc), I.f32(0), I.set(s));
    f.forLoop(j, I.i32(0), I.get(vend), I.i32(16), () => {
      f.emit(at(xr), I.vload(), I.get(mv), I.vsub, I.tee(tv), I.get(tv), I.vmul);
      f.emit(I.get(acc), I.vadd, I.set(acc));
    });
    f.forLoop(j, I.get(vend), I.get(end), I.i32(4), () => {
      f.emit(at(xr), I.f32load(), I.get(mean), I.fsub, I.tee(ts), I.get(ts), I.fmul);
      f.emit(I.get(s), I.fadd, I.set(s));
    });
    f.emit(I.f32(1), hsum(acc), I.get(s), I.fadd, I.get(D), I.fconvertI32, I.fdiv);
    f.emit(I.f32(1e-5), I.fadd, I.fsqrt, I.fdiv, I.tee(inv), I.fsplat, I.set(iv));
    // normalise, scale, shift
    f.forLoop(j, I.i32(0), I.get(vend), I.i32(16), () => {
      f.emit(at(or), at(xr), I.vload(), I.get(mv), I.vsub, I.get(iv), I.vmul);
      f.emit(at(G), I.vload(), I.vmul, at(B), I.vload(), I.vadd, I.vstore());
    });
    f.forLoop(j, I.get(vend), I.get(end), I.i32(4), () => {
      f.emit(at(or), at(xr), I.f32load(), I.get(mean), I.fsub, I.get(inv), I.fmul);
      f.emit(at(G), I.f32load(), I.fmul, at(B), I.f32load(), I.fadd, I.f32store());
    });
    f.emit(I.get(xr), I.get(end), I.add, I.set(xr), I.get(or), I.get(end), I.add, I.set(or));
  });
  return f;
}

/**
 * gather(dst, n, w, ids, base, ld, gains, c, v, sc, ids2, base2, ld2):
 * `dst[i] = gains[i] * base[ids[i] * ld] + c + sc[i] * v + base2[ids2[i] * ld2]`, rows of w floats
 * (dst contiguous); bytes for pointers and strides, ids int32.
 */
function gatherFn(full: boolean): Fn {
  const f = new Fn(full ? 'gather' : 'gather2', 13);
  const [DST, N, W, IDS, BASE, LD, GAINS, C, V, SC, IDS2, BASE2, LD2] = [
    0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12,
  ];
  const [i, a, b, dr, j] = f.locals(T.i32, 5);
  const { vend, end } = rowWidth(f, W);
  const [g, sv] = f.locals(T.v128, 2);
  const [gs, ss] = f.locals(T.f32, 2);
  const at = (base: number): Code => [...I.get(base), ...I.get(j), ...I.add];
  f.emit(I.get(DST), I.set(dr));
  f.forLoop(i, I.i32(0), [...I.get(N), ...I.i32(2), ...I.shl], I.i32(4), () => {
    f.emit(
      I.get(BASE),
      I.get(IDS),
      I.get(i),
      I.add,
      I.i32load(),
      I.get(LD),
      I.mul,
      I.add,
      I.set(a),
    );
    f.emit(I.get(BASE2), I.get(IDS2), I.get(i), I.add, I.i32load(), I.get(LD2), I.mul, I.add);
    f.emit(I.set(b));
    f.emit(I.get(GAINS), I.get(i), I.add, I.f32load(), I.tee(gs), I.fsplat, I.set(g));
    if (full) f.emit(I.get(SC), I.get(i), I.add, I.f32load(), I.tee(ss), I.fsplat, I.set(sv));
    f.forLoop(j, I.i32(0), I.get(vend), I.i32(16), () => {
      f.emit(at(dr), I.get(g), at(a), I.vload(), I.vmul);
      if (full) f.emit(at(C), I.vload(), I.vadd, I.get(sv), at(V), I.vload(), I.vmul, I.vadd);
      f.emit(at(b), I.vload(), I.vadd, I.vstore());
    });
    f.forLoop(j, I.get(vend), I.get(end), I.i32(4), () => {
      f.emit(at(dr), I.get(gs), at(a), I.f32load(), I.fmul);
      if (full) f.emit(at(C), I.f32load(), I.fadd, I.get(ss), at(V), I.f32load(), I.fmul, I.fadd);
      f.emit(at(b), I.f32load(), I.fadd, I.f32store());
    });
    f.emit(I.get(dr), I.get(end), I.add, I.set(dr));
  });
  return f;
}

/** transpose(src, lds, dst, ldd, rows, cols): dst[c][r] = src[r][c]; bytes for pointers and strides. */
function transposeFn(): Fn {
  const f = new Fn('transpose', 6);
  const [SRC, LDS, DST, LDD, ROWS, COLS] = [0, 1, 2, 3, 4, 5];
  const [r, sp, dp, send] = f.locals(T.i32, 4);
  f.forLoop(r, I.i32(0), I.get(ROWS), I.i32(1), () => {
    f.emit(I.get(SRC), I.get(r), I.get(LDS), I.mul, I.add, I.tee(sp));
    f.emit(I.get(COLS), I.i32(2), I.shl, I.add, I.set(send));
    f.emit(I.get(DST), I.get(r), I.i32(2), I.shl, I.add, I.set(dp));
    f.forLoop(sp, I.get(sp), I.get(send), I.i32(4), () => {
      f.emit(I.get(dp), I.get(sp), I.f32load(), I.f32store());
      f.emit(I.get(dp), I.get(LDD), I.add, I.set(dp));
    });
  });
  return f;
}

type Kernel = (...args: number[]) => void;

const compile = lazyModule(() => [
  softmaxFn(),
  layerNormFn(),
  gatherFn(true),
  gatherFn(false),
  transposeFn(),
]);

/** True when the row kernels compile (WebAssembly SIMD present). */
export function simdOpsAvailable(): boolean {
  return compile() !== null;
}

/** The row kernels bound to one arena's memory. Arguments are float indices and float strides. */
export class SimdOps {
  private readonly kSoftmax: Kernel;
  private readonly kLayerNorm: Kernel;
  private readonly kGather: Kernel;
  private readonly kGather2: Kernel;
  private readonly kTranspose: Kernel;

  constructor(arena: GemmArena) {
    const mod = compile();
    if (!mod) throw new Error('WebAssembly SIMD is not available');
    const e = instantiate(mod, arenaMemory(arena));
    this.kSoftmax = e['softmax'] as Kernel;
    this.kLayerNorm = e['layernorm'] as Kernel;
    this.kGather = e['gather'] as Kernel;
    this.kGather2 = e['gather2'] as Kernel;
    this.kTranspose = e['transpose'] as Kernel;
  }

  /**
   * In-place softmax of `rows` rows of `cols` values (a multiple of 4) with row stride `ld`.
   * -Infinity entries get probability exactly 0 (a row needs one finite entry).
   */
  softmaxRows(p: number, rows: number, cols: number, ld: number): void {
    if (rows <= 0) return;
    if (cols % 4 !== 0 || cols <= 0)
      throw new RangeError(`softmaxRows: cols ${cols} must be a positive multiple of 4`);
    this.kSoftmax(p * 4, rows, cols, ld * 4);
  }

  /** `out[i] = gamma * (x[i] - mean) / sqrt(var + 1e-5) + beta` for `n` contiguous rows of `d` (out may be x). */
  layerNormRows(x: number, out: number, n: number, d: number, gamma: number, beta: number): void {
    if (n > 0) this.kLayerNorm(x * 4, out * 4, n, d, gamma * 4, beta * 4);
  }

  /**
   * `dst[i] = gains[i] * A[ids[i]] + B[ids2[i]] (+ c + sc[i] * v)` for `n` rows of `w` values:
   * `ids` / `ids2` int32 arrays in the arena, A / B tables with row strides `ld` / `ld2` (0 reads
   * the same row every time), `gains` / `sc` `[n]`, `c` / `v` `[w]`; dst rows are contiguous.
   * Without `extra` (`[c, v, sc]`) the last two terms are skipped.
   */
  gatherRows(
    dst: number,
    n: number,
    w: number,
    ids: number,
    a: number,
    ld: number,
    gains: number,
    ids2: number,
    b: number,
    ld2: number,
    extra?: readonly [c: number, v: number, sc: number],
  ): void {
    if (n <= 0) return;
    (extra ? this.kGather : this.kGather2)(
      dst * 4,
      n,
      w,
      ids * 4,
      a * 4,
      ld * 4,
      gains * 4,
      extra ? extra[0] * 4 : 0,
      extra ? extra[1] * 4 : 0,
      extra ? extra[2] * 4 : 0,
      ids2 * 4,
      b * 4,
      ld2 * 4,
    );
  }

  /** `dst[c * ldd + r] = src[r * lds + c]` for `rows` x `cols`. */
  transpose(src: number, lds: number, dst: number, ldd: number, rows: number, cols: number): void {
    this.kTranspose(src * 4, lds * 4, dst * 4, ldd * 4, rows, cols);
  }
}

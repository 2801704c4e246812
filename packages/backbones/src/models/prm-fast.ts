/**
 * PRM's inference-only forward pass on plain float32 buffers: no tfjs kernels, no tensors, no
 * allocation per request beyond the returned arrays. Used by `Prm` when `training` is false, no
 * gradient tape records, and WebAssembly SIMD is available (see {@link setPrmFastInference}).
 *
 * Why: one request (50 candidates, 50 history items) through the tfjs path is ~140 kernel calls of
 * tens of microseconds each on the wasm backend, 3-5 ms in all, while its arithmetic is ~40 MFLOP.
 * Here the matrix products run in the WebAssembly SIMD GEMM of `engine/simd-gemm.ts` (25-40
 * GFLOP/s at these sizes, on a par with XNNPACK) and everything else is plain JavaScript.
 *
 * It computes the same function as the tfjs path (tested to 1e-4), with these exact rewrites:
 * - Padding history positions are dropped before the user-encoder block instead of being masked
 *   (a -1e9 key bias gives them probability exactly 0, and pooling ignores their rows).
 * - Q, K, V are one `[d, 3d]` product with `1/sqrt(dk)` folded into the Q columns.
 * - Item-side products that depend only on weights are cached per item row when the catalogue is
 *   small enough (`[V, d]` and `[V, 3d]` tables, see {@link CACHE_LIMIT_FLOATS}): the item
 *   projection `e W_item`, the first list block's Q|K|V contribution `e W_item W_qkv` (post-norm; by
 *   linearity of the input, together with `rank W_qkv`, `u W_qkv` and `s (W_s W) W_qkv`), and the
 *   user encoder's `e W_qkv`, `pos W_qkv`.
 * Every cache is rebuilt when any weight changes: tfjs `Variable.assign` (optimizers,
 * `setWeights`) replaces the variable's `dataId`, which is compared on every call, and side
 * features carry a version number.
 */
import type { Variable } from '@tensorflow/tfjs-core';
import { GemmArena, simdGemmAvailable } from '../engine/simd-gemm';
import type { ParamStore } from '../engine/params';

/** Item-side caches are built only when they need at most this many floats (64 MiB). */
export const CACHE_LIMIT_FLOATS = 1 << 24;
/** The fast path is used only when the item representation table fits in this many floats. */
const TABLE_LIMIT_FLOATS = 1 << 25;

let fastEnabled = true;

/**
 * Turns PRM's fast inference path on or off (for before/after benchmarks and debugging).
 * Returns the previous setting. Default on.
 */
export function setPrmFastInference(enabled: boolean): boolean {
  const prev = fastEnabled;
  fastEnabled = enabled;
  return prev;
}

/** Whether the fast inference path is switched on (see {@link setPrmFastInference}). */
export function prmFastInferenceEnabled(): boolean {
  return fastEnabled;
}

/** The parts of PRM's resolved config the forward pass reads. */
export interface PrmFastConfig {
  numItems: number;
  numUsers: number;
  dim: number;
  blocks: number;
  heads: number;
  ffnDim: number;
  maxListSize: number;
  historyLength: number;
  scoreUsage: 'none' | 'concat' | 'add' | 'weight';
  rankEmbedding: boolean;
  userEncoder: 'transformer' | 'mean';
  userIdEmbedding: boolean;
  norm: 'post' | 'pre';
  itemFeatureDim: number;
  userFeatureDim: number;
  useIds: boolean;
}

/** Side-feature matrices as given to `Prm.setSideFeatures` (row-major). */
export interface FastSideFeatures {
  item?: Float32Array;
  user?: Float32Array;
  version: number;
}

interface BlockBuf {
  wqkv: number;
  bqkv: number;
  wo: number;
  bo: number;
  w1: number;
  b1: number;
  w2: number;
  b2: number;
  g1: Float32Array;
  be1: Float32Array;
  g2: Float32Array;
  be2: Float32Array;
}

type Alloc = (floats: number) => number;

const POW2 = Float64Array.from({ length: 160 }, (_, i) => Math.pow(2, i - 159));

/**
 * `exp(x)` for `x <= 0` (softmax after subtracting the row maximum), relative error < 1e-6:
 * `2^t` with `t = x log2 e` split into an integer (table) and a fraction in [-0.5, 0.5]
 * (degree-6 Taylor polynomial of `e^(f ln 2)`). ~2.5x faster than `Math.exp` in V8, and softmax
 * is most of the non-GEMM time of a request.
 */
function expNonPositive(x: number): number {
  const t = x * 1.4426950408889634;
  if (t < -158) return 0;
  const k = Math.round(t);
  const y = (t - k) * 0.6931471805599453;
  const p =
    1 +
    y *
      (1 +
        y *
          (0.5 +
            y *
              (0.16666666666666666 +
                y *
                  (0.041666666666666664 + y * (0.008333333333333333 + y * 0.001388888888888889)))));
  return p * (POW2[k + 159] as number);
}

function checkIds(name: string, a: ArrayLike<number>, limit: number): void {
  for (let i = 0; i < a.length; i++) {
    const v = a[i] as number;
    if (!(v >= 0 && v < limit))
      throw new RangeError(`${name}[${i}] = ${v} is outside [0, ${limit})`);
  }
}

/** True when the fast path can serve this model at all (SIMD present, table small enough). */
export function prmFastSupported(c: PrmFastConfig): boolean {
  return simdGemmAvailable() && (c.numItems + 1) * c.dim <= TABLE_LIMIT_FLOATS;
}

/** The fast forward of one PRM (owned by the `Prm` instance). */
export class PrmFast {
  private readonly c: PrmFastConfig;
  private readonly arena: GemmArena;
  private readonly heap: Float32Array;
  private readonly d: number;
  private readonly dk: number;
  private readonly rows: number; // activation rows incl. the spare one
  private readonly useCache: boolean;
  private readonly cacheQ0: boolean; // first list block's Q|K|V from caches (post-norm)
  private readonly cacheHist: boolean; // user-encoder Q|K|V from caches (post-norm transformer)
  // weights (float indices into the arena)
  private readonly table: number; // item representation [V, d]
  private readonly wItem: number;
  private readonly wUser: number;
  private readonly bIn: number;
  private readonly rank: number;
  private readonly pos: number;
  private readonly userTable: number;
  private readonly blocks: BlockBuf[];
  private readonly hist?: BlockBuf;
  private readonly wOut: Float32Array;
  private bOut = 0;
  private readonly sv: Float32Array; // s-direction of the input (concat/add), [d]
  private readonly sc: Float32Array; // constant of the score term, [d]
  private readonly wfu: Float32Array; // user feature projection [Fu, d]
  private readonly bfu: Float32Array;
  // caches
  private readonly eWi: number; // [V, d]
  private readonly eQ0: number; // [V, 3d]
  private readonly rankQ0: number; // [maxL, 3d]
  private readonly svQ0: Float32Array; // [3d]
  private readonly histE: number; // [V, 3d]
  private readonly histPos: number; // [Hmax, 3d] incl. bias
  // activations
  private readonly x: number;
  private readonly qkv: number;
  private readonly kt: number;
  private readonly s: number;
  private readonly o: number;
  private readonly a: number;
  private readonly hid: number;
  private readonly ln: number;
  private readonly gath: number;
  private readonly u: number; // [2, d]
  private readonly uq: number; // [2, 3d]
  private readonly zeros: number;
  private readonly rowStats: Float32Array;
  private readonly validIdx: Int32Array;
  private seen: unknown[] = [];
  private featureVersion = -1;

  constructor(
    config: PrmFastConfig,
    private readonly store: ParamStore,
  ) {
    const c = config;
    this.c = c;
    const d = c.dim;
    this.d = d;
    this.dk = d / c.heads;
    const v = c.numItems + 1;
    this.rows = Math.max(c.maxListSize, c.historyLength) + 2;
    this.useCache = v * d * 7 + c.maxListSize * 3 * d <= CACHE_LIMIT_FLOATS;
    this.cacheQ0 = this.useCache && c.norm === 'post' && c.blocks > 0;
    this.cacheHist = this.useCache && c.norm === 'post' && c.userEncoder === 'transformer';
    const R = this.rows;
    const f = c.ffnDim;
    const layout = (alloc: Alloc) => {
      const blockBuf = (): BlockBuf => ({
        wqkv: alloc(d * 3 * d),
        bqkv: alloc(3 * d),
        wo: alloc(d * d),
        bo: alloc(d),
        w1: alloc(d * f),
        b1: alloc(f),
        w2: alloc(f * d),
        b2: alloc(d),
        g1: new Float32Array(d),
        be1: new Float32Array(d),
        g2: new Float32Array(d),
        be2: new Float32Array(d),
      });
      return {
        table: alloc(v * d),
        wItem: alloc(d * d),
        wUser: alloc(d * d),
        bIn: alloc(d),
        rank: c.rankEmbedding ? alloc(c.maxListSize * d) : 0,
        pos: c.userEncoder === 'transformer' ? alloc(c.historyLength * d) : 0,
        userTable: c.userIdEmbedding ? alloc(c.numUsers * d) : 0,
        blocks: Array.from({ length: c.blocks }, blockBuf),
        hist: c.userEncoder === 'transformer' ? blockBuf() : undefined,
        eWi: this.useCache ? alloc(v * d) : 0,
        eQ0: this.cacheQ0 ? alloc(v * 3 * d) : 0,
        rankQ0: this.cacheQ0 && c.rankEmbedding ? alloc(c.maxListSize * 3 * d) : 0,
        histE: this.cacheHist ? alloc(v * 3 * d) : 0,
        histPos: this.cacheHist ? alloc(c.historyLength * 3 * d) : 0,
        x: alloc(R * d),
        qkv: alloc(R * 3 * d),
        kt: alloc(d * R),
        s: alloc(R * R),
        o: alloc(R * d),
        a: alloc(R * d),
        hid: alloc(R * f),
        ln: alloc(R * d),
        gath: alloc(R * d),
        u: alloc(2 * d),
        uq: alloc(2 * 3 * d),
        zeros: alloc(Math.max(3 * d, f, R) + 16),
      };
    };
    let count = 16;
    layout((n) => {
      const at = count;
      count += Math.ceil(n / 4) * 4 + 4;
      return at;
    });
    this.arena = new GemmArena(count + 64);
    this.heap = this.arena.heap;
    const l = layout((n) => this.arena.alloc(n));
    this.table = l.table;
    this.wItem = l.wItem;
    this.wUser = l.wUser;
    this.bIn = l.bIn;
    this.rank = l.rank;
    this.pos = l.pos;
    this.userTable = l.userTable;
    this.blocks = l.blocks;
    this.hist = l.hist;
    this.eWi = l.eWi;
    this.eQ0 = l.eQ0;
    this.rankQ0 = l.rankQ0;
    this.histE = l.histE;
    this.histPos = l.histPos;
    this.x = l.x;
    this.qkv = l.qkv;
    this.kt = l.kt;
    this.s = l.s;
    this.o = l.o;
    this.a = l.a;
    this.hid = l.hid;
    this.ln = l.ln;
    this.gath = l.gath;
    this.u = l.u;
    this.uq = l.uq;
    this.zeros = l.zeros;
    this.wOut = new Float32Array(d);
    this.sv = new Float32Array(d);
    this.sc = new Float32Array(d);
    this.svQ0 = new Float32Array(3 * d);
    this.wfu = new Float32Array(c.userFeatureDim * d);
    this.bfu = new Float32Array(d);
    this.rowStats = new Float32Array(R);
    this.validIdx = new Int32Array(c.historyLength);
  }

  // ---------------------------------------------------------------- weights and caches

  private data(name: string): Float32Array {
    return this.store.get(name).dataSync() as Float32Array;
  }

  /** Rebuilds weights and caches if any variable (or the side features) changed since last time. */
  sync(features: FastSideFeatures): void {
    const names = this.store.names();
    let stale = features.version !== this.featureVersion || names.length !== this.seen.length;
    if (!stale) {
      for (let i = 0; i < names.length; i++) {
        if ((this.store.get(names[i] as string) as Variable).dataId !== this.seen[i]) {
          stale = true;
          break;
        }
      }
    }
    if (!stale) return;
    this.rebuild(features);
    this.seen = names.map((n) => this.store.get(n).dataId);
    this.featureVersion = features.version;
  }

  private copyBlock(prefix: string, bb: BlockBuf): void {
    const h = this.heap;
    const d = this.d;
    const scale = 1 / Math.sqrt(this.dk);
    const wq = this.data(`${prefix}/attention/wq`);
    const wk = this.data(`${prefix}/attention/wk`);
    const wv = this.data(`${prefix}/attention/wv`);
    for (let r = 0; r < d; r++) {
      const at = bb.wqkv + r * 3 * d;
      for (let j = 0; j < d; j++) {
        h[at + j] = (wq[r * d + j] as number) * scale;
        h[at + d + j] = wk[r * d + j] as number;
        h[at + 2 * d + j] = wv[r * d + j] as number;
      }
    }
    const bq = this.data(`${prefix}/attention/bq`);
    for (let j = 0; j < d; j++) h[bb.bqkv + j] = (bq[j] as number) * scale;
    h.set(this.data(`${prefix}/attention/bk`), bb.bqkv + d);
    h.set(this.data(`${prefix}/attention/bv`), bb.bqkv + 2 * d);
    h.set(this.data(`${prefix}/attention/wo`), bb.wo);
    h.set(this.data(`${prefix}/attention/bo`), bb.bo);
    h.set(this.data(`${prefix}/ffn/w1`), bb.w1);
    h.set(this.data(`${prefix}/ffn/b1`), bb.b1);
    h.set(this.data(`${prefix}/ffn/w2`), bb.w2);
    h.set(this.data(`${prefix}/ffn/b2`), bb.b2);
    bb.g1.set(this.data(`${prefix}/norm1/gamma`));
    bb.be1.set(this.data(`${prefix}/norm1/beta`));
    bb.g2.set(this.data(`${prefix}/norm2/gamma`));
    bb.be2.set(this.data(`${prefix}/norm2/beta`));
  }

  private rebuild(features: FastSideFeatures): void {
    const c = this.c;
    const h = this.heap;
    const d = this.d;
    const v = c.numItems + 1;
    const A = this.arena;
    // item representation: (useIds ? E : 0) + F W_f + b_f
    if (c.useIds) h.set(this.data('item'), this.table);
    else h.fill(0, this.table, this.table + v * d);
    if (c.itemFeatureDim > 0) {
      const feats = features.item;
      if (!feats) throw new Error('PRM: item features are missing (call setSideFeatures)');
      // once per weight change: plain JavaScript is fast enough ([V, Fi] x [Fi, d])
      this.featureRowsJs(feats, this.data('features/w_item'), this.data('features/b_item'), 0, v);
    }
    h.set(this.data('input/w_item'), this.wItem);
    h.set(this.data('input/w_user'), this.wUser);
    h.set(this.data('input/b'), this.bIn);
    if (c.rankEmbedding) h.set(this.data('rank'), this.rank);
    if (c.userEncoder === 'transformer') h.set(this.data('user_encoder/position'), this.pos);
    if (c.userIdEmbedding) h.set(this.data('user_encoder/user'), this.userTable);
    this.blocks.forEach((bb, i) => this.copyBlock(`block${i}`, bb));
    if (this.hist) this.copyBlock('user_encoder/block0', this.hist);
    this.wOut.set(this.data('output/w'));
    this.bOut = this.data('output/b')[0] as number;
    this.sv.fill(0);
    this.sc.fill(0);
    if (c.scoreUsage === 'concat' || c.scoreUsage === 'add') {
      const w = this.data(c.scoreUsage === 'concat' ? 'input/w_score' : 'input/w_user');
      const ws = this.data('score/w');
      const bs = this.data('score/b');
      for (let r = 0; r < d; r++) {
        const a1 = ws[r] as number;
        const a2 = bs[r] as number;
        for (let j = 0; j < d; j++) {
          const wr = w[r * d + j] as number;
          this.sv[j] = (this.sv[j] as number) + a1 * wr;
          this.sc[j] = (this.sc[j] as number) + a2 * wr;
        }
      }
    }
    if (c.userFeatureDim > 0) {
      this.wfu.set(this.data('features/w_user'));
      this.bfu.set(this.data('features/b_user'));
    }
    if (!this.useCache) return;
    A.gemm(v, d, d, this.table, d, this.wItem, d, this.eWi, d, this.zeros);
    const b0 = this.blocks[0];
    if (this.cacheQ0 && b0) {
      A.gemm(v, d, 3 * d, this.eWi, d, b0.wqkv, 3 * d, this.eQ0, 3 * d, this.zeros);
      if (c.rankEmbedding) {
        A.gemm(
          c.maxListSize,
          d,
          3 * d,
          this.rank,
          d,
          b0.wqkv,
          3 * d,
          this.rankQ0,
          3 * d,
          this.zeros,
        );
      }
      this.matvec(this.sv, b0.wqkv, 3 * d, this.svQ0);
    }
    if (this.cacheHist && this.hist) {
      const hb = this.hist;
      A.gemm(v, d, 3 * d, this.table, d, hb.wqkv, 3 * d, this.histE, 3 * d, this.zeros);
      A.gemm(c.historyLength, d, 3 * d, this.pos, d, hb.wqkv, 3 * d, this.histPos, 3 * d, hb.bqkv);
    }
  }

  private featureRowsJs(
    feats: Float32Array,
    w: Float32Array,
    b: Float32Array,
    r0: number,
    n: number,
  ): void {
    const h = this.heap;
    const d = this.d;
    const fi = this.c.itemFeatureDim;
    for (let i = r0; i < r0 + n; i++) {
      const t = this.table + i * d;
      for (let j = 0; j < d; j++) h[t + j] = (h[t + j] as number) + (b[j] as number);
      for (let q = 0; q < fi; q++) {
        const fv = feats[i * fi + q] as number;
        if (fv === 0) continue;
        for (let j = 0; j < d; j++) h[t + j] = (h[t + j] as number) + fv * (w[q * d + j] as number);
      }
    }
  }

  /** out[j] = sum_r vec[r] * heap[w + r * ld + j] for j < out.length. */
  private matvec(vec: Float32Array, w: number, ld: number, out: Float32Array): void {
    const h = this.heap;
    out.fill(0);
    const n = out.length;
    for (let r = 0; r < vec.length; r++) {
      const a = vec[r] as number;
      if (a === 0) continue;
      const row = w + r * ld;
      for (let j = 0; j < n; j++) out[j] = (out[j] as number) + a * (h[row + j] as number);
    }
  }

  // ---------------------------------------------------------------- layers

  /** In place: rows of `x` (n x d, stride d) := LN(x + y) (y may be 0 = none). */
  private addNorm(
    x: number,
    y: number,
    n: number,
    g: Float32Array,
    be: Float32Array,
    out: number,
  ): void {
    const h = this.heap;
    const d = this.d;
    for (let i = 0; i < n; i++) {
      const xr = x + i * d;
      const yr = y + i * d;
      const orow = out + i * d;
      let mean = 0;
      if (y !== 0) {
        for (let j = 0; j < d; j++) {
          const t = (h[xr + j] as number) + (h[yr + j] as number);
          h[orow + j] = t;
          mean += t;
        }
      } else {
        for (let j = 0; j < d; j++) {
          const t = h[xr + j] as number;
          h[orow + j] = t;
          mean += t;
        }
      }
      mean /= d;
      let vr = 0;
      for (let j = 0; j < d; j++) {
        const t = (h[orow + j] as number) - mean;
        vr += t * t;
      }
      const inv = 1 / Math.sqrt(vr / d + 1e-5);
      for (let j = 0; j < d; j++) {
        h[orow + j] = ((h[orow + j] as number) - mean) * inv * (g[j] as number) + (be[j] as number);
      }
    }
  }

  /** Multi-head self-attention of n rows from the packed Q|K|V buffer into `o` (no output projection). */
  private attention(n: number): void {
    const h = this.heap;
    const d = this.d;
    const dk = this.dk;
    const d3 = 3 * d;
    const { qkv, kt, s, o } = this;
    for (let t = 0; t < n; t++) {
      const src = qkv + t * d3 + d;
      for (let cc = 0; cc < d; cc++) h[kt + cc * n + t] = h[src + cc] as number;
    }
    for (let hh = 0; hh < this.c.heads; hh++) {
      this.arena.gemm(n, dk, n, qkv + hh * dk, d3, kt + hh * dk * n, n, s, n, this.zeros);
      for (let i = 0; i < n; i++) {
        const row = s + i * n;
        let mx = -Infinity;
        for (let j = 0; j < n; j++) {
          const t = h[row + j] as number;
          if (t > mx) mx = t;
        }
        let sum = 0;
        for (let j = 0; j < n; j++) {
          const e = expNonPositive((h[row + j] as number) - mx);
          h[row + j] = e;
          sum += e;
        }
        const inv = 1 / sum;
        for (let j = 0; j < n; j++) h[row + j] = (h[row + j] as number) * inv;
      }
      this.arena.gemm(n, n, dk, s, n, qkv + 2 * d + hh * dk, d3, o + hh * dk, d, this.zeros);
    }
  }

  /**
   * One encoder block on n rows of `x` (in place). When `qkvReady`, the packed Q|K|V of the
   * block's input is already in `qkv` (post-norm only).
   */
  private block(bb: BlockBuf, n: number, qkvReady: boolean): void {
    const A = this.arena;
    const d = this.d;
    const f = this.c.ffnDim;
    const { x, qkv, o, a, hid, ln } = this;
    if (this.c.norm === 'post') {
      if (!qkvReady) A.gemm(n, d, 3 * d, x, d, bb.wqkv, 3 * d, qkv, 3 * d, bb.bqkv);
      this.attention(n);
      A.gemm(n, d, d, o, d, bb.wo, d, a, d, bb.bo);
      this.addNorm(x, a, n, bb.g1, bb.be1, x);
      A.gemm(n, d, f, x, d, bb.w1, f, hid, f, bb.b1, true);
      A.gemm(n, f, d, hid, f, bb.w2, d, a, d, bb.b2);
      this.addNorm(x, a, n, bb.g2, bb.be2, x);
      return;
    }
    const h = this.heap;
    this.addNorm(x, 0, n, bb.g1, bb.be1, ln);
    A.gemm(n, d, 3 * d, ln, d, bb.wqkv, 3 * d, qkv, 3 * d, bb.bqkv);
    this.attention(n);
    A.gemm(n, d, d, o, d, bb.wo, d, a, d, bb.bo);
    for (let i = 0; i < n * d; i++) h[x + i] = (h[x + i] as number) + (h[a + i] as number);
    this.addNorm(x, 0, n, bb.g2, bb.be2, ln);
    A.gemm(n, d, f, ln, d, bb.w1, f, hid, f, bb.b1, true);
    A.gemm(n, f, d, hid, f, bb.w2, d, a, d, bb.b2);
    for (let i = 0; i < n * d; i++) h[x + i] = (h[x + i] as number) + (h[a + i] as number);
  }

  // ---------------------------------------------------------------- requests

  /**
   * User states of `b` requests.
   * @param user `[b]`, history `[b * hLen]` (padding = numItems), userFeatures optional `[numUsers * Fu]`
   * @returns `[b * d]`
   */
  encodeUsers(
    user: ArrayLike<number>,
    history: ArrayLike<number>,
    b: number,
    hLen: number,
    features: FastSideFeatures,
  ): Float32Array {
    const c = this.c;
    const h = this.heap;
    const d = this.d;
    const out = new Float32Array(b * d);
    const pad = c.numItems;
    checkIds('history', history, c.numItems + 1);
    checkIds('user', user, c.numUsers);
    const hmax = c.historyLength;
    for (let li = 0; li < b; li++) {
      let n = 0;
      for (let t = 0; t < hLen; t++) {
        if (history[li * hLen + t] !== pad) this.validIdx[n++] = t;
      }
      const st = li * d;
      if (n > 0) {
        const x = this.x;
        for (let r = 0; r < n; r++) {
          const t = this.validIdx[r] as number;
          const id = history[li * hLen + t] as number;
          const src = this.table + id * d;
          const dst = x + r * d;
          if (c.userEncoder === 'transformer') {
            const p = this.pos + (hmax - hLen + t) * d;
            for (let j = 0; j < d; j++) h[dst + j] = (h[src + j] as number) + (h[p + j] as number);
          } else {
            h.copyWithin(dst, src, src + d);
          }
        }
        if (c.userEncoder === 'transformer' && this.hist) {
          if (this.cacheHist) {
            const d3 = 3 * d;
            for (let r = 0; r < n; r++) {
              const t = this.validIdx[r] as number;
              const id = history[li * hLen + t] as number;
              const e = this.histE + id * d3;
              const p = this.histPos + (hmax - hLen + t) * d3;
              const dst = this.qkv + r * d3;
              for (let j = 0; j < d3; j++) h[dst + j] = (h[e + j] as number) + (h[p + j] as number);
            }
          }
          this.block(this.hist, n, this.cacheHist);
        }
        for (let r = 0; r < n; r++) {
          const src = x + r * d;
          for (let j = 0; j < d; j++)
            out[st + j] = (out[st + j] as number) + (h[src + j] as number);
        }
        for (let j = 0; j < d; j++) out[st + j] = (out[st + j] as number) / n;
      }
      const u = user[li] as number;
      if (c.userIdEmbedding) {
        const src = this.userTable + u * d;
        for (let j = 0; j < d; j++) out[st + j] = (out[st + j] as number) + (h[src + j] as number);
      }
      if (c.userFeatureDim > 0) {
        const fu = c.userFeatureDim;
        const feats = features.user;
        if (!feats) throw new Error('PRM: user features are missing (call setSideFeatures)');
        for (let j = 0; j < d; j++) out[st + j] = (out[st + j] as number) + (this.bfu[j] as number);
        for (let q = 0; q < fu; q++) {
          const fv = feats[u * fu + q] as number;
          if (fv === 0) continue;
          for (let j = 0; j < d; j++) {
            out[st + j] = (out[st + j] as number) + fv * (this.wfu[q * d + j] as number);
          }
        }
      }
    }
    return out;
  }

  /**
   * Logits of `b` lists of `l` candidates given their user states.
   * @param ranks `[b * l]` or undefined (= 0..l-1)
   * @returns `[b * l]`
   */
  scoreLists(
    items: ArrayLike<number>,
    scores: ArrayLike<number>,
    ranks: ArrayLike<number> | undefined,
    states: ArrayLike<number>,
    b: number,
    l: number,
  ): Float32Array {
    const c = this.c;
    const h = this.heap;
    const d = this.d;
    const d3 = 3 * d;
    const A = this.arena;
    const out = new Float32Array(b * l);
    checkIds('items', items, c.numItems + 1);
    if (ranks && c.rankEmbedding) checkIds('ranks', ranks, c.maxListSize);
    const weight = c.scoreUsage === 'weight';
    const scoreTerm = c.scoreUsage === 'concat' || c.scoreUsage === 'add';
    const { x, u, uq } = this;
    for (let li = 0; li < b; li++) {
      // u = state W_u + b_in (+ b_s W for concat/add), as a 1-row product
      for (let j = 0; j < d; j++) h[this.gath + j] = states[li * d + j] as number;
      A.gemm(1, d, d, this.gath, d, this.wUser, d, u, d, this.bIn);
      if (scoreTerm)
        for (let j = 0; j < d; j++) h[u + j] = (h[u + j] as number) + (this.sc[j] as number);
      // item part: x = g_i * (e W_item)
      if (this.useCache) {
        for (let i = 0; i < l; i++) {
          const id = items[li * l + i] as number;
          const g = weight ? (scores[li * l + i] as number) : 1;
          const src = this.eWi + id * d;
          const dst = x + i * d;
          for (let j = 0; j < d; j++) h[dst + j] = g * (h[src + j] as number);
        }
      } else {
        for (let i = 0; i < l; i++) {
          const id = items[li * l + i] as number;
          const g = weight ? (scores[li * l + i] as number) : 1;
          const src = this.table + id * d;
          const dst = this.gath + i * d;
          for (let j = 0; j < d; j++) h[dst + j] = g * (h[src + j] as number);
        }
        A.gemm(l, d, d, this.gath, d, this.wItem, d, x, d, this.zeros);
      }
      for (let i = 0; i < l; i++) {
        const dst = x + i * d;
        const s = scores[li * l + i] as number;
        const rk = this.rank + (ranks ? (ranks[li * l + i] as number) : i) * d;
        for (let j = 0; j < d; j++) {
          let t = (h[dst + j] as number) + (h[u + j] as number);
          if (scoreTerm) t += s * (this.sv[j] as number);
          if (c.rankEmbedding) t += h[rk + j] as number;
          h[dst + j] = t;
        }
      }
      const b0 = this.blocks[0];
      if (this.cacheQ0 && b0) {
        A.gemm(1, d, d3, u, d, b0.wqkv, d3, uq, d3, b0.bqkv);
        for (let i = 0; i < l; i++) {
          const id = items[li * l + i] as number;
          const s = scores[li * l + i] as number;
          const g = weight ? s : 1;
          const e = this.eQ0 + id * d3;
          const rq = this.rankQ0 + (ranks ? (ranks[li * l + i] as number) : i) * d3;
          const dst = this.qkv + i * d3;
          for (let j = 0; j < d3; j++) {
            let t = g * (h[e + j] as number) + (h[uq + j] as number);
            if (scoreTerm) t += s * (this.svQ0[j] as number);
            if (c.rankEmbedding) t += h[rq + j] as number;
            h[dst + j] = t;
          }
        }
      }
      this.blocks.forEach((bb, i) => this.block(bb, l, i === 0 && this.cacheQ0));
      for (let i = 0; i < l; i++) {
        const src = x + i * d;
        let t = this.bOut;
        for (let j = 0; j < d; j++) t += (h[src + j] as number) * (this.wOut[j] as number);
        out[li * l + i] = t;
      }
    }
    return out;
  }
}

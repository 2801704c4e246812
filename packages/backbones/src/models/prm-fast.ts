/**
 * PRM's inference-only forward pass on plain float32 buffers: no tfjs kernels, no tensors, no
 * allocation per request beyond the returned arrays. Used by `Prm` when `training` is false, no
 * gradient tape records, and WebAssembly SIMD is available (see {@link setPrmFastInference}).
 *
 * Why: one request (50 candidates, 50 history items) through the tfjs path is ~140 kernel calls of
 * tens of microseconds each on the wasm backend, 3-5 ms in all, while its arithmetic is ~30 MFLOP.
 * Here every activation lives in one WebAssembly memory: the matrix products run in the SIMD GEMM
 * of `engine/simd-gemm.ts` (25-45 GFLOP/s at these sizes, on a par with XNNPACK; residual adds are
 * fused into it), and the attention softmax, the layer norms and the embedding gathers in the SIMD
 * row kernels of `engine/simd-ops.ts`. JavaScript only validates ids and moves a few numbers.
 *
 * It computes the same function as the tfjs path (tested to 1e-4), with these exact rewrites:
 * - Padding history positions are dropped before the user-encoder block instead of being masked
 *   (a -1e9 key bias gives them probability exactly 0, and pooling ignores their rows).
 * - Attention columns are padded to a multiple of 4 with -Infinity scores (probability exactly 0)
 *   and zero value rows.
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
import { SimdOps, simdOpsAvailable } from '../engine/simd-ops';
import type { ParamStore } from '../engine/params';
import type { SharedRerankerConfig } from './reranker-base';

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
export interface PrmFastConfig extends SharedRerankerConfig {
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
  g1: number;
  be1: number;
  g2: number;
  be2: number;
}

type Alloc = (floats: number) => number;

function checkIds(name: string, a: ArrayLike<number>, limit: number): void {
  for (let i = 0; i < a.length; i++) {
    const v = a[i] as number;
    if (!(v >= 0 && v < limit))
      throw new RangeError(`${name}[${i}] = ${v} is outside [0, ${limit})`);
  }
}

/** True when the fast path can serve this model at all (SIMD present, table small enough). */
export function prmFastSupported(c: PrmFastConfig): boolean {
  return (
    simdGemmAvailable() && simdOpsAvailable() && (c.numItems + 1) * c.dim <= TABLE_LIMIT_FLOATS
  );
}

/** The fast forward of one PRM (owned by the `Prm` instance). */
export class PrmFast {
  private readonly c: PrmFastConfig;
  private readonly arena: GemmArena;
  private readonly ops: SimdOps;
  private readonly heap: Float32Array;
  private readonly heapI32: Int32Array;
  private readonly d: number;
  private readonly dk: number;
  private readonly useCache: boolean;
  private readonly cacheQ0: boolean; // first list block's Q|K|V from caches (post-norm)
  private readonly cacheHist: boolean; // user-encoder Q|K|V from caches (post-norm transformer)
  // weights (float indices into the arena)
  private readonly table: number; // item representation [V, d]
  private readonly wItem: number;
  private readonly wUser: number;
  private readonly bInS: number; // input bias + constant of the score term, [d]
  private readonly rank: number;
  private readonly pos: number;
  private readonly userTable: number;
  private readonly blocks: BlockBuf[];
  private readonly hist?: BlockBuf;
  private readonly wOut4: number; // [d, 4], column 0 = output weights
  private readonly bOut4: number; // [4]
  private readonly sv: number; // s-direction of the input (concat/add), [d]
  private readonly wfu: Float32Array; // user feature projection [Fu, d]
  private readonly bfu: Float32Array;
  // caches
  private readonly eWi: number; // [V, d]
  private readonly eQ0: number; // [V, 3d]
  private readonly rankQ0: number; // [maxL, 3d]
  private readonly svQ0: number; // [3d]
  private readonly histE: number; // [V, 3d]
  private readonly histPos: number; // [Hmax, 3d] incl. bias
  // activations (rows: the longest list or history, + the GEMM's spare row, rounded up to 4)
  private readonly x: number;
  private readonly qkv: number;
  private readonly kt: number; // K^T [d, cols], columns padded to a multiple of 4
  private readonly s: number; // attention scores [heads, rows, cols]
  private readonly o: number;
  private readonly hid: number;
  private readonly ln: number;
  private readonly gath: number;
  private readonly u: number; // [2, d]
  private readonly uq: number; // [2, 3d]
  private readonly st: number; // [2, d] one user state
  private readonly lg: number; // [rows, 4] logits in column 0
  private readonly mask: number; // [rows] 0 or -Infinity: attention bias of padded columns
  private readonly pool: number; // [rows] 1/n: mean pooling as a 1-row product
  private readonly ids: number; // int32 [rows]
  private readonly ids2: number; // int32 [rows]
  private readonly gains: number; // [rows]
  private readonly scv: number; // [rows] retriever scores
  private readonly ones: number; // [rows] constant 1
  private readonly zeros: number; // constant 0 (also int32 0)
  // the additive terms of the list input, as gatherRows' `extra`: [u, sv, scores] and [u W_qkv, ...]
  private readonly xTerms: readonly [number, number, number];
  private readonly qkvTerms: readonly [number, number, number];
  private vars: Variable[] = [];
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
    const R = Math.ceil((Math.max(c.maxListSize, c.historyLength) + 1) / 4) * 4;
    this.useCache = v * d * 7 + c.maxListSize * 3 * d <= CACHE_LIMIT_FLOATS;
    this.cacheQ0 = this.useCache && c.norm === 'post' && c.blocks > 0;
    this.cacheHist = this.useCache && c.norm === 'post' && c.userEncoder === 'transformer';
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
        g1: alloc(d),
        be1: alloc(d),
        g2: alloc(d),
        be2: alloc(d),
      });
      return {
        table: alloc(v * d),
        wItem: alloc(d * d),
        wUser: alloc(d * d),
        bInS: alloc(d),
        rank: c.rankEmbedding ? alloc(c.maxListSize * d) : 0,
        pos: c.userEncoder === 'transformer' ? alloc(c.historyLength * d) : 0,
        userTable: c.userIdEmbedding ? alloc(c.numUsers * d) : 0,
        blocks: Array.from({ length: c.blocks }, blockBuf),
        hist: c.userEncoder === 'transformer' ? blockBuf() : undefined,
        wOut4: alloc(d * 4),
        bOut4: alloc(4),
        sv: alloc(d),
        eWi: this.useCache ? alloc(v * d) : 0,
        eQ0: this.cacheQ0 ? alloc(v * 3 * d) : 0,
        rankQ0: this.cacheQ0 && c.rankEmbedding ? alloc(c.maxListSize * 3 * d) : 0,
        svQ0: alloc(3 * d),
        histE: this.cacheHist ? alloc(v * 3 * d) : 0,
        histPos: this.cacheHist ? alloc(c.historyLength * 3 * d) : 0,
        x: alloc(R * d),
        qkv: alloc(R * 3 * d),
        kt: alloc(d * R),
        s: alloc(c.heads * R * R),
        o: alloc(R * d),
        hid: alloc(R * f),
        ln: alloc(R * d),
        gath: alloc(R * d),
        u: alloc(2 * d),
        uq: alloc(2 * 3 * d),
        st: alloc(2 * d),
        lg: alloc(R * 4),
        mask: alloc(R),
        pool: alloc(R),
        ids: alloc(R),
        ids2: alloc(R),
        gains: alloc(R),
        scv: alloc(R),
        ones: alloc(R),
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
    this.ops = new SimdOps(this.arena);
    this.heap = this.arena.heap;
    this.heapI32 = new Int32Array(this.heap.buffer);
    const l = layout((n) => this.arena.alloc(n));
    this.table = l.table;
    this.wItem = l.wItem;
    this.wUser = l.wUser;
    this.bInS = l.bInS;
    this.rank = l.rank;
    this.pos = l.pos;
    this.userTable = l.userTable;
    this.blocks = l.blocks;
    this.hist = l.hist;
    this.wOut4 = l.wOut4;
    this.bOut4 = l.bOut4;
    this.sv = l.sv;
    this.eWi = l.eWi;
    this.eQ0 = l.eQ0;
    this.rankQ0 = l.rankQ0;
    this.svQ0 = l.svQ0;
    this.histE = l.histE;
    this.histPos = l.histPos;
    this.x = l.x;
    this.qkv = l.qkv;
    this.kt = l.kt;
    this.s = l.s;
    this.o = l.o;
    this.hid = l.hid;
    this.ln = l.ln;
    this.gath = l.gath;
    this.u = l.u;
    this.uq = l.uq;
    this.st = l.st;
    this.lg = l.lg;
    this.mask = l.mask;
    this.pool = l.pool;
    this.ids = l.ids;
    this.ids2 = l.ids2;
    this.gains = l.gains;
    this.scv = l.scv;
    this.ones = l.ones;
    this.zeros = l.zeros;
    this.heap.fill(1, this.ones, this.ones + R);
    this.xTerms = [this.u, this.sv, this.scv];
    this.qkvTerms = [this.uq, this.svQ0, this.scv];
    this.wfu = new Float32Array(c.userFeatureDim * d);
    this.bfu = new Float32Array(d);
  }

  // ---------------------------------------------------------------- weights and caches

  private data(name: string): Float32Array {
    return this.store.get(name).dataSync() as Float32Array;
  }

  /** Rebuilds weights and caches if any variable (or the side features) changed since last time. */
  sync(features: FastSideFeatures): void {
    if (this.vars.length === 0) this.vars = this.store.names().map((n) => this.store.get(n));
    const vars = this.vars;
    let stale = features.version !== this.featureVersion || vars.length !== this.seen.length;
    for (let i = 0; !stale && i < vars.length; i++) {
      stale = (vars[i] as Variable).dataId !== this.seen[i];
    }
    if (!stale) return;
    this.rebuild(features);
    this.seen = vars.map((x) => x.dataId);
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
    h.set(this.data(`${prefix}/norm1/gamma`), bb.g1);
    h.set(this.data(`${prefix}/norm1/beta`), bb.be1);
    h.set(this.data(`${prefix}/norm2/gamma`), bb.g2);
    h.set(this.data(`${prefix}/norm2/beta`), bb.be2);
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
    if (c.rankEmbedding) h.set(this.data('rank'), this.rank);
    if (c.userEncoder === 'transformer') h.set(this.data('user_encoder/position'), this.pos);
    if (c.userIdEmbedding) h.set(this.data('user_encoder/user'), this.userTable);
    this.blocks.forEach((bb, i) => this.copyBlock(`block${i}`, bb));
    if (this.hist) this.copyBlock('user_encoder/block0', this.hist);
    h.fill(0, this.wOut4, this.wOut4 + 4 * d);
    const wOut = this.data('output/w');
    for (let r = 0; r < d; r++) h[this.wOut4 + 4 * r] = wOut[r] as number;
    h.fill(0, this.bOut4, this.bOut4 + 4);
    h[this.bOut4] = this.data('output/b')[0] as number;
    // e_s(s) W = s (W_s W) + b_s W: sv = W_s W, and b_s W joins the input bias
    const sv = new Float32Array(d);
    const bIn = Float64Array.from(this.data('input/b'));
    if (c.scoreUsage === 'concat' || c.scoreUsage === 'add') {
      const w = this.data(c.scoreUsage === 'concat' ? 'input/w_score' : 'input/w_user');
      const ws = this.data('score/w');
      const bs = this.data('score/b');
      const sc = new Float32Array(d);
      for (let r = 0; r < d; r++) {
        const a1 = ws[r] as number;
        const a2 = bs[r] as number;
        for (let j = 0; j < d; j++) {
          const wr = w[r * d + j] as number;
          sv[j] = (sv[j] as number) + a1 * wr;
          sc[j] = (sc[j] as number) + a2 * wr;
        }
      }
      for (let j = 0; j < d; j++) bIn[j] = (bIn[j] as number) + (sc[j] as number);
    }
    h.set(sv, this.sv);
    h.set(bIn, this.bInS);
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
      this.matvec(sv, b0.wqkv, 3 * d, this.svQ0);
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

  /** heap[out + j] = sum_r vec[r] * heap[w + r * ld + j] for j < ld. */
  private matvec(vec: Float32Array, w: number, ld: number, out: number): void {
    const h = this.heap;
    h.fill(0, out, out + ld);
    for (let r = 0; r < vec.length; r++) {
      const a = vec[r] as number;
      if (a === 0) continue;
      const row = w + r * ld;
      for (let j = 0; j < ld; j++) h[out + j] = (h[out + j] as number) + a * (h[row + j] as number);
    }
  }

  // ---------------------------------------------------------------- layers

  /**
   * Multi-head self-attention of n rows from the packed Q|K|V buffer into `o` (no output
   * projection). Columns are padded to `np`, a multiple of 4: padded keys score -Infinity
   * (probability exactly 0) and padded value rows are zeroed, so the padding adds nothing.
   */
  private attention(n: number): void {
    const h = this.heap;
    const A = this.arena;
    const d = this.d;
    const dk = this.dk;
    const d3 = 3 * d;
    const heads = this.c.heads;
    const { qkv, kt, s, o, mask } = this;
    const np = (n + 3) & ~3;
    const ne = n + (n & 1); // rows of one head's scores, incl. the GEMM's spare row
    for (let r = n; r < np; r++) h.fill(0, qkv + r * d3 + d, qkv + (r + 1) * d3);
    this.ops.transpose(qkv + d, d3, kt, np, np, d);
    h.fill(0, mask, mask + n);
    h.fill(-Infinity, mask + n, mask + np);
    for (let hh = 0; hh < heads; hh++) {
      A.gemm(n, dk, np, qkv + hh * dk, d3, kt + hh * dk * np, np, s + hh * ne * np, np, mask);
    }
    this.ops.softmaxRows(s, heads * ne, np, np);
    for (let hh = 0; hh < heads; hh++) {
      A.gemm(
        n,
        np,
        dk,
        s + hh * ne * np,
        np,
        qkv + 2 * d + hh * dk,
        d3,
        o + hh * dk,
        d,
        this.zeros,
      );
    }
  }

  /**
   * One encoder block on n rows of `x` (in place; residual adds accumulate into `x` inside the
   * GEMM). When `qkvReady`, the packed Q|K|V of the block's input is already in `qkv` (post-norm).
   */
  private block(bb: BlockBuf, n: number, qkvReady: boolean): void {
    const A = this.arena;
    const ops = this.ops;
    const d = this.d;
    const f = this.c.ffnDim;
    const { x, qkv, o, hid, ln } = this;
    if (this.c.norm === 'post') {
      if (!qkvReady) A.gemm(n, d, 3 * d, x, d, bb.wqkv, 3 * d, qkv, 3 * d, bb.bqkv);
      this.attention(n);
      A.gemm(n, d, d, o, d, bb.wo, d, x, d, bb.bo, false, true);
      ops.layerNormRows(x, x, n, d, bb.g1, bb.be1);
      A.gemm(n, d, f, x, d, bb.w1, f, hid, f, bb.b1, true);
      A.gemm(n, f, d, hid, f, bb.w2, d, x, d, bb.b2, false, true);
      ops.layerNormRows(x, x, n, d, bb.g2, bb.be2);
      return;
    }
    ops.layerNormRows(x, ln, n, d, bb.g1, bb.be1);
    A.gemm(n, d, 3 * d, ln, d, bb.wqkv, 3 * d, qkv, 3 * d, bb.bqkv);
    this.attention(n);
    A.gemm(n, d, d, o, d, bb.wo, d, x, d, bb.bo, false, true);
    ops.layerNormRows(x, ln, n, d, bb.g2, bb.be2);
    A.gemm(n, d, f, ln, d, bb.w1, f, hid, f, bb.b1, true);
    A.gemm(n, f, d, hid, f, bb.w2, d, x, d, bb.b2, false, true);
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
    const hi = this.heapI32;
    const d = this.d;
    const d3 = 3 * d;
    const { x, ids, ids2, ones, zeros, st } = this;
    const out = new Float32Array(b * d);
    const pad = c.numItems;
    checkIds('history', history, c.numItems + 1);
    checkIds('user', user, c.numUsers);
    const hmax = c.historyLength;
    const transformer = c.userEncoder === 'transformer';
    for (let li = 0; li < b; li++) {
      let n = 0;
      for (let t = 0; t < hLen; t++) {
        const id = history[li * hLen + t] as number;
        if (id === pad) continue;
        hi[ids + n] = id;
        hi[ids2 + n] = hmax - hLen + t;
        n++;
      }
      const u = user[li] as number;
      const userRow = c.userIdEmbedding ? this.userTable + u * d : zeros;
      if (n > 0) {
        // item representation (+ position embedding)
        const posTable = transformer ? this.pos : zeros;
        this.ops.gatherRows(x, n, d, ids, this.table, d, ones, ids2, posTable, transformer ? d : 0);
        if (transformer && this.hist) {
          if (this.cacheHist) {
            this.ops.gatherRows(this.qkv, n, d3, ids, this.histE, d3, ones, ids2, this.histPos, d3);
          }
          this.block(this.hist, n, this.cacheHist);
        }
        // mean over the n rows (+ user-ID embedding) as a 1 x n by n x d product
        h.fill(1 / n, this.pool, this.pool + n);
        this.arena.gemm(1, n, d, this.pool, 0, x, d, st, d, userRow);
        out.set(h.subarray(st, st + d), li * d);
      } else {
        out.set(h.subarray(userRow, userRow + d), li * d);
      }
      if (c.userFeatureDim > 0) {
        const st0 = li * d;
        const fu = c.userFeatureDim;
        const feats = features.user;
        if (!feats) throw new Error('PRM: user features are missing (call setSideFeatures)');
        for (let j = 0; j < d; j++)
          out[st0 + j] = (out[st0 + j] as number) + (this.bfu[j] as number);
        for (let q = 0; q < fu; q++) {
          const fv = feats[u * fu + q] as number;
          if (fv === 0) continue;
          for (let j = 0; j < d; j++) {
            out[st0 + j] = (out[st0 + j] as number) + fv * (this.wfu[q * d + j] as number);
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
    const hi = this.heapI32;
    const d = this.d;
    const d3 = 3 * d;
    const A = this.arena;
    const ops = this.ops;
    const out = new Float32Array(b * l);
    checkIds('items', items, c.numItems + 1);
    if (ranks && c.rankEmbedding) checkIds('ranks', ranks, c.maxListSize);
    const weight = c.scoreUsage === 'weight';
    const { x, u, uq, ids, ids2, gains, scv, ones, zeros, gath } = this;
    const rankTable = c.rankEmbedding ? this.rank : zeros;
    const rankLd = c.rankEmbedding ? d : 0;
    for (let li = 0; li < b; li++) {
      // u = state W_u + b_in (+ b_s W for concat/add), as a 1-row product
      for (let j = 0; j < d; j++) h[gath + j] = states[li * d + j] as number;
      A.gemm(1, d, d, gath, d, this.wUser, d, u, d, this.bInS);
      for (let i = 0; i < l; i++) {
        const s = scores[li * l + i] as number;
        hi[ids + i] = items[li * l + i] as number;
        hi[ids2 + i] = ranks ? (ranks[li * l + i] as number) : i;
        h[gains + i] = weight ? s : 1;
        h[scv + i] = s;
      }
      // x = g_i (e_i W_item) + u + s_i sv + rank_i   (g_i = s_i for 'weight', else 1; sv = 0 unless concat/add)
      if (this.useCache) {
        ops.gatherRows(x, l, d, ids, this.eWi, d, gains, ids2, rankTable, rankLd, this.xTerms);
      } else {
        ops.gatherRows(gath, l, d, ids, this.table, d, gains, ids2, zeros, 0);
        ops.gatherRows(x, l, d, ids2, rankTable, rankLd, ones, ids, zeros, 0, this.xTerms);
        A.gemm(l, d, d, gath, d, this.wItem, d, x, d, zeros, false, true);
      }
      const b0 = this.blocks[0];
      if (this.cacheQ0 && b0) {
        // the same sum for the first block's Q|K|V, from the per-item caches
        A.gemm(1, d, d3, u, d, b0.wqkv, d3, uq, d3, b0.bqkv);
        const rq = c.rankEmbedding ? this.rankQ0 : zeros;
        ops.gatherRows(
          this.qkv,
          l,
          d3,
          ids,
          this.eQ0,
          d3,
          gains,
          ids2,
          rq,
          c.rankEmbedding ? d3 : 0,
          this.qkvTerms,
        );
      }
      this.blocks.forEach((bb, i) => this.block(bb, l, i === 0 && this.cacheQ0));
      A.gemm(l, d, 4, x, d, this.wOut4, 4, this.lg, 4, this.bOut4);
      for (let i = 0; i < l; i++) out[li * l + i] = h[this.lg + 4 * i] as number;
    }
    return out;
  }
}

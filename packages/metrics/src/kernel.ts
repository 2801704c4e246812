/**
 * The per-list evaluation kernel shared by {@link evaluateLists}, the single-list functions and
 * the streaming accumulator. It owns reusable typed buffers for one list (scores, labels, an
 * index permutation and a merge scratch), so evaluating many lists allocates nothing per list.
 * Inputs are assumed validated (finite scores, 0/1 labels, whole lists).
 *
 * @internal Not exported from the package entry.
 */
import type { LabelArray, ScoreArray } from './types';

/** Metric slots per cut-off inside {@link ListKernel.sums} and {@link ListKernel.perList}. */
export const SLOT_HR = 0;
export const SLOT_NDCG = 1;
export const SLOT_MAP = 2;
export const SLOT_F1 = 3;
export const SLOTS = 4;

/** Lists up to this length are sorted by plain insertion sort; longer ones by a merge sort over sorted runs. */
const RUN = 16;

/**
 * Sorts `a[0..n)` (a permutation of list positions) by score descending; equal scores keep the
 * order they have in `a`, so starting from `0..n-1` ties come out lower index first. Stable
 * insertion sort on runs of {@link RUN}, then bottom-up stable merges ping-ponging between `a`
 * and `b`. Returns the buffer that holds the result.
 */
export function sortIndicesDescending(
  s: Float64Array,
  a: Int32Array,
  b: Int32Array,
  n: number,
): Int32Array {
  for (let lo = 0; lo < n; lo += RUN) {
    const hi = lo + RUN < n ? lo + RUN : n;
    for (let i = lo + 1; i < hi; i++) {
      const v = a[i]!;
      const sv = s[v]!;
      let j = i - 1;
      // Shift only past strictly smaller scores: equal scores stay in front (stability).
      while (j >= lo && s[a[j]!]! < sv) {
        a[j + 1] = a[j]!;
        j--;
      }
      a[j + 1] = v;
    }
  }
  if (n <= RUN) return a;
  let src = a;
  let dst = b;
  for (let width = RUN; width < n; width *= 2) {
    for (let lo = 0; lo < n; lo += 2 * width) {
      const mid = lo + width < n ? lo + width : n;
      const hi = lo + 2 * width < n ? lo + 2 * width : n;
      let i = lo;
      let j = mid;
      let o = lo;
      while (i < mid && j < hi) {
        // Take from the right run only when strictly larger: ties keep the left (lower) first.
        if (s[src[j]!]! > s[src[i]!]!) dst[o++] = src[j++]!;
        else dst[o++] = src[i++]!;
      }
      while (i < mid) dst[o++] = src[i++]!;
      while (j < hi) dst[o++] = src[j++]!;
    }
    const t = src;
    src = dst;
    dst = t;
  }
  return src;
}

/**
 * Evaluates lists of a fixed size at one or more cut-offs and keeps running macro sums.
 * Sums are accumulated list by list in input order, so splitting the same lists into batches
 * gives bit-for-bit the same sums as one call.
 */
export class ListKernel {
  readonly listSize: number;
  readonly ks: Int32Array;
  /** Running sums over counted lists: `sums[t * SLOTS + slot]` for cut-off `ks[t]`. */
  readonly sums: Float64Array;
  /** Values of the last list passed to {@link evaluateList}, laid out like {@link sums}. */
  readonly perList: Float64Array;
  /** Per-list AUC of the last list (NaN when it lacks a class). */
  lastAuc = Number.NaN;
  /** Lists with at least one positive (averaged for hr/ndcg/map/f1). */
  lists = 0;
  /** Lists seen, with or without positives. */
  listsSeen = 0;
  /** Sum of per-list AUCs over the lists that hold both classes. */
  aucSum = 0;
  /** Lists that hold both classes. */
  aucLists = 0;

  private readonly s: Float64Array;
  private readonly y: Uint8Array;
  private readonly idx: Int32Array;
  private readonly scratch: Int32Array;
  /** `discount[r] = 1 / log2(r + 1)` for ranks `r = 1..listSize`. */
  private readonly discount: Float64Array;
  /** `idcg[m] = sum_{r=1..m} discount[r]`: the DCG of `m` hits in the first `m` ranks. */
  private readonly idcg: Float64Array;

  constructor(listSize: number, ks: Int32Array) {
    this.listSize = listSize;
    this.ks = ks;
    this.sums = new Float64Array(ks.length * SLOTS);
    this.perList = new Float64Array(ks.length * SLOTS);
    this.s = new Float64Array(listSize);
    this.y = new Uint8Array(listSize);
    this.idx = new Int32Array(listSize);
    this.scratch = new Int32Array(listSize);
    let maxRank = 0;
    for (let t = 0; t < ks.length; t++) maxRank = Math.max(maxRank, Math.min(ks[t]!, listSize));
    this.discount = new Float64Array(maxRank + 1);
    this.idcg = new Float64Array(maxRank + 1);
    for (let r = 1; r <= maxRank; r++) {
      this.discount[r] = 1 / Math.log2(r + 1);
      this.idcg[r] = this.idcg[r - 1]! + this.discount[r]!;
    }
  }

  /** Clears the running sums and counters. */
  reset(): void {
    this.sums.fill(0);
    this.lists = 0;
    this.listsSeen = 0;
    this.aucSum = 0;
    this.aucLists = 0;
  }

  /**
   * Evaluates the list at rows `offset .. offset + listSize - 1`, writing its metrics into
   * {@link perList} and {@link lastAuc}. Returns the number of positives (0 means the list is
   * excluded from the averages; `perList` is then NaN).
   */
  evaluateList(scores: ScoreArray, labels: LabelArray, offset: number): number {
    const L = this.listSize;
    const s = this.s;
    const y = this.y;
    const idx = this.idx;
    let npos = 0;
    for (let j = 0; j < L; j++) {
      // `+ 0` turns -0 into +0 so that the two zeros are one tied value everywhere.
      s[j] = scores[offset + j]! + 0;
      const label = labels[offset + j] === 1 ? 1 : 0;
      y[j] = label;
      npos += label;
      idx[j] = j;
    }
    const perList = this.perList;
    const ks = this.ks;
    if (npos === 0) {
      perList.fill(Number.NaN);
      this.lastAuc = Number.NaN;
      return 0;
    }
    const order = sortIndicesDescending(s, idx, this.scratch, L);
    const discount = this.discount;
    for (let t = 0; t < ks.length; t++) {
      const k = ks[t]!;
      const top = k < L ? k : L;
      let hits = 0;
      let dcg = 0;
      let ap = 0;
      for (let r = 1; r <= top; r++) {
        if (y[order[r - 1]!] === 1) {
          hits++;
          dcg += discount[r]!;
          ap += hits / r;
        }
      }
      const ideal = npos < k ? npos : k;
      const base = t * SLOTS;
      perList[base + SLOT_HR] = hits / k;
      perList[base + SLOT_NDCG] = dcg / this.idcg[ideal]!;
      perList[base + SLOT_MAP] = ap / ideal;
      // 2PR / (P + R) with P = hits/k and R = hits/npos simplifies to 2 hits / (k + npos).
      perList[base + SLOT_F1] = hits === 0 ? 0 : (2 * hits) / (k + npos);
    }
    const nneg = L - npos;
    if (nneg === 0) {
      this.lastAuc = Number.NaN;
      return npos;
    }
    // Mann-Whitney U over the descending order, one group of tied scores at a time: each
    // positive wins against the negatives below its group and gets 1/2 per tied negative.
    let u = 0;
    let negAbove = 0;
    let i = 0;
    while (i < L) {
      const v = s[order[i]!]!;
      let p = 0;
      let q = 0;
      while (i < L && s[order[i]!] === v) {
        if (y[order[i]!] === 1) p++;
        else q++;
        i++;
      }
      if (p > 0) u += p * (nneg - negAbove - q) + 0.5 * p * q;
      negAbove += q;
    }
    this.lastAuc = u / (npos * nneg);
    return npos;
  }

  /** Evaluates `count` whole lists starting at list `firstList` and adds them to the running sums. */
  addLists(scores: ScoreArray, labels: LabelArray, firstList: number, count: number): void {
    const L = this.listSize;
    const sums = this.sums;
    const perList = this.perList;
    const width = sums.length;
    for (let i = firstList; i < firstList + count; i++) {
      this.listsSeen++;
      if (this.evaluateList(scores, labels, i * L) === 0) continue;
      this.lists++;
      for (let m = 0; m < width; m++) sums[m]! += perList[m]!;
      const a = this.lastAuc;
      if (a === a) {
        this.aucSum += a;
        this.aucLists++;
      }
    }
  }
}

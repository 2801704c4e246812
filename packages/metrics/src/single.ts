/**
 * Metrics of one list. Same definitions as {@link evaluateLists} (see there for the reasons);
 * the whole array is one list. A list without positives has no defined value (it is left out of
 * every average), so these functions return `NaN` for it rather than 0.
 */
import { ListKernel, SLOT_F1, SLOT_HR, SLOT_MAP, SLOT_NDCG } from './kernel';
import { exactPooledAuc } from './pooled-auc';
import type { LabelArray, ScoreArray } from './types';
import { assertPositiveInteger, checkSingleList, toKs } from './validate';

function single(scores: ScoreArray, labels: LabelArray, k: number, slot: number): number {
  assertPositiveInteger(k, 'k');
  checkSingleList(scores, labels);
  const ks = toKs([k], 'k');
  const kernel = new ListKernel(scores.length, ks);
  if (kernel.evaluateList(scores, labels, 0) === 0) return Number.NaN;
  return kernel.perList[slot]!;
}

/**
 * Hit ratio of one list: `hits / k` (positives among the `k` highest scores, ties to the lower
 * index), in `[0, 1]`; with `k > scores.length` it is at most `npos / k`.
 *
 * @param scores - `[listSize]` finite scores.
 * @param labels - `[listSize]` labels, each 0 or 1.
 * @param k - cut-off, a positive integer.
 * @returns `NaN` when the list has no positive.
 */
export function hitRatioAtK(scores: ScoreArray, labels: LabelArray, k: number): number {
  return single(scores, labels, k, SLOT_HR);
}

/**
 * NDCG@k of one list with binary gains: `DCG / IDCG`, `DCG = sum_{r <= k} rel_r / log2(r + 1)`,
 * `IDCG` the DCG of `min(npos, k)` hits at the top. In `[0, 1]`.
 *
 * @param scores - `[listSize]` finite scores.
 * @param labels - `[listSize]` labels, each 0 or 1.
 * @param k - cut-off, a positive integer.
 * @returns `NaN` when the list has no positive.
 */
export function ndcgAtK(scores: ScoreArray, labels: LabelArray, k: number): number {
  return single(scores, labels, k, SLOT_NDCG);
}

/**
 * MAP@k of one list: `(sum over ranks r <= k holding a positive of hits_so_far(r) / r) /
 * min(npos, k)`, in `[0, 1]`; dividing by `min(npos, k)` penalises positives missed from the top k.
 *
 * @param scores - `[listSize]` finite scores.
 * @param labels - `[listSize]` labels, each 0 or 1.
 * @param k - cut-off, a positive integer.
 * @returns `NaN` when the list has no positive.
 */
export function mapAtK(scores: ScoreArray, labels: LabelArray, k: number): number {
  return single(scores, labels, k, SLOT_MAP);
}

/**
 * F1@k of one list: `2PR / (P + R)` with `P = hits / k`, `R = hits / npos` (equal to
 * `2 hits / (k + npos)`), and 0 when `hits = 0`. In `[0, 1]`.
 *
 * @param scores - `[listSize]` finite scores.
 * @param labels - `[listSize]` labels, each 0 or 1.
 * @param k - cut-off, a positive integer.
 * @returns `NaN` when the list has no positive.
 */
export function f1AtK(scores: ScoreArray, labels: LabelArray, k: number): number {
  return single(scores, labels, k, SLOT_F1);
}

/**
 * Mann-Whitney ROC-AUC of scores against 0/1 labels: the fraction of (positive, negative) pairs
 * in which the positive scores higher, ties counting 1/2. Order-free (no cut-off, no tie-break).
 * Exact, `O(n log n)`. Applied to all rows of many lists it gives `aucGlobal` of
 * {@link evaluateLists}; applied to one list, that list's term of `auc`.
 *
 * @param scores - `[n]` finite scores.
 * @param labels - `[n]` labels, each 0 or 1.
 * @returns a value in `[0, 1]`, or `NaN` when the rows hold only one class.
 */
export function auc(scores: ScoreArray, labels: LabelArray): number {
  checkSingleList(scores, labels);
  return exactPooledAuc(scores, labels, 0, scores.length);
}

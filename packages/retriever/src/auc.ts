import { createRng } from '@dnr/data';
import { mfLogit } from './mf';
import type { MFModel } from './mf';
import { buildUserItemIndex, sampleNegative, validatePairs } from './pairs';
import type { InteractionPairs, UserItemIndex } from './pairs';

/**
 * Mann-Whitney ROC-AUC of positive vs negative scores: the probability that a random positive
 * scores above a random negative, ties counted 1/2. Sorts copies (inputs are not modified);
 * O((P + N) log(P + N)). NaN scores are rejected.
 * @param pos scores of positives [P]
 * @param neg scores of negatives [N]
 * @returns AUC in [0, 1], or NaN when either side is empty.
 */
export function mannWhitneyAuc(pos: ArrayLike<number>, neg: ArrayLike<number>): number {
  if (pos.length === 0 || neg.length === 0) return NaN;
  const p = Float64Array.from(pos).sort();
  const n = Float64Array.from(neg).sort();
  if (Number.isNaN(p[p.length - 1]!) || Number.isNaN(n[n.length - 1]!)) {
    throw new RangeError('mannWhitneyAuc: scores contain NaN');
  }
  // For each positive, count negatives strictly below (lo) and equal (hi - lo).
  let lo = 0;
  let hi = 0;
  let sum = 0;
  for (let k = 0; k < p.length; k++) {
    const s = p[k]!;
    while (lo < n.length && n[lo]! < s) lo++;
    if (hi < lo) hi = lo;
    while (hi < n.length && n[hi]! <= s) hi++;
    sum += lo + 0.5 * (hi - lo);
  }
  return sum / (p.length * n.length);
}

/** Options of {@link retrieverAuc}. */
export interface RetrieverAucOptions {
  /** Negatives sampled per held-out positive (default 1). */
  negativesPerPositive?: number;
  /** Seed of the negative sampler (required). */
  seed: number;
  /**
   * Items never drawn as negatives for a user (typically every item the user interacted with).
   * Default: the held-out pairs themselves.
   */
  exclude?: UserItemIndex;
}

/**
 * Global ROC-AUC of held-out positives against uniformly sampled negatives (items outside
 * `exclude` for that user) — the retriever AUC of the DNR paper's Table 8 (MF on ML-1M: 79.20 %).
 * Logits are compared (same order as the sigmoid scores, without saturation ties).
 * @param heldOut held-out positive pairs [P]
 * @returns AUC in [0, 1] (NaN when there is no positive or no negative could be drawn).
 */
export function retrieverAuc(
  model: MFModel,
  heldOut: InteractionPairs,
  options: RetrieverAucOptions,
): number {
  validatePairs(heldOut, 'heldOut');
  if (heldOut.numUsers !== model.numUsers || heldOut.numItems !== model.numItems) {
    throw new RangeError(
      `retrieverAuc: heldOut has ${heldOut.numUsers} users / ${heldOut.numItems} items, ` +
        `the model ${model.numUsers} / ${model.numItems}`,
    );
  }
  const m = options.negativesPerPositive ?? 1;
  if (!Number.isInteger(m) || m < 1) {
    throw new RangeError(`negativesPerPositive must be an integer >= 1, got ${m}`);
  }
  const exclude = options.exclude ?? buildUserItemIndex(heldOut);
  if (exclude.numUsers !== model.numUsers || exclude.numItems !== model.numItems) {
    throw new RangeError('retrieverAuc: exclude index does not match the model sizes');
  }
  const rng = createRng(options.seed);
  const P = heldOut.user.length;
  const pos = new Float64Array(P);
  const neg = new Float64Array(P * m);
  let nNeg = 0;
  for (let k = 0; k < P; k++) {
    const u = heldOut.user[k]!;
    pos[k] = mfLogit(model, u, heldOut.item[k]!);
    for (let t = 0; t < m; t++) {
      const j = sampleNegative(exclude, u, rng);
      if (j >= 0) neg[nNeg++] = mfLogit(model, u, j);
    }
  }
  return mannWhitneyAuc(pos, neg.subarray(0, nNeg));
}

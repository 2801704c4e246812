/** Retriever quality of one split's candidate lists (fractions in [0, 1]). */
export interface SplitDiagnostics {
  /** Lists of this split. */
  lists: number;
  /** Mean per-list Mann-Whitney AUC (ties 1/2) over lists holding both classes; NaN if none. */
  auc: number;
  /** Lists that entered `auc`. */
  aucLists: number;
  /** Mean NDCG@k over lists with at least one positive; NaN if none. */
  ndcg: number;
  /** Lists that entered `ndcg`. */
  ndcgLists: number;
}

/** Result of {@link retrieverListDiagnostics}. */
export interface RetrieverDiagnostics {
  k: number;
  train: SplitDiagnostics;
  validation: SplitDiagnostics;
  test: SplitDiagnostics;
  /** Set when the train lists' AUC exceeds the test lists' by more than `maxGap` (a leak symptom). */
  warning?: string;
}

/** The scored candidate lists to diagnose (the matching fields of a `RerankDataset`). */
export interface ScoredLists {
  /** Retriever scores [n * listSize], list-major. */
  readonly scores: Float32Array;
  /** Binary labels [n * listSize]. */
  readonly labels: Uint8Array;
  /** Split of each list [n] (0 train, 1 validation, 2 test). */
  readonly split: Uint8Array;
  readonly listSize: number;
}

/**
 * Per-list retriever AUC and NDCG@k on the train, validation and test lists (definitions of
 * `@dnr/metrics`: rank by score descending, ties by the lower original index; binary gains,
 * discount 1/log2(rank+1), IDCG over min(npos, k) hits; AUC ties count 1/2). Computed locally
 * (one insertion sort per list, no per-list allocation) so this package does not depend on the
 * metrics package at runtime. Returns a warning string when the train lists' AUC exceeds the test
 * lists' by more than `maxGap` (default 0.05) — the symptom of a retriever that saw the training
 * lists (protocol.md §0b.1). NDCG is reported, not tested: on MovieLens it is 5-10 points higher
 * on training lists even with cross-fitting, because training windows sit between the windows
 * their retriever was fitted on while test windows come last (temporal drift, not leakage).
 */
export function retrieverListDiagnostics(
  lists: ScoredLists,
  options: { k?: number; maxGap?: number } = {},
): RetrieverDiagnostics {
  const { scores, labels, split, listSize: L } = lists;
  const k = options.k ?? 6;
  const maxGap = options.maxGap ?? 0.05;
  if (!Number.isInteger(L) || L < 1)
    throw new RangeError(`listSize must be an integer >= 1, got ${L}`);
  if (!Number.isInteger(k) || k < 1) throw new RangeError(`k must be an integer >= 1, got ${k}`);
  const n = split.length;
  if (scores.length !== n * L) {
    throw new RangeError(
      `scores has ${scores.length} entries, expected split.length * listSize = ${n * L}`,
    );
  }
  if (labels.length !== n * L) {
    throw new RangeError(
      `labels has ${labels.length} entries, expected split.length * listSize = ${n * L}`,
    );
  }
  const sums = new Float64Array(3 * 5); // per split: lists, aucSum, aucLists, ndcgSum, ndcgLists
  const order = new Int32Array(L);
  for (let l = 0; l < n; l++) {
    const sp = split[l]!;
    if (sp > 2) throw new RangeError(`split[${l}] = ${sp} is not 0, 1 or 2`);
    const o = l * L;
    // insertion sort of positions by (score desc, index asc)
    for (let j = 0; j < L; j++) {
      const s = scores[o + j]!;
      let t = j - 1;
      while (t >= 0 && scores[o + order[t]!]! < s) {
        order[t + 1] = order[t]!;
        t--;
      }
      order[t + 1] = j;
    }
    let npos = 0;
    for (let j = 0; j < L; j++) npos += labels[o + j]! > 0 ? 1 : 0;
    const nneg = L - npos;
    const b = sp * 5;
    sums[b]!++;
    if (npos > 0) {
      let dcg = 0;
      for (let r = 0; r < Math.min(k, L); r++) {
        if (labels[o + order[r]!]! > 0) dcg += 1 / Math.log2(r + 2);
      }
      let idcg = 0;
      for (let r = 0; r < Math.min(npos, k); r++) idcg += 1 / Math.log2(r + 2);
      sums[b + 3]! += dcg / idcg;
      sums[b + 4]!++;
    }
    if (npos > 0 && nneg > 0) {
      // walk tie groups from the top; count (pos, neg) pairs with the positive above
      let negAbove = 0;
      let wins = 0;
      let r = 0;
      while (r < L) {
        const s = scores[o + order[r]!]!;
        let gp = 0;
        let gn = 0;
        while (r < L && scores[o + order[r]!]! === s) {
          if (labels[o + order[r]!]! > 0) gp++;
          else gn++;
          r++;
        }
        wins += gp * (nneg - negAbove - gn) + 0.5 * gp * gn;
        negAbove += gn;
      }
      sums[b + 1]! += wins / (npos * nneg);
      sums[b + 2]!++;
    }
  }
  const get = (sp: number): SplitDiagnostics => {
    const b = sp * 5;
    return {
      lists: sums[b]!,
      auc: sums[b + 2]! > 0 ? sums[b + 1]! / sums[b + 2]! : NaN,
      aucLists: sums[b + 2]!,
      ndcg: sums[b + 4]! > 0 ? sums[b + 3]! / sums[b + 4]! : NaN,
      ndcgLists: sums[b + 4]!,
    };
  };
  const train = get(0);
  const validation = get(1);
  const test = get(2);
  const pct = (x: number): string => (x * 100).toFixed(1);
  const result: RetrieverDiagnostics = { k, train, validation, test };
  if (train.auc - test.auc > maxGap) {
    result.warning =
      `retriever per-list AUC is higher on training lists than on test lists by more than ` +
      `${pct(maxGap)} points (AUC train ${pct(train.auc)} vs test ${pct(test.auc)}; ` +
      `NDCG@${k} train ${pct(train.ndcg)} vs test ${pct(test.ndcg)}): the retriever probably saw ` +
      `the training lists' interactions (or was fitted on data much closer in time to them); ` +
      `use cross-fitting (protocol.md 0b.1)`;
  }
  return result;
}

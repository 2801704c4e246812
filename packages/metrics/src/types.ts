/**
 * Public data types of `@dnr/metrics`.
 *
 * Every per-candidate array is list-major: `n` lists of `listSize` candidates laid out as
 * `[n * listSize]`, so list `i` owns rows `i * listSize .. (i + 1) * listSize - 1`.
 */

/**
 * Model scores, one per candidate row (`[n * listSize]`, list-major). Any finite numbers;
 * `Float32Array` and `number[]` are the common cases, `Float64Array` works too.
 */
export type ScoreArray = ArrayLike<number>;

/**
 * Binary relevance labels aligned with the scores (`[n * listSize]`): every entry must be
 * exactly `0` or `1`. `Uint8Array`, `Float32Array`, `Int32Array` and `number[]` all work.
 */
export type LabelArray = ArrayLike<number>;

/**
 * Macro-averaged list metrics. Every metric is a fraction in `[0, 1]` (multiply by 100 for
 * the paper's tables), or `NaN` when it is undefined for the data (see each field).
 */
export interface ListMetrics {
  /**
   * Hit ratio `H@k = hits / k`, averaged over the lists that hold a positive.
   * `NaN` when no list holds a positive.
   */
  hr: number;
  /** `NDCG@k` with binary gains, averaged over the lists that hold a positive (`NaN` if none). */
  ndcg: number;
  /** `MAP@k` normalised by `min(npos, k)`, averaged over the lists that hold a positive (`NaN` if none). */
  map: number;
  /** `F1@k` of `P = hits / k` and `R = hits / npos`, averaged over the lists that hold a positive (`NaN` if none). */
  f1: number;
  /**
   * Mean per-list Mann-Whitney AUC over the lists that hold both classes (a list that is all
   * positive has no AUC). `NaN` when no list holds both classes.
   */
  auc: number;
  /**
   * The Mann-Whitney AUC of all rows pooled (every list, including lists without positives).
   * `NaN` when the pooled rows hold only one class.
   */
  aucGlobal: number;
  /** Number of lists averaged for `hr`, `ndcg`, `map` and `f1`: the lists with at least one positive. */
  lists: number;
}

/** Input of {@link evaluateLists}. */
export interface EvaluateListsInput {
  /** Scores `[n * listSize]`, list-major, all finite. */
  scores: ScoreArray;
  /** Labels `[n * listSize]`, each `0` or `1`. */
  labels: LabelArray;
  /** Candidates per list (a positive integer dividing `scores.length`). */
  listSize: number;
  /** Cut-off `k` (a positive integer; `k > listSize` is allowed, see {@link evaluateLists}). */
  k: number;
}

/** Input of {@link evaluateListsAtKs}: like {@link EvaluateListsInput} with several cut-offs. */
export interface EvaluateListsAtKsInput {
  /** Scores `[n * listSize]`, list-major, all finite. */
  scores: ScoreArray;
  /** Labels `[n * listSize]`, each `0` or `1`. */
  labels: LabelArray;
  /** Candidates per list (a positive integer dividing `scores.length`). */
  listSize: number;
  /** Cut-offs, each a positive integer (at least one; duplicates allowed, order kept). */
  ks: readonly number[];
}

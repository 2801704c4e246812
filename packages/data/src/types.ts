/**
 * Core data contracts shared by every DNR package. Everything is columnar typed arrays:
 * one entry per row, list-major for per-candidate arrays, so batches are cheap slices.
 */

/** Which split a request belongs to. */
export const Split = { train: 0, validation: 1, test: 2 } as const;
/** Numeric split code: 0 = train, 1 = validation, 2 = test. */
export type SplitCode = (typeof Split)[keyof typeof Split];
/** Split names as used in configs and reports. */
export type SplitName = keyof typeof Split;

/**
 * Interactions as loaded from a file, with users and items re-indexed densely (0..n-1)
 * in order of first appearance. Row order is file order.
 */
export interface Interactions {
  /** Dense user index per row. */
  readonly user: Int32Array;
  /** Dense item index per row. */
  readonly item: Int32Array;
  /** Rating per row; `NaN` for implicit formats (every row positive). */
  readonly rating: Float32Array;
  /** Timestamp per row (seconds); `NaN` when the format carries no time (file order is time order). */
  readonly timestamp: Float64Array;
  /** Original id of each dense user index. */
  readonly userIds: readonly string[];
  /** Original id of each dense item index. */
  readonly itemIds: readonly string[];
  /** True when the format has no ratings (every interaction is a positive). */
  readonly implicit: boolean;
  /** Where the rows came from (a path or a description), for error messages and reports. */
  readonly source: string;
}

/**
 * The reranking requests of the protocol: per-user chronological sequences, cut into
 * non-overlapping windows of `windowSize` exposed items. History of a request = the user's
 * interactions before the window (the last `historyCap` of them).
 */
export interface RequestSet {
  readonly numUsers: number;
  readonly numItems: number;
  /** Items per window (6 in the paper). */
  readonly windowSize: number;
  /** Per-user sequences, concatenated in user order; user u owns `seqItems[seqStart[u] .. seqStart[u+1])`. */
  readonly seqStart: Int32Array;
  /** Dense item index of every kept interaction, per user in time order. */
  readonly seqItems: Int32Array;
  /** 1 when the interaction is a positive (rating >= threshold, or implicit). Aligned with `seqItems`. */
  readonly seqPositive: Uint8Array;
  /** User of each request [R]. */
  readonly user: Int32Array;
  /** Offset of each request's window inside its user's sequence [R] (the window is `pos .. pos+windowSize`). */
  readonly pos: Int32Array;
  /** Index of each request's window among its user's kept windows, 0-based in time order [R]. */
  readonly windowIndex: Int32Array;
  /** Split of each request [R] (see {@link Split}). */
  readonly split: Uint8Array;
  /** Original ids, for reports. */
  readonly userIds: readonly string[];
  readonly itemIds: readonly string[];
}

/**
 * Scored candidate lists ready for rerankers. `n` lists of `listSize` candidates, each list
 * ordered by retriever score (descending). Per-candidate arrays are list-major `[n * listSize]`.
 */
export interface RerankDataset {
  readonly numUsers: number;
  /** Number of items; item index `numItems` is the padding index (embedding tables need numItems + 1 rows). */
  readonly numItems: number;
  readonly listSize: number;
  /** History length H (padded). */
  readonly historyLength: number;
  /** User of each list [n]. */
  readonly user: Int32Array;
  /** History item indices [n * H], most recent last, left-padded with `numItems`. */
  readonly history: Int32Array;
  /** Number of real (non-padding) history items per list [n]. */
  readonly historyCount: Int32Array;
  /** Candidate items [n * listSize], in retriever order. */
  readonly items: Int32Array;
  /** Retriever scores [n * listSize], descending within each list. */
  readonly scores: Float32Array;
  /** Binary labels [n * listSize]. */
  readonly labels: Uint8Array;
  /** Split of each list [n]. */
  readonly split: Uint8Array;
  /** Optional true click probabilities [n * listSize] (synthetic lab only), for oracle rows. */
  readonly trueProbs?: Float32Array;
  /** Optional dense user side features [numUsers * userFeatureDim]. */
  readonly userFeatures?: Float32Array;
  readonly userFeatureDim?: number;
  /** Optional dense item side features [(numItems + 1) * itemFeatureDim] (padding row of zeros last). */
  readonly itemFeatures?: Float32Array;
  readonly itemFeatureDim?: number;
  /** Free-form provenance (dataset name, config hash, retriever AUCs...). */
  readonly meta: Readonly<Record<string, unknown>>;
}

/**
 * Dataset statistics (the `dnr-bench data stats` contract) and a one-call pipeline
 * load -> k-core -> requests.
 */
import type { LoadInteractionsOptions } from '../io/interactions';
import { loadInteractions } from '../io/interactions';
import type { Interactions, RequestSet } from '../types';
import type { KCoreOptions } from './kcore';
import { kCore } from './kcore';
import type { BuildRequestsOptions, BuiltRequestSet } from './requests';
import { buildRequests } from './requests';

/**
 * Statistics after the protocol, exactly the JSON object of `dnr-bench data stats`:
 * users, items and interactions after the k-core filter; `requests` = kept windows;
 * `positives` = positive interactions inside the kept windows.
 */
export interface DatasetStats {
  readonly users: number;
  readonly items: number;
  readonly interactions: number;
  readonly requests: number;
  readonly positives: number;
}

/**
 * Computes {@link DatasetStats} of a request set. Users and items are those of the filtered
 * interactions the requests were built from (`numUsers`, `numItems`), interactions are all of
 * their rows (`seqItems.length`, including rows outside any kept window).
 *
 * @param requests - output of {@link buildRequests}
 * @returns `{ users, items, interactions, requests, positives }`, keys in this order
 */
export function datasetStats(requests: RequestSet): DatasetStats {
  const { seqStart, seqPositive, user, pos, windowSize } = requests;
  let positives = 0;
  for (let r = 0; r < user.length; r++) {
    const a = seqStart[user[r]!]! + pos[r]!;
    for (let k = a; k < a + windowSize; k++) positives += seqPositive[k]!;
  }
  return {
    users: requests.numUsers,
    items: requests.numItems,
    interactions: requests.seqItems.length,
    requests: user.length,
    positives,
  };
}

/** Options of {@link prepareRequests}: loading, k-core and request options together. */
export interface PrepareRequestsOptions
  extends LoadInteractionsOptions, KCoreOptions, BuildRequestsOptions {
  /**
   * Shorthand for both k-core thresholds (the CLI's `--min-interactions`); the specific
   * `minUserInteractions` / `minItemInteractions` win when given. Default 20.
   */
  readonly minInteractions?: number;
}

/** Result of {@link prepareRequests}. */
export interface PreparedRequests {
  /** Counts of the file as loaded, before the k-core filter. */
  readonly raw: {
    readonly rows: number;
    readonly users: number;
    readonly items: number;
    /** Repeated (user, item) rows found while loading (see `duplicates` option). */
    readonly duplicates: number;
  };
  /** Interactions after the k-core filter. */
  readonly interactions: Interactions;
  /** Requests built from them. */
  readonly requests: BuiltRequestSet;
  /** {@link datasetStats} of `requests`. */
  readonly stats: DatasetStats;
  /** Wall-clock milliseconds of each stage. */
  readonly timings: {
    readonly loadMs: number;
    readonly kCoreMs: number;
    readonly requestsMs: number;
  };
}

/**
 * Loads a file, applies the iterative k-core filter and builds the requests: the default
 * protocol of `dnr-bench data stats` in one call. Deterministic (no randomness involved).
 *
 * @param path - interaction file (plain or gzip)
 * @param options - format (required) and any loading, k-core and request options
 * @throws {@link DataFormatError} for bad input files; RangeError for invalid options
 */
export async function prepareRequests(
  path: string,
  options: PrepareRequestsOptions,
): Promise<PreparedRequests> {
  const t0 = performance.now();
  const loaded = await loadInteractions(path, options);
  const t1 = performance.now();
  const k = options.minInteractions ?? 20;
  const interactions = kCore(loaded, {
    minUserInteractions: options.minUserInteractions ?? k,
    minItemInteractions: options.minItemInteractions ?? k,
  });
  const t2 = performance.now();
  const requests = buildRequests(interactions, options);
  const t3 = performance.now();
  return {
    raw: {
      rows: loaded.user.length,
      users: loaded.userIds.length,
      items: loaded.itemIds.length,
      duplicates: loaded.duplicates,
    },
    interactions,
    requests,
    stats: datasetStats(requests),
    timings: { loadMs: t1 - t0, kCoreMs: t2 - t1, requestsMs: t3 - t2 },
  };
}

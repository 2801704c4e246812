import { evaluateLists, type ListMetrics } from '@dnr/metrics';
import { Split, createRng, type RerankDataset, type SplitName } from '@dnr/data';

/** The paper's cut-off: the reranker shows 6 items. */
export const TOP_K = 6;

/** Metric names in report order, as fractions in [0,1]. */
export const METRIC_NAMES = ['hr', 'ndcg', 'map', 'f1', 'auc'] as const;
export type MetricName = (typeof METRIC_NAMES)[number];

/** Indices of the lists of one split. */
export function listsOf(ds: RerankDataset, split: SplitName): Int32Array {
  const code = Split[split];
  let n = 0;
  for (let i = 0; i < ds.split.length; i++) if (ds.split[i] === code) n++;
  const out = new Int32Array(n);
  for (let i = 0, j = 0; i < ds.split.length; i++) if (ds.split[i] === code) out[j++] = i;
  return out;
}

/** Gathers per-candidate rows of the given lists into a list-major array. */
export function gatherRows<T extends Float32Array | Uint8Array>(
  source: T,
  lists: Int32Array,
  listSize: number,
  make: (n: number) => T,
): T {
  const out = make(lists.length * listSize);
  for (let j = 0; j < lists.length; j++) {
    const start = lists[j]! * listSize;
    out.set(source.subarray(start, start + listSize), j * listSize);
  }
  return out;
}

/** Evaluates per-candidate scores `[lists.length * listSize]` of the given lists at k = 6. */
export function evaluateSplit(
  ds: RerankDataset,
  lists: Int32Array,
  scores: Float32Array,
  k = TOP_K,
): ListMetrics {
  const labels = gatherRows(ds.labels, lists, ds.listSize, (n) => new Uint8Array(n));
  return evaluateLists({ scores, labels, listSize: ds.listSize, k });
}

/**
 * Reference rankings every table shows beside the rerankers:
 * - `retriever`: candidates in the retriever's order (the bar every reranker must clear);
 * - `oracle`: the true click probabilities (only where the dataset knows them: the lab);
 * - `random`: a seeded random order (the floor).
 */
export const REFERENCE_METHODS = ['oracle', 'retriever', 'random'] as const;
export type ReferenceMethod = (typeof REFERENCE_METHODS)[number];

/** Scores of a reference ranking for the given lists, or undefined when the dataset cannot supply it. */
export function referenceScores(
  ds: RerankDataset,
  lists: Int32Array,
  method: ReferenceMethod,
  seed: number,
): Float32Array | undefined {
  const L = ds.listSize;
  const make = (n: number): Float32Array => new Float32Array(n);
  switch (method) {
    case 'retriever':
      return gatherRows(ds.scores, lists, L, make);
    case 'oracle':
      return ds.trueProbs ? gatherRows(ds.trueProbs, lists, L, make) : undefined;
    case 'random': {
      const rng = createRng(`random-order-${seed}`);
      const out = new Float32Array(lists.length * L);
      for (let i = 0; i < out.length; i++) out[i] = rng.next();
      return out;
    }
  }
}

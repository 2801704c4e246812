/**
 * `@dnr/metrics`: list metrics for reranking (HR, NDCG, MAP, F1 at k; per-list and pooled AUC),
 * for whole arrays or streamed batch by batch. Pure TypeScript, no dependencies.
 *
 * @packageDocumentation
 */
export { evaluateLists, evaluateListsAtKs } from './evaluate';
export { hitRatioAtK, ndcgAtK, mapAtK, f1AtK, auc } from './single';
export { createListMetricsAccumulator, createListMetricsAccumulatorAtKs } from './accumulator';
export {
  DEFAULT_AUC_HISTOGRAM_BITS,
  MIN_AUC_HISTOGRAM_BITS,
  MAX_AUC_HISTOGRAM_BITS,
} from './pooled-auc';
export type {
  ScoreArray,
  LabelArray,
  ListMetrics,
  EvaluateListsInput,
  EvaluateListsAtKsInput,
} from './types';
export type {
  AccumulatorBaseOptions,
  ListMetricsAccumulatorOptions,
  ListMetricsAccumulatorAtKsOptions,
  AccumulatorStats,
  MetricsAccumulator,
  ListMetricsAccumulator,
  ListMetricsAccumulatorAtKs,
} from './accumulator';

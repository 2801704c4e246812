export { Split } from './types';
export type { SplitCode, SplitName, Interactions, RequestSet, RerankDataset } from './types';
export { createRng, shuffleInPlace } from './rng';
export type { Rng } from './rng';
export { DataFormatError } from './io/errors';
export type { DataFormatErrorDetails } from './io/errors';
export type { TextEncoding } from './io/lines';
export {
  INTERACTION_FORMATS,
  loadInteractions,
  parseInteractions,
  splitCsvLine,
} from './io/interactions';
export type {
  CsvColumns,
  DuplicatePolicy,
  InteractionFormat,
  LoadedInteractions,
  LoadInteractionsOptions,
  ParseInteractionsOptions,
} from './io/interactions';
export { selectRows } from './io/rows';
export {
  AGE_BUCKETS,
  itemFeatureMatrix,
  loadMovieLensItems,
  loadMovieLensUsers,
  parseMovieLensItems,
  parseMovieLensUsers,
  userFeatureMatrix,
} from './io/metadata';
export type {
  FeatureMatrix,
  MovieLensItems,
  MovieLensMetaOptions,
  MovieLensRelease,
  MovieLensUsers,
  ParseMovieLensMetaOptions,
} from './io/metadata';
export { kCore } from './protocol/kcore';
export type { KCoreOptions } from './protocol/kcore';
export { buildRequests, requestRanges, splitWindowCounts } from './protocol/requests';
export type {
  BuildRequestsOptions,
  BuiltRequestSet,
  RequestProtocol,
  RequestRanges,
  SplitSpec,
} from './protocol/requests';
export { datasetStats, prepareRequests } from './protocol/stats';
export type { DatasetStats, PreparedRequests, PrepareRequestsOptions } from './protocol/stats';
export {
  buildHistories,
  buildRerankDataset,
  sampleCandidates,
  scoreAndOrder,
  topCandidates,
} from './candidates';
export type {
  BuildRerankDatasetOptions,
  CandidateLists,
  CandidateMode,
  CandidateScorer,
  OrderedLists,
  SampleCandidatesOptions,
  ScoreAndOrderOptions,
  TopCandidatesOptions,
} from './candidates';
export {
  RerankDatasetError,
  countBatches,
  datasetSummary,
  iterateBatches,
  splitIndices,
  subsetDataset,
  validateRerankDataset,
} from './dataset';
export type {
  Batch,
  BatchOptions,
  DatasetSummary,
  SplitSelector,
  SplitSummary,
  ValidateOptions,
} from './dataset';
export {
  CACHE_FORMAT_VERSION,
  CacheError,
  DATASET_KIND,
  cacheKey,
  canonicalJson,
  loadBundle,
  loadDataset,
  loadOrBuild,
  loadOrBuildBundle,
  readCacheHeader,
  saveBundle,
  saveDataset,
  writeFileAtomic,
} from './cache';
export type {
  ArrayBundle,
  CacheErrorReason,
  CacheField,
  CacheHeader,
  DType,
  LoadDatasetOptions,
  LoadOptions,
  LoadOrBuildOptions,
  SaveOptions,
  TypedArray,
} from './cache';
export { LAB_DEFAULTS, generateLabDataset, idealAugmentLab, sampleLabScores } from './lab';
export type {
  LabConfig,
  LabDataset,
  LabNoiseShape,
  LabNoiseSpec,
  LabRetrieverNoise,
  LabTruth,
  ResolvedLabConfig,
} from './lab';

/**
 * @dnr/retriever — matrix-factorization retriever for the DNR benchmark: training with uniformly
 * sampled negatives and sparse (lazy) Adam on Float32Arrays, retriever AUC, cross-fitted scoring
 * of reranking requests, list diagnostics, and a checksummed binary file format.
 */
export {
  createMF,
  cloneMF,
  sigmoid,
  mfLogit,
  mfScore,
  scoreItemsInto,
  scoreAllItems,
  DEFAULT_DIM,
  DEFAULT_INIT_STD,
} from './mf';
export type { MFModel, MFInitOptions } from './mf';
export { buildUserItemIndex, hasItem, sampleNegative, validatePairs } from './pairs';
export type { InteractionPairs, UserItemIndex } from './pairs';
export { mannWhitneyAuc, retrieverAuc } from './auc';
export type { RetrieverAucOptions } from './auc';
export { trainMF, resolveMFConfig, holdOutPerUser, DEFAULT_L2 } from './train';
export type { MFTrainConfig, MFTrainResult, EpochReport, ResolvedMFConfig } from './train';
export { fitRetrievers, windowPairs, sequenceItemIndex } from './crossfit';
export type {
  CandidateScorer,
  RetrieverMode,
  FitRetrieversOptions,
  FittedModel,
  FittedRetrievers,
} from './crossfit';
export { retrieverListDiagnostics } from './diagnostics';
export type { RetrieverDiagnostics, SplitDiagnostics, ScoredLists } from './diagnostics';
export {
  serializeMF,
  deserializeMF,
  saveMF,
  loadMF,
  crc32,
  MF_MAGIC,
  MF_FORMAT_VERSION,
} from './io';
export type { MFFileHeader } from './io';

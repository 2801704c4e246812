/**
 * @dnr/backbones — reranker backbones for DNR behind one small Reranker contract, with a fast
 * tfjs engine (custom-gradient dense, backend-agnostic embedding gradients, attention, layer norm,
 * seeded dropout). Depends only on `@tensorflow/tfjs-core`; pick a backend in your app, and import
 * `@tensorflow/tfjs` (or tfjs-node) before training: tfjs-core alone registers no gradients.
 */
export type {
  RerankBatchTensors,
  RerankBatchArrays,
  BatchLimits,
  ScoreOptions,
  Reranker,
  RerankerConfig,
  NamedWeight,
} from './reranker';
export {
  toBatchTensors,
  disposeBatch,
  ranksFromScores,
  ranksFromScoresArray,
  defaultRanks,
} from './reranker';
export type { RerankerConfigMap, RerankerFactory } from './registry';
export { registerReranker, createReranker, listRerankers } from './registry';
export type { SerializedReranker } from './serialize';
export { serializeReranker, loadReranker, encodeReranker, decodeReranker } from './serialize';

export type { PrmConfig, PrmSideFeatures, ResolvedPrmConfig, ScoreUsage } from './models/prm';
export { setPrmFastInference, prmFastInferenceEnabled } from './models/prm-fast';
export { Prm, PRM_DEFAULTS, resolvePrmConfig, prmForwardFlops } from './models/prm';
export type {
  PierConfig,
  ResolvedPierConfig,
  PierRerankOptions,
  PierRerankResult,
} from './models/pier';
export { Pier, PIER_DEFAULTS, resolvePierConfig } from './models/pier';
export type { AttentionResult } from './models/pier-attention';
export {
  distanceBias,
  omnidirectionalAttention,
  omnidirectionalAttentionWithProbs,
  omnidirectionalBlock,
  targetAttention,
} from './models/pier-attention';
export {
  candidatePermutations,
  hammingSimilarity,
  interestEmbedding,
  permutationEmbedding,
  positionWeight,
  selectBySimHash,
  simHash,
  simHashPlanes,
} from './models/pier-fpsm';
export type { ItemLookup, UserEncoderKind, UserStateEncoderOptions } from './encoders/user-state';
export { UserStateEncoder } from './encoders/user-state';

export type { DenseActivation, DenseMode } from './engine/dense';
export { dense, setDenseMode } from './engine/dense';
export { withFrozenWeights } from './engine/frozen';
export type { GradientLookup } from './engine/gradient-check';
export {
  assertGradientsRegistered,
  missingGradientsMessage,
  REQUIRED_GRADIENT_KERNELS,
} from './engine/gradient-check';
export { embeddingLookup } from './engine/embedding';
export { layerNorm, layerNormReference } from './engine/layer-norm';
export { seededDropout } from './engine/dropout';
export type { BatchedMatMulMode } from './engine/simd-bmm';
export {
  batchedMatMul,
  batchedMatMulArrays,
  setBatchedMatMulMode,
  simdKernelAvailable,
} from './engine/simd-bmm';
export type { GemmKernel } from './engine/simd-gemm';
export { GemmArena, simdGemmAvailable } from './engine/simd-gemm';
export type { Init } from './engine/params';
export { ParamStore } from './engine/params';
export { SeedSequence, deriveSeed, mulberry32 } from './engine/random';
export type {
  AttentionParams,
  FfnParams,
  TransformerBlockParams,
  AttentionContext,
  NormPlacement,
} from './engine/transformer';
export {
  createTransformerBlockParams,
  keyPaddingBias,
  multiHeadSelfAttention,
  multiHeadSelfAttentionReference,
  feedForward,
  transformerBlock,
} from './engine/transformer';

export type {
  MatmulMeasurement,
  PrmTrainingPerfOptions,
  PrmTrainingMeasurement,
  InferenceMeasurement,
} from './perf';
export { measureMatmulGflops, measurePrmTraining, measureInference, syntheticBatch } from './perf';

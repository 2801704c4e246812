/**
 * @dnr/noise — noise generators and score synthesis for training rerankers with the Denoising
 * Neural Reranker (DNR) recipe: synthetic retriever scores x̂ = (1 - α)·y + α·ε (Eq. 4) built from
 * the labels and heuristic (Gaussian, Beta, label-conditional Beta) or learned (2-layer MLP) noise.
 *
 * Depends only on `@tensorflow/tfjs-core` (peer); bring your own backend.
 *
 * @packageDocumentation
 */

export type {
  Interval,
  NoiseConfigBase,
  NoiseGenerator,
  NoiseSupport,
  SampleOptions,
} from './generator.js';
export type { NoiseGeneratorFactory } from './registry.js';
export {
  fromConfig,
  noiseGeneratorFromConfig,
  registerNoiseGenerator,
  registeredNoiseGenerators,
} from './registry.js';

export type {
  BetaNoiseConfig,
  BetaNoiseOptions,
  BetaPreset,
  ClassFitStats,
  FitLabelConditionalBetaOptions,
  GaussianNoiseConfig,
  GaussianNoiseOptions,
  LabelConditionalBetaFit,
  LabelConditionalBetaNoiseConfig,
  LabelConditionalBetaNoiseOptions,
  ScaledBetaParams,
} from './heuristic.js';
export {
  BETA_PRESETS,
  BetaNoise,
  GaussianNoise,
  LabelConditionalBetaNoise,
  fitLabelConditionalBeta,
} from './heuristic.js';

export type {
  LearnedNoiseGeneratorConfig,
  LearnedNoiseGeneratorOptions,
  NamedWeights,
  OutputActivation,
} from './learned.js';
export { LearnedNoiseGenerator } from './learned.js';

export type {
  MixKind,
  ResolvedSynthesisOptions,
  ScoreAugmenterConfig,
  ScoreAugmenterOptions,
  SynthesisOptions,
} from './synthesis.js';
export {
  ScoreAugmenter,
  classesSeparated,
  mixCoefficients,
  resolveSynthesisOptions,
  synthesizeScores,
} from './synthesis.js';

export type { WarmupOptions, WarmupPhase, WarmupScheduleConfig } from './warmup.js';
export { WarmupSchedule, createWarmupGenerator } from './warmup.js';

export type { HistogramDensity, HistogramOptions } from './density.js';
export { histogramDensity, observedNoise } from './density.js';

export type { Prng } from './random.js';
export { createPrng } from './random.js';
export { stopGradient } from './ops.js';

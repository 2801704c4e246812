export { adversarialLoss, bceWithLogits, denoisingLoss } from './losses.js';
export type { DenoisingForm, DenoisingLossOptions } from './losses.js';
export {
  SCORE_DIVERGENCE_KINDS,
  classMomentsDivergence,
  histKL,
  mmd,
  momentsDivergence,
  scoreDivergence,
  softmaxKL,
} from './divergence.js';
export type {
  ClassMomentsOptions,
  HistKLOptions,
  MmdOptions,
  MomentsOptions,
  ScoreDivergenceKind,
  ScoreDivergenceOptionsMap,
  SoftmaxKLOptions,
} from './divergence.js';
export {
  BCE_OBJECTIVE_DEFAULTS,
  BceObjective,
  optimizerState,
  setOptimizerState,
} from './objective.js';
export type {
  BceObjectiveOptions,
  ObjectiveState,
  StepContext,
  TrainBatch,
  TrainingObjective,
} from './objective.js';
export {
  CHECKPOINT_KIND,
  CHECKPOINT_VERSION,
  CheckpointError,
  loadCheckpoint,
  saveCheckpoint,
} from './checkpoint.js';
export type { Checkpoint } from './checkpoint.js';
export {
  RUN_FILES,
  TRAINER_DEFAULTS,
  datasetFingerprint,
  evaluateReranker,
  formatMetrics,
  metricsRecord,
  resolveTrainerConfig,
  trainReranker,
  trainingConfigHash,
} from './trainer.js';
export type {
  EpochRecord,
  EvaluateRerankerOptions,
  MetricsRecord,
  ResolvedTrainerConfig,
  TrainResult,
  TrainRerankerOptions,
  TrainerConfig,
  TrainerProgress,
} from './trainer.js';
export { applyDecoupledWeightDecay, resolveAdamOptions } from './objective.js';
export { DNR_OBJECTIVE_DEFAULTS, DNR_TIMING_PHASES, DnrObjective } from './dnr.js';
export type {
  DnrAucSummary,
  DnrAugmentation,
  DnrDensitySnapshot,
  DnrDiagnostics,
  DnrObjectiveConfig,
  DnrObjectiveOptions,
  DnrStepTimings,
  DnrTimingPhase,
} from './dnr.js';
export {
  DNR_METHOD_DEFAULTS,
  HEURISTIC_NOISE_NAMES,
  METHOD_NAMES,
  createHeuristicGenerator,
  createMethodObjective,
  heuristicNoiseSpec,
  isMethodName,
  methodConfig,
  methodPatienceStart,
  usesLearnedGenerator,
} from './methods.js';
export type {
  CreateMethodObjectiveOptions,
  HeuristicNoiseName,
  HeuristicNoiseSpec,
  LearnedGeneratorSpec,
  MethodConfig,
  MethodName,
  MethodOverrides,
} from './methods.js';

/**
 * DNR's training step (paper Algorithm 1, reconstructed in protocol.md 1.6) as a
 * {@link TrainingObjective} for any {@link Reranker} and any {@link NoiseGenerator}:
 *
 * 1. **Reranker step** (generator frozen): ε from the heuristic generator in epochs `1 … τ`
 *    (1-based, the trainer's numbering) and from the learned generator (no gradient) afterwards;
 *    `x̂ = mix(y, ε, α)` (Eq. 4); the synthetic pass sees the rank positions of `x̂` (protocol
 *    0b.5) and shares the user state with the real pass when the model can (0b.4);
 *    `L_D = L_BCE + λ·L_z` (Eq. 6); Adam (+ decoupled weight decay) on the reranker only. With
 *    `augmentation: 'replace'` one pass scores a batch whose first m lists carry x̂ instead.
 * 2. **Generator step** (reranker frozen; epochs `> τ`, every `generatorEvery` batches):
 *    `x̂_φ = mix(y, f_φ(y, z), α)` with gradients into φ; the user state (which φ does not reach)
 *    is computed once, outside the gradient tape;
 *    `L_G = β_adv·L_adv(q_θ(x̂_φ), y) + β_x·D(x̂_φ, x)` (Eq. 7 + L_x); a separate Adam on the
 *    generator's variables only.
 *
 * @module
 */
import * as tf from '@tensorflow/tfjs-core';
import type { Optimizer, Scalar, Tensor2D, Variable } from '@tensorflow/tfjs-core';
import {
  ranksFromScoresArray,
  withFrozenWeights,
  type RerankBatchTensors,
  type Reranker,
} from '@dnr/backbones';
import { auc } from '@dnr/metrics';
import {
  WarmupSchedule,
  classesSeparated,
  histogramDensity,
  observedNoise,
  resolveSynthesisOptions,
  synthesizeScores,
  type MixKind,
  type NoiseConfigBase,
  type NoiseGenerator,
  type ResolvedSynthesisOptions,
  type WarmupPhase,
} from '@dnr/noise';
import {
  SCORE_DIVERGENCE_KINDS,
  scoreDivergence,
  type ScoreDivergenceKind,
  type ScoreDivergenceOptionsMap,
} from './divergence';
import { adversarialLoss, bceWithLogits, denoisingLoss, type DenoisingForm } from './losses';
import {
  applyDecoupledWeightDecay,
  optimizerState,
  resolveAdamOptions,
  setOptimizerState,
  type BceObjectiveOptions,
  type ObjectiveState,
  type StepContext,
  type TrainBatch,
  type TrainingObjective,
} from './objective';

/** Options of {@link DnrObjective}. The Adam settings (`lr`, `weightDecay`, …) are the reranker's. */
export interface DnrObjectiveOptions extends BceObjectiveOptions {
  /**
   * Noise for the reranker step in the warm-up epochs `1 … τ` (Gaussian for DNR-G, Beta for
   * DNR-B / DNR-BL, …), and in every epoch when there is no learned generator ("w/ G", "w/ B").
   * The objective owns it (see {@link DnrObjective.dispose}).
   */
  heuristic: NoiseGenerator;
  /**
   * The model-based generator f_φ used after the warm-up (normally a `LearnedNoiseGenerator`),
   * trained adversarially; `null` / omitted = heuristic noise only. Owned by the objective.
   */
  learned?: NoiseGenerator | null;
  /** Noise proportion α of Eq. 4, in (0, 1). Paper Table 7: 0.4 (ML-1M). */
  alpha: number;
  /** Eq. 4 form: `'linear'` (default) or `'sqrt'`. */
  mix?: MixKind;
  /** Optional `[lo, hi]` clip of x̂ (default none). */
  clamp?: readonly [number, number] | null;
  /** λ, the weight of L_z in Eq. 6 (>= 0). Paper Table 7: 0.4 (ML-1M). */
  lambda: number;
  /** Eq. 6 form: `'additive'` (default) `L_BCE + λ·L_z`, or `'convex'` `(1-λ)·L_BCE + λ·L_z`. */
  form?: DenoisingForm;
  /**
   * Warm-up τ in epochs (integer >= 0): 1-based epochs `1 … τ` use the heuristic generator,
   * epochs `τ + 1, …` the learned one (the paper's "first τ epochs"). Default
   * {@link DNR_OBJECTIVE_DEFAULTS}.tau = 3 (Table 7's 40 epochs assume full-length runs).
   */
  tau?: number;
  /** β_adv, the weight of L_adv in the generator loss (>= 0; 0 = "w/o L_adv"). Default 1. */
  betaAdv?: number;
  /** β_x, the weight of L_x in the generator loss (>= 0; 0 = "w/o L_x"). Default 1. */
  betaX?: number;
  /** The L_x estimator (see `scoreDivergence`). Default `'softmaxKL'`. */
  divergence?: ScoreDivergenceKind;
  /**
   * Options of the L_x estimator. For `'mmd'`, `seed` defaults to `divergenceSeed` and `stream`
   * to a value derived from (epoch, step); `'classMoments'` gets the batch's labels.
   */
  divergenceOptions?: ScoreDivergenceOptionsMap[ScoreDivergenceKind];
  /** Seed of `mmd`'s subsampling (integer in [1, 2^32)). Default 1. */
  divergenceSeed?: number;
  /** Run the generator step on every k-th batch of an epoch (steps 0, k, 2k, …). Default 1. */
  generatorEvery?: number;
  /** Learning rate of the generator's Adam (same betas / epsilon as the reranker's). Default `lr`. */
  generatorLr?: number;
  /**
   * The reranker's mode during the generator step: `true` (default, protocol 1.6 [GUESS]) runs it
   * in training mode (dropout on, drawing from its seeded streams), `false` in inference mode.
   */
  generatorStepTraining?: boolean;
  /**
   * Share the user state between the real and the synthetic pass (`encodeUser` once,
   * `scoreWithState` twice; protocol 0b.4) when the model implements both. Default true.
   */
  shareUserState?: boolean;
  /**
   * Give the synthetic passes the rank positions of x̂ (`ranksFromScores`, protocol 0b.5).
   * Default true; `false` keeps the real order (an ablation only).
   */
  syntheticRanks?: boolean;
  /**
   * How the reranker step batches the synthetic scores (protocol 0b.4). `'double'` (default,
   * Algorithm 1 as reconstructed): every list is scored twice, on x and on x̂, and L_BCE, L_z are
   * means over all B lists. `'replace'` (another reading of Eq. 6; one reranker pass per step, so
   * cheaper): the first m lists of the batch get x̂ (and, with `syntheticRanks`, its rank
   * positions) instead of x, m = round(B·w) with w = λ/(1+λ) for the additive form and λ for the
   * convex one (L_z's share of Eq. 6's weight), clamped to [1, B-1]; L_BCE is the mean BCE of the
   * other B - m lists, L_z that of the m replaced ones, combined by Eq. 6 as usual. The trainer
   * shuffles the lists every epoch, so the replaced lists are a fresh random subset. A batch of one
   * list is scored as with `'double'`. Needs λ > 0. The generator step is the same in both.
   */
  augmentation?: DnrAugmentation;
  /** Bins of the per-epoch density snapshots (Figure 5). Default 40. */
  densityBins?: number;
  /** Range of the density snapshots (fixed, so epochs compare). Default `[-2, 3]`. */
  densityRange?: readonly [number, number];
  /** Training lists (the first of each epoch) the density snapshot is drawn on. Default 256. */
  densityLists?: number;
}

/** How the reranker step batches the synthetic scores (see {@link DnrObjectiveOptions.augmentation}). */
export type DnrAugmentation = 'double' | 'replace';

/** Defaults of the optional DNR settings (protocol.md 1.5-1.6; [GUESS] where the paper is silent). */
export const DNR_OBJECTIVE_DEFAULTS = Object.freeze({
  mix: 'linear' as MixKind,
  form: 'additive' as DenoisingForm,
  tau: 3,
  betaAdv: 1,
  betaX: 1,
  divergence: 'softmaxKL' as ScoreDivergenceKind,
  divergenceSeed: 1,
  generatorEvery: 1,
  generatorStepTraining: true,
  shareUserState: true,
  syntheticRanks: true,
  augmentation: 'double' as DnrAugmentation,
  densityBins: 40,
  densityRange: Object.freeze([-2, 3]) as readonly [number, number],
  densityLists: 256,
});

/** The JSON configuration of a {@link DnrObjective} (part of the trainer's config hash). */
export interface DnrObjectiveConfig {
  readonly lr: number;
  readonly weightDecay: number;
  readonly beta1: number;
  readonly beta2: number;
  readonly epsilon: number;
  readonly alpha: number;
  readonly mix: MixKind;
  readonly clamp: [number, number] | null;
  readonly lambda: number;
  readonly form: DenoisingForm;
  readonly tau: number;
  readonly betaAdv: number;
  readonly betaX: number;
  readonly divergence: ScoreDivergenceKind;
  readonly divergenceOptions: { readonly [key: string]: unknown };
  readonly divergenceSeed: number;
  readonly generatorEvery: number;
  readonly generatorLr: number;
  readonly generatorStepTraining: boolean;
  readonly shareUserState: boolean;
  readonly syntheticRanks: boolean;
  /**
   * Present only when `'replace'`: the default `'double'` is left out, so the configuration (and
   * the checkpoint hash) of runs that do not use the option is what it was before it existed.
   */
  readonly augmentation?: DnrAugmentation;
  readonly densityBins: number;
  readonly densityRange: [number, number];
  readonly densityLists: number;
  readonly heuristic: NoiseConfigBase;
  readonly learned: NoiseConfigBase | null;
  readonly [key: string]: unknown;
}

/** Per-list mean AUC of real and synthetic scores over the lists holding both classes. */
export interface DnrAucSummary {
  /** Mean per-list AUC(x, y) of the real retriever scores (null: no list with both classes). */
  real: number | null;
  /** Mean per-list AUC(x̂, y) of the synthetic scores the reranker step trained on. */
  synthetic: number | null;
  /** Lists averaged (those with both classes). */
  lists: number;
}

/** A compact density snapshot (paper Figure 5): histograms on one fixed grid. */
export interface DnrDensitySnapshot {
  bins: number;
  range: [number, number];
  /** Bin centers. */
  centers: number[];
  /** Density of the observed ("true") noise ε* = (x - (1-α)y)/α of the training lists. */
  observed: number[];
  /** Density of the heuristic generator's ε on the same lists' labels. */
  heuristic: number[];
  /** Density of the learned generator's ε (null without one). */
  learned: number[] | null;
  /** Values outside `range` (left out of the densities), per source. */
  outside: { observed: number; heuristic: number; learned: number | null };
  /** Lists the snapshot was drawn on (`× L` values per source). */
  lists: number;
}

/** What {@link DnrObjective.diagnostics} returns for an epoch (stored in `log.jsonl`). */
export interface DnrDiagnostics {
  /** Which generator fed the reranker step in this epoch. */
  phase: WarmupPhase;
  tau: number;
  /** The generator step runs on every k-th batch of a learned epoch (`generatorEvery`). */
  generatorEvery: number;
  /** Per-list AUC of x and of the x̂ the reranker trained on (protocol 0b.2 / 0b.6). */
  auc: DnrAucSummary;
  /** Whether the active generator's support with Eq. 4 separates the classes for sure (0b.2). */
  separatesClasses: boolean;
  /** Generator steps in this epoch and their mean loss terms (null when none ran). */
  generator: { steps: number; lAdv: number | null; lX: number | null; lG: number } | null;
  /** Density snapshot of observed, heuristic and learned noise (Figure 5). */
  density: DnrDensitySnapshot | null;
  /** Generator steps since the start of the run. */
  totalGeneratorSteps: number;
  readonly [key: string]: unknown;
}

/**
 * Where the time of {@link DnrObjective.step} goes: wall-clock milliseconds per phase, summed over
 * the steps since the objective was built or {@link DnrObjective.resetTimings} was called. Read by
 * `dnr-bench perf` (protocol 0b.4: "report the ratio and where the time goes"). The phases follow
 * each other without gaps, so their sum is the time spent inside `rerankerStep` / `generatorStep`.
 * On a synchronous backend (wasm, cpu, tfjs-node) each phase includes its kernels; on an
 * asynchronous one (webgl) work can be billed to the phase that first reads a value back.
 */
export interface DnrStepTimings {
  /** Reranker steps timed. */
  steps: number;
  /** Generator steps timed. */
  generatorSteps: number;
  /** Reranker step: ε from the active generator and x̂ = mix(y, ε, α), read back (Eq. 4). */
  synthesis: number;
  /** Per-list AUC(x, y) and AUC(x̂, y) sums and the density-snapshot capture (diagnostics). */
  diagnostics: number;
  /** Rank positions of x̂ for the synthetic pass (protocol 0b.5; a JavaScript sort) and its batch. */
  ranks: number;
  /** Forward: the user state (`encodeUser`, once per batch when shared; 0 otherwise). */
  userState: number;
  /**
   * Forward: the real pass (`scoreWithState`, or `score` without sharing) and L_BCE; with
   * `augmentation: 'replace'` the one mixed pass and L_D (then `syntheticPass` stays 0).
   */
  realPass: number;
  /** Forward: the synthetic pass and L_z, L_D. */
  syntheticPass: number;
  /** Backward of L_D into the reranker's variables. */
  rerankerBackward: number;
  /** Adam step on the reranker and the decoupled weight decay. */
  rerankerUpdate: number;
  /** Generator step: the user state, outside the gradient tape (φ does not reach it). */
  generatorUserState: number;
  /** Generator step: f_φ forward, x̂_φ = mix(y, f_φ(y, z), α) and the ranks of x̂_φ. */
  generatorSample: number;
  /** Generator step: the frozen reranker's forward on x̂_φ and L_adv. */
  generatorForward: number;
  /** Generator step: L_x, the score divergence. */
  generatorLx: number;
  /** Generator step: backward of L_G through the reranker's activations into φ. */
  generatorBackward: number;
  /** Generator step: Adam step on φ. */
  generatorUpdate: number;
}

/** The timed phases of {@link DnrStepTimings} (every key but the two counters), in step order. */
export const DNR_TIMING_PHASES = Object.freeze([
  'synthesis',
  'diagnostics',
  'ranks',
  'userState',
  'realPass',
  'syntheticPass',
  'rerankerBackward',
  'rerankerUpdate',
  'generatorUserState',
  'generatorSample',
  'generatorForward',
  'generatorLx',
  'generatorBackward',
  'generatorUpdate',
] as const);

/** One phase name of {@link DNR_TIMING_PHASES}. */
export type DnrTimingPhase = (typeof DNR_TIMING_PHASES)[number];

function emptyTimings(): DnrStepTimings {
  const t = { steps: 0, generatorSteps: 0 } as DnrStepTimings;
  for (const phase of DNR_TIMING_PHASES) t[phase] = 0;
  return t;
}

/** Stream offset of the diagnostic draws (far from the training call counters). */
const DIAGNOSTIC_STREAM = 0x80000000;

function fail(message: string): never {
  throw new RangeError(`DnrObjective: ${message}`);
}

function checkNonNegative(name: string, v: unknown): number {
  if (typeof v !== 'number' || !Number.isFinite(v) || v < 0) {
    fail(`${name} must be a finite number >= 0, got ${String(v)}`);
  }
  return v;
}

function checkInt(name: string, v: unknown, min: number): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min) {
    fail(`${name} must be an integer >= ${min}, got ${String(v)}`);
  }
  return v;
}

function checkBool(name: string, v: unknown): boolean {
  if (typeof v !== 'boolean') fail(`${name} must be a boolean, got ${String(v)}`);
  return v;
}

function isGenerator(g: unknown): g is NoiseGenerator {
  return (
    typeof g === 'object' &&
    g !== null &&
    typeof (g as NoiseGenerator).sample === 'function' &&
    typeof (g as NoiseGenerator).seek === 'function'
  );
}

const round = (v: number): number => (Number.isFinite(v) ? Number(v.toPrecision(6)) : v);

/**
 * Mean per-list AUC of `scores` against `labels` (`[n * L]`, list-major) over the lists holding
 * both classes, added into `acc`. Lists with a non-finite score are skipped.
 */
function addListAuc(
  acc: { sum: number; lists: number },
  s: Float32Array,
  labels: Float32Array,
  listSize: number,
): void {
  for (let off = 0; off < labels.length; off += listSize) {
    const y = labels.subarray(off, off + listSize);
    const x = s.subarray(off, off + listSize);
    let pos = 0;
    let finite = true;
    for (let i = 0; i < listSize; i++) {
      if ((y[i] as number) > 0.5) pos++;
      if (!Number.isFinite(x[i] as number)) finite = false;
    }
    if (!finite || pos === 0 || pos === listSize) continue;
    acc.sum += auc(x, y);
    acc.lists += 1;
  }
}

/**
 * The DNR training objective (paper §3.3-3.4, Algorithm 1; protocol.md 1.5-1.6). Plug it into
 * `trainReranker` like `BceObjective`. See the module header for what a step does.
 *
 * `step` returns `{ loss, lBce, lZ, lD }` (`loss` = `lD`, the reranker's Eq. 6 value before its
 * update) and, on steps that ran a generator step, `{ lAdv, lX, lG }` (each only when its weight
 * is > 0; `lAdv` is the value of `adversarialLoss`, i.e. minus the reranker's BCE on x̂_φ).
 * `diagnostics(epoch)` returns {@link DnrDiagnostics}.
 *
 * Requirements: with a learned generator and `betaAdv > 0` the score must reach the model through
 * a differentiable input (`scoreUsage` other than `'none'`): ranks are integers, so with
 * `scoreUsage: 'none'` L_adv would have no gradient path and the constructor refuses it.
 */
export class DnrObjective implements TrainingObjective {
  readonly name = 'dnr';
  readonly config: DnrObjectiveConfig;
  /** The warm-up / only generator. */
  readonly heuristic: NoiseGenerator;
  /** The learned generator (null: heuristic only). */
  readonly learned: NoiseGenerator | null;
  private readonly schedule: WarmupSchedule | null;
  private readonly synthesis: ResolvedSynthesisOptions;
  private readonly optimizer: Optimizer;
  private readonly generatorOptimizer: Optimizer | null;
  private rerankerVariables?: Variable[];
  private totalGeneratorSteps = 0;
  private epochStats = DnrObjective.emptyStats();
  private timing = emptyTimings();
  private disposed = false;

  private static emptyStats() {
    return {
      real: { sum: 0, lists: 0 },
      synthetic: { sum: 0, lists: 0 },
      generatorSteps: 0,
      lAdv: 0,
      lX: 0,
      lG: 0,
      captured: [] as Array<{ labels: Float32Array; scores: Float32Array }>,
      capturedLists: 0,
      listSize: 0,
    };
  }

  /**
   * @param model the reranker to train (not owned: `dispose` leaves it alone).
   * @param options generators, Eq. 4 / Eq. 6 settings, warm-up and generator-step settings.
   * @throws RangeError / TypeError naming the bad option.
   */
  constructor(
    private readonly model: Reranker,
    options: DnrObjectiveOptions,
  ) {
    if (options === null || typeof options !== 'object') {
      throw new TypeError(`DnrObjective: options must be an object, got ${String(options)}`);
    }
    const adam = resolveAdamOptions(
      {
        ...(options.lr !== undefined ? { lr: options.lr } : {}),
        ...(options.weightDecay !== undefined ? { weightDecay: options.weightDecay } : {}),
        ...(options.beta1 !== undefined ? { beta1: options.beta1 } : {}),
        ...(options.beta2 !== undefined ? { beta2: options.beta2 } : {}),
        ...(options.epsilon !== undefined ? { epsilon: options.epsilon } : {}),
      },
      'DnrObjective',
    );
    if (!isGenerator(options.heuristic)) {
      throw new TypeError(
        `DnrObjective: heuristic must be a NoiseGenerator, got ${String(options.heuristic)}`,
      );
    }
    const learned = options.learned ?? null;
    if (learned !== null && !isGenerator(learned)) {
      throw new TypeError(
        `DnrObjective: learned must be a NoiseGenerator or null, got ${String(learned)}`,
      );
    }
    if (learned !== null && learned === options.heuristic) {
      fail('heuristic and learned must be different generators');
    }
    this.synthesis = resolveSynthesisOptions(
      {
        alpha: options.alpha,
        ...(options.mix !== undefined ? { mix: options.mix } : {}),
        ...(options.clamp !== undefined ? { clamp: options.clamp } : {}),
      },
      'DnrObjective',
    );
    const d = DNR_OBJECTIVE_DEFAULTS;
    const lambda = checkNonNegative('lambda', options.lambda);
    const form = options.form ?? d.form;
    if (form !== 'additive' && form !== 'convex') {
      fail(`form must be 'additive' or 'convex', got ${JSON.stringify(form)}`);
    }
    if (form === 'convex' && lambda > 1) fail(`lambda must be <= 1 with form 'convex'`);
    const tau = checkInt('tau', options.tau ?? d.tau, 0);
    const betaAdv = checkNonNegative('betaAdv', options.betaAdv ?? d.betaAdv);
    const betaX = checkNonNegative('betaX', options.betaX ?? d.betaX);
    const divergence = options.divergence ?? d.divergence;
    if (!SCORE_DIVERGENCE_KINDS.includes(divergence)) {
      fail(
        `divergence must be one of ${SCORE_DIVERGENCE_KINDS.join(', ')}, got ${JSON.stringify(divergence)}`,
      );
    }
    const divergenceSeed = checkInt(
      'divergenceSeed',
      options.divergenceSeed ?? d.divergenceSeed,
      1,
    );
    if (divergenceSeed > 0xffffffff) fail(`divergenceSeed must be < 2^32`);
    const generatorEvery = checkInt(
      'generatorEvery',
      options.generatorEvery ?? d.generatorEvery,
      1,
    );
    const generatorLr = options.generatorLr ?? adam.lr;
    if (typeof generatorLr !== 'number' || !(generatorLr > 0) || generatorLr > 10) {
      fail(`generatorLr must be a number in (0, 10], got ${String(generatorLr)}`);
    }
    const augmentation = options.augmentation ?? d.augmentation;
    if (augmentation !== 'double' && augmentation !== 'replace') {
      fail(`augmentation must be 'double' or 'replace', got ${JSON.stringify(augmentation)}`);
    }
    if (augmentation === 'replace' && lambda === 0) {
      fail(`augmentation 'replace' needs lambda > 0 (it replaces a λ-weighted share of the lists)`);
    }
    const densityBins = checkInt('densityBins', options.densityBins ?? d.densityBins, 1);
    const densityLists = checkInt('densityLists', options.densityLists ?? d.densityLists, 0);
    const range = options.densityRange ?? d.densityRange;
    if (
      !Array.isArray(range) ||
      range.length !== 2 ||
      !Number.isFinite(range[0]) ||
      !Number.isFinite(range[1]) ||
      !((range[0] as number) < (range[1] as number))
    ) {
      fail(`densityRange must be [lo, hi] with lo < hi, got ${JSON.stringify(range)}`);
    }
    if (learned !== null) {
      if (learned.trainableVariables().length === 0) {
        fail(`the learned generator '${learned.type}' has no trainable variables`);
      }
      if (betaAdv === 0 && betaX === 0) {
        fail(
          'with a learned generator, betaAdv or betaX must be > 0 (otherwise it never trains); ' +
            'pass learned: null for heuristic noise only',
        );
      }
      const usage = (model.config as { scoreUsage?: unknown }).scoreUsage;
      if (betaAdv > 0 && usage === 'none') {
        fail(
          `the model uses scoreUsage 'none': the score reaches it only through integer rank ` +
            `positions, so L_adv has no gradient path to the generator. Build the model with ` +
            `scoreUsage 'concat' (DNR's default), 'add' or 'weight', or set betaAdv to 0`,
        );
      }
    }
    this.heuristic = options.heuristic;
    this.learned = learned;
    this.schedule =
      learned === null ? null : new WarmupSchedule({ heuristic: options.heuristic, learned, tau });
    this.config = Object.freeze({
      ...adam,
      alpha: this.synthesis.alpha,
      mix: this.synthesis.mix,
      clamp: this.synthesis.clamp,
      lambda,
      form,
      tau,
      betaAdv,
      betaX,
      divergence,
      divergenceOptions: JSON.parse(JSON.stringify(options.divergenceOptions ?? {})) as {
        [key: string]: unknown;
      },
      divergenceSeed,
      generatorEvery,
      generatorLr,
      generatorStepTraining: checkBool(
        'generatorStepTraining',
        options.generatorStepTraining ?? d.generatorStepTraining,
      ),
      shareUserState: checkBool('shareUserState', options.shareUserState ?? d.shareUserState),
      syntheticRanks: checkBool('syntheticRanks', options.syntheticRanks ?? d.syntheticRanks),
      ...(augmentation === 'replace' ? { augmentation } : {}),
      densityBins,
      densityRange: [range[0] as number, range[1] as number] as [number, number],
      densityLists,
      heuristic: options.heuristic.getConfig(),
      learned: learned === null ? null : learned.getConfig(),
    });
    this.optimizer = tf.train.adam(adam.lr, adam.beta1, adam.beta2, adam.epsilon);
    this.generatorOptimizer =
      learned === null ? null : tf.train.adam(generatorLr, adam.beta1, adam.beta2, adam.epsilon);
  }

  /** `'heuristic'` in (1-based) epochs `1 … τ` or without a learned generator, else `'learned'`. */
  phase(epoch: number): WarmupPhase {
    return this.schedule === null ? 'heuristic' : this.schedule.phase(epoch - 1);
  }

  /** The generator whose noise feeds the reranker step in (1-based) `epoch`. */
  generatorFor(epoch: number): NoiseGenerator {
    return this.schedule === null ? this.heuristic : this.schedule.generatorFor(epoch - 1);
  }

  /** Resets the epoch's diagnostics (called by the trainer before the epoch's first step). */
  onEpochStart(_epoch: number): void {
    this.epochStats = DnrObjective.emptyStats();
  }

  /**
   * Wall-clock time per phase of the steps since construction or the last
   * {@link DnrObjective.resetTimings} (a copy; see {@link DnrStepTimings}).
   */
  timings(): DnrStepTimings {
    return { ...this.timing };
  }

  /** Zeroes the phase timings (e.g. after a warm-up epoch). */
  resetTimings(): void {
    this.timing = emptyTimings();
  }

  /** Adds the time since `since` to `phase`; returns the current time (the next phase's start). */
  private lap(phase: DnrTimingPhase, since: number): number {
    const t = performance.now();
    this.timing[phase] += t - since;
    return t;
  }

  /** Whether the user state can be computed once and shared (`shareUserState` and the model can). */
  private sharesUserState(): boolean {
    const model = this.model;
    return (
      this.config.shareUserState &&
      typeof model.encodeUser === 'function' &&
      typeof model.scoreWithState === 'function'
    );
  }

  /**
   * One DNR step: the reranker step, then (learned phase, every `generatorEvery` batches) the
   * generator step. See the class documentation for the returned terms.
   */
  step(batch: TrainBatch, ctx: StepContext): Record<string, number> {
    const out = this.rerankerStep(batch, ctx);
    if (
      this.learned !== null &&
      this.phase(ctx.epoch) === 'learned' &&
      ctx.step % this.config.generatorEvery === 0
    ) {
      Object.assign(out, this.generatorStep(batch, ctx));
    }
    return out;
  }

  /**
   * Lists of a batch of `b` whose scores the reranker step replaces by x̂ (`augmentation:
   * 'replace'`): round(b·w), w = λ/(1+λ) (additive) or λ (convex), clamped to [1, b-1]; 0 (= score
   * every list twice) with `'double'` or `b < 2`.
   */
  replacedLists(b: number): number {
    const c = this.config;
    if (c.augmentation !== 'replace' || b < 2) return 0;
    const w = c.form === 'convex' ? c.lambda : c.lambda / (1 + c.lambda);
    return Math.min(b - 1, Math.max(1, Math.round(b * w)));
  }

  /**
   * The one-pass batch of `augmentation: 'replace'`: lists `0 … m-1` with x̂ as scores (and x̂'s
   * rank positions unless `syntheticRanks` is false), the others as they are.
   */
  private mixedBatch(batch: TrainBatch, xHatValues: Float32Array, m: number): RerankBatchTensors {
    const { user, history, items } = batch.tensors;
    const [b, l] = batch.labels.shape;
    const cut = m * l;
    const scores = Float32Array.from(batch.arrays.scores);
    scores.set(xHatValues.subarray(0, cut));
    const out: RerankBatchTensors = {
      user,
      history,
      items,
      scores: tf.tensor2d(scores, [b, l], 'float32'),
    };
    const realRanks = batch.tensors.ranks ? (batch.tensors.ranks.dataSync() as Int32Array) : null;
    if (this.config.syntheticRanks || realRanks) {
      const ranks = realRanks
        ? Int32Array.from(realRanks)
        : Int32Array.from({ length: b * l }, (_, i) => i % l);
      if (this.config.syntheticRanks) {
        ranks.set(ranksFromScoresArray(xHatValues.subarray(0, cut), l));
      }
      out.ranks = tf.tensor2d(ranks, [b, l], 'int32');
    }
    return out;
  }

  /** The synthetic-pass batch: the request with x̂ as scores and (by default) x̂'s rank positions. */
  private syntheticBatch(
    batch: TrainBatch,
    xHat: Tensor2D,
    xHatValues: ArrayLike<number>,
  ): RerankBatchTensors {
    const { user, history, items } = batch.tensors;
    const [b, l] = xHat.shape;
    const out: RerankBatchTensors = { user, history, items, scores: xHat };
    if (this.config.syntheticRanks) {
      out.ranks = tf.tensor2d(ranksFromScoresArray(xHatValues, l), [b, l], 'int32');
    } else if (batch.tensors.ranks) {
      out.ranks = batch.tensors.ranks;
    }
    return out;
  }

  /**
   * The reranker step (generator frozen): minimizes `L_D = denoisingLoss(L_BCE, L_z, λ)` over the
   * reranker's variables with Adam, then applies decoupled weight decay.
   *
   * @returns `{ loss, lD, lBce, lZ }` (values before the update).
   */
  rerankerStep(batch: TrainBatch, ctx: StepContext): Record<string, number> {
    this.assertAlive();
    const vars = (this.rerankerVariables ??= this.model.trainableVariables());
    const generator = this.generatorFor(ctx.epoch);
    const model = this.model;
    const share = this.sharesUserState();
    const opts = { training: true };
    const labels = batch.labels;
    let lBce = NaN;
    let lZ = NaN;
    let lD = NaN;
    let t = performance.now();
    tf.tidy(() => {
      // Drawn outside the gradient tape: x̂ is a constant for θ (and φ gets no gradient).
      const xHat = tf.tidy(() =>
        synthesizeScores(labels, generator.sample(labels, { training: true }), this.synthesis),
      );
      const xHatValues = xHat.dataSync() as Float32Array;
      t = this.lap('synthesis', t);
      this.recordEpochData(batch, xHatValues);
      t = this.lap('diagnostics', t);
      const [b, l] = labels.shape;
      const m = this.replacedLists(b);
      const synthetic =
        m > 0
          ? this.mixedBatch(batch, xHatValues, m)
          : this.syntheticBatch(batch, xHat, xHatValues);
      t = this.lap('ranks', t);
      // optimizer.minimize(f, true, vars) spelled out (same calls), so each part can be timed.
      const { value, grads } = tf.variableGrads(() => {
        if (m > 0) {
          // augmentation 'replace': one pass; lists 0 … m-1 carry x̂, the others x.
          let logits: Tensor2D;
          if (share) {
            const state = model.encodeUser!(batch.tensors, opts);
            t = this.lap('userState', t);
            logits = model.scoreWithState!(synthetic, state, opts);
          } else {
            logits = model.score(synthetic, opts);
          }
          const syn = bceWithLogits(
            tf.slice(logits, [0, 0], [m, l]),
            tf.slice(labels, [0, 0], [m, l]),
          );
          const real = bceWithLogits(
            tf.slice(logits, [m, 0], [b - m, l]),
            tf.slice(labels, [m, 0], [b - m, l]),
          );
          lBce = real.dataSync()[0] as number;
          lZ = syn.dataSync()[0] as number;
          const loss = denoisingLoss(real, syn, {
            lambda: this.config.lambda,
            form: this.config.form,
          });
          t = this.lap('realPass', t);
          return loss;
        }
        let realLogits: Tensor2D;
        let syntheticLogits: Tensor2D;
        let real: Scalar;
        if (share) {
          const state = model.encodeUser!(batch.tensors, opts);
          t = this.lap('userState', t);
          realLogits = model.scoreWithState!(batch.tensors, state, opts);
          real = bceWithLogits(realLogits, labels);
          lBce = real.dataSync()[0] as number;
          t = this.lap('realPass', t);
          syntheticLogits = model.scoreWithState!(synthetic, state, opts);
        } else {
          realLogits = model.score(batch.tensors, opts);
          real = bceWithLogits(realLogits, labels);
          lBce = real.dataSync()[0] as number;
          t = this.lap('realPass', t);
          syntheticLogits = model.score(synthetic, opts);
        }
        const syn = bceWithLogits(syntheticLogits, labels);
        lZ = syn.dataSync()[0] as number;
        const loss = denoisingLoss(real, syn, {
          lambda: this.config.lambda,
          form: this.config.form,
        });
        t = this.lap('syntheticPass', t);
        return loss;
      }, vars);
      t = this.lap('rerankerBackward', t);
      this.optimizer.applyGradients(vars.map((v) => ({ name: v.name, tensor: grads[v.name]! })));
      tf.dispose(grads);
      lD = value.dataSync()[0] as number;
      applyDecoupledWeightDecay(vars, this.config.lr, this.config.weightDecay);
      t = this.lap('rerankerUpdate', t);
    });
    this.timing.steps += 1;
    return { loss: lD, lD, lBce, lZ };
  }

  /**
   * The generator step (reranker frozen): minimizes
   * `β_adv·adversarialLoss(q_θ(x̂_φ), y) + β_x·scoreDivergence(kind, x̂_φ, x)` over the learned
   * generator's variables only, with x̂_φ = mix(y, f_φ(y, z), α) not detached (the gradient flows
   * through the reranker's score input; the ranks of x̂_φ are integers and carry none). The
   * reranker runs in training mode unless `generatorStepTraining` is false. With a shared user
   * state (`shareUserState` and a model with `encodeUser` / `scoreWithState`) the state is
   * computed outside the gradient tape and the reranker runs `scoreWithState` on it: the same
   * values and dropout draws as `score`, without recording the encoder. Draws one `sample` call
   * from the learned generator.
   *
   * @returns `{ lG }` and `lAdv` / `lX` for the terms whose weight is > 0 (before the update).
   * @throws Error without a learned generator.
   */
  generatorStep(batch: TrainBatch, ctx: StepContext): Record<string, number> {
    this.assertAlive();
    const learned = this.learned;
    const optimizer = this.generatorOptimizer;
    if (learned === null || optimizer === null) {
      throw new Error('DnrObjective.generatorStep: this objective has no learned generator');
    }
    const c = this.config;
    const model = this.model;
    const labels = batch.labels;
    const opts = { training: c.generatorStepTraining };
    const divergenceOptions = (
      c.divergence === 'mmd'
        ? {
            seed: c.divergenceSeed,
            stream: ((ctx.epoch * 1_000_003 + ctx.step) >>> 0) % 0xffffffff,
            ...c.divergenceOptions,
          }
        : c.divergence === 'classMoments'
          ? { ...c.divergenceOptions, labels }
          : c.divergenceOptions
    ) as ScoreDivergenceOptionsMap[ScoreDivergenceKind];
    const out: Record<string, number> = {};
    const phi = learned.trainableVariables();
    let t = performance.now();
    tf.tidy(() => {
      // The user state depends on θ only (frozen here), never on φ: computed outside the tape, it
      // is the same forward pass without recording it (protocol 0b.4). Same values and dropout
      // draws as inside `score`, which calls encodeUser then scoreWithState.
      const state =
        c.betaAdv > 0 && this.sharesUserState() ? model.encodeUser!(batch.tensors, opts) : null;
      t = this.lap('generatorUserState', t);
      // optimizer.minimize(f, true, phi) spelled out (same calls), so each part can be timed. The
      // reranker's weights are frozen for the engine's layers: their gradients would be discarded,
      // so the backward pass computes only what flows into the score input (protocol 0b.4).
      const { value, grads } = withFrozenWeights(model.trainableVariables(), () =>
        tf.variableGrads(() => {
          const xHat = synthesizeScores(
            labels,
            learned.sample(labels, { training: true }),
            this.synthesis,
          );
          let total: Scalar = tf.scalar(0);
          if (c.betaAdv > 0) {
            const synthetic = this.syntheticBatch(
              batch,
              xHat,
              c.syntheticRanks ? (xHat.dataSync() as Float32Array) : [],
            );
            t = this.lap('generatorSample', t);
            const logits =
              state === null
                ? model.score(synthetic, opts)
                : model.scoreWithState!(synthetic, state, opts);
            const adv = adversarialLoss(logits, labels);
            out.lAdv = adv.dataSync()[0] as number;
            total = tf.add(total, tf.mul(adv, c.betaAdv));
            t = this.lap('generatorForward', t);
          } else {
            t = this.lap('generatorSample', t);
          }
          if (c.betaX > 0) {
            const div = scoreDivergence(
              c.divergence,
              xHat,
              batch.tensors.scores,
              divergenceOptions,
            );
            out.lX = div.dataSync()[0] as number;
            total = tf.add(total, tf.mul(div, c.betaX));
            t = this.lap('generatorLx', t);
          }
          return total;
        }, phi),
      );
      t = this.lap('generatorBackward', t);
      optimizer.applyGradients(phi.map((v) => ({ name: v.name, tensor: grads[v.name]! })));
      tf.dispose(grads);
      out.lG = value.dataSync()[0] as number;
      t = this.lap('generatorUpdate', t);
    });
    this.timing.generatorSteps += 1;
    const s = this.epochStats;
    s.generatorSteps += 1;
    s.lAdv += out.lAdv ?? 0;
    s.lX += out.lX ?? 0;
    s.lG += out.lG ?? 0;
    this.totalGeneratorSteps += 1;
    return out;
  }

  /** AUC sums and the lists kept for the density snapshot. */
  private recordEpochData(batch: TrainBatch, xHatValues: Float32Array): void {
    const s = this.epochStats;
    const L = batch.labels.shape[1];
    s.listSize = L;
    const labels = batch.arrays.labels as Float32Array;
    addListAuc(s.real, batch.arrays.scores, labels, L);
    addListAuc(s.synthetic, xHatValues, labels, L);
    const want = this.config.densityLists - s.capturedLists;
    if (want > 0) {
      const n = Math.min(want, batch.arrays.size);
      s.captured.push({
        labels: Float32Array.from(labels.subarray(0, n * L)),
        scores: Float32Array.from(batch.arrays.scores.subarray(0, n * L)),
      });
      s.capturedLists += n;
    }
  }

  /**
   * The epoch's diagnostics ({@link DnrDiagnostics}): phase, per-list AUC(x, y) and AUC(x̂, y) of
   * the reranker step's synthetic scores, the generator's mean loss terms, and density snapshots
   * (observed, heuristic, learned noise on `densityBins` bins of `densityRange`) drawn on the
   * epoch's first `densityLists` training lists. The snapshot's noise comes from dedicated streams
   * of the generators' seeds (their positions are restored), so it does not disturb training.
   */
  diagnostics(epoch: number): DnrDiagnostics {
    this.assertAlive();
    const s = this.epochStats;
    const c = this.config;
    const mean = (a: { sum: number; lists: number }): number | null =>
      a.lists === 0 ? null : round(a.sum / a.lists);
    const g = s.generatorSteps;
    return {
      phase: this.phase(epoch),
      tau: c.tau,
      generatorEvery: c.generatorEvery,
      auc: { real: mean(s.real), synthetic: mean(s.synthetic), lists: s.synthetic.lists },
      separatesClasses: classesSeparated(this.generatorFor(epoch).support(), this.synthesis),
      generator:
        g === 0
          ? null
          : {
              steps: g,
              lAdv: c.betaAdv > 0 ? round(s.lAdv / g) : null,
              lX: c.betaX > 0 ? round(s.lX / g) : null,
              lG: round(s.lG / g),
            },
      density: this.densitySnapshot(epoch),
      totalGeneratorSteps: this.totalGeneratorSteps,
    };
  }

  private densitySnapshot(epoch: number): DnrDensitySnapshot | null {
    const s = this.epochStats;
    if (s.capturedLists === 0) return null;
    const c = this.config;
    const L = s.listSize;
    const n = s.capturedLists;
    const labels = new Float32Array(n * L);
    const scores = new Float32Array(n * L);
    let off = 0;
    for (const part of s.captured) {
      labels.set(part.labels, off);
      scores.set(part.scores, off);
      off += part.labels.length;
    }
    const hist = { bins: c.densityBins, range: c.densityRange };
    const draw = (gen: NoiseGenerator): Float32Array => {
      const position = gen.position;
      gen.seek((DIAGNOSTIC_STREAM + epoch) % 0xffffffff);
      try {
        return tf.tidy(() => {
          const y = tf.tensor2d(labels, [n, L], 'float32');
          return gen.sample(y, { training: true }).dataSync() as Float32Array;
        });
      } finally {
        gen.seek(position);
      }
    };
    const observed = histogramDensity(observedNoise(scores, labels, c.alpha, c.mix), hist);
    const heuristic = histogramDensity(draw(this.heuristic), hist);
    const learned = this.learned === null ? null : histogramDensity(draw(this.learned), hist);
    const list = (a: Float32Array): number[] => Array.from(a, round);
    return {
      bins: c.densityBins,
      range: [...c.densityRange] as [number, number],
      centers: list(observed.centers),
      observed: list(observed.densities),
      heuristic: list(heuristic.densities),
      learned: learned === null ? null : list(learned.densities),
      outside: {
        observed: observed.outside,
        heuristic: heuristic.outside,
        learned: learned === null ? null : learned.outside,
      },
      lists: n,
    };
  }

  /**
   * Both optimizers (`adam.*` for the reranker, `generatorAdam.*`), the learned generator's
   * variables (`generator.<i>`, in `trainableVariables()` order) and the generators' stream
   * positions, so that a resumed run continues exactly.
   */
  async getState(): Promise<ObjectiveState> {
    this.assertAlive();
    const arrays: Array<ObjectiveState['arrays'][number]> = [
      ...(await optimizerState(this.optimizer, 'adam.')),
    ];
    if (this.learned !== null && this.generatorOptimizer !== null) {
      arrays.push(...(await optimizerState(this.generatorOptimizer, 'generatorAdam.')));
      this.learned.trainableVariables().forEach((v, i) => {
        arrays.push({
          name: `generator.${i}`,
          shape: [...v.shape],
          data: Float32Array.from(v.dataSync()),
        });
      });
    }
    return {
      arrays,
      json: {
        heuristicPosition: this.heuristic.position,
        learnedPosition: this.learned === null ? null : this.learned.position,
        totalGeneratorSteps: this.totalGeneratorSteps,
      },
    };
  }

  /** Restores {@link DnrObjective.getState}'s output (on an objective built with the same config). */
  async setState(state: ObjectiveState): Promise<void> {
    this.assertAlive();
    await setOptimizerState(this.optimizer, state.arrays, 'adam.');
    const json = state.json as {
      heuristicPosition?: unknown;
      learnedPosition?: unknown;
      totalGeneratorSteps?: unknown;
    };
    if (typeof json.heuristicPosition !== 'number') {
      throw new Error('DnrObjective.setState: the state has no heuristicPosition');
    }
    this.heuristic.seek(json.heuristicPosition);
    this.totalGeneratorSteps =
      typeof json.totalGeneratorSteps === 'number' ? json.totalGeneratorSteps : 0;
    if (this.learned !== null && this.generatorOptimizer !== null) {
      if (typeof json.learnedPosition !== 'number') {
        throw new Error('DnrObjective.setState: the state has no learned generator position');
      }
      await setOptimizerState(this.generatorOptimizer, state.arrays, 'generatorAdam.');
      const byName = new Map(state.arrays.map((a) => [a.name, a]));
      const vars = this.learned.trainableVariables();
      vars.forEach((v, i) => {
        const a = byName.get(`generator.${i}`);
        if (!a || a.data.length !== v.size) {
          throw new Error(
            `DnrObjective.setState: generator variable ${i} (shape [${v.shape.join(',')}]) is missing or has another size`,
          );
        }
      });
      tf.tidy(() => {
        vars.forEach((v, i) => v.assign(tf.tensor(byName.get(`generator.${i}`)!.data, v.shape)));
      });
      this.learned.seek(json.learnedPosition);
    }
  }

  /** Frees both optimizers and both generators (not the reranker). Idempotent. */
  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    this.optimizer.dispose();
    this.generatorOptimizer?.dispose();
    this.heuristic.dispose();
    this.learned?.dispose();
  }

  private assertAlive(): void {
    if (this.disposed) throw new Error('this DnrObjective was disposed');
  }
}

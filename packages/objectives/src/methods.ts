/**
 * The named training methods of the paper's tables (protocol.md 1.9) as plain configurations,
 * and the factory that turns one into a {@link TrainingObjective} for a reranker.
 *
 * | name       | heuristic noise (epochs 1 … τ)    | after τ                                 |
 * | ---------- | --------------------------------- | --------------------------------------- |
 * | `prm`      | —                                 | plain BCE                               |
 * | `dnr-g`    | Gaussian N(0, 1)                  | learned (identity, maxDeviation 3), L_adv + L_x |
 * | `dnr-b`    | U-shaped Beta(0.5, 0.5)           | learned (sigmoid), L_adv + L_x          |
 * | `dnr-bl`   | Beta(2, 5)                        | learned (sigmoid), L_adv + L_x          |
 * | `w-g`      | Gaussian N(0, 1), whole run       | — (L_BCE + λ·L_z only)                  |
 * | `w-b`      | Beta(0.5, 0.5), whole run         | — (L_BCE + λ·L_z only)                  |
 * | `g-wo-adv` | as `dnr-g`                        | learned, L_x only (β_adv = 0)           |
 * | `g-wo-x`   | as `dnr-g`                        | learned, L_adv only (β_x = 0)           |
 * | `b-wo-adv` | as `dnr-b`                        | learned, L_x only                       |
 * | `b-wo-x`   | as `dnr-b`                        | learned, L_adv only                     |
 *
 * @module
 */
import type { ScoreUsage, Reranker } from '@dnr/backbones';
import { deriveSeed } from '@dnr/backbones';
import { splitIndices, type RerankDataset } from '@dnr/data';
import {
  BetaNoise,
  GaussianNoise,
  LabelConditionalBetaNoise,
  LearnedNoiseGenerator,
  fitLabelConditionalBeta,
  type MixKind,
  type NoiseGenerator,
  type OutputActivation,
} from '@dnr/noise';
import { SCORE_DIVERGENCE_KINDS, type ScoreDivergenceKind } from './divergence';
import { DnrObjective, type DnrObjectiveOptions } from './dnr';
import type { DenoisingForm } from './losses';
import { BceObjective, type TrainingObjective } from './objective';

/** Names of the training methods (protocol 1.9). */
export const METHOD_NAMES = [
  'prm',
  'dnr-g',
  'dnr-b',
  'dnr-bl',
  'w-g',
  'w-b',
  'g-wo-adv',
  'g-wo-x',
  'b-wo-adv',
  'b-wo-x',
] as const;
/** A training method name. */
export type MethodName = (typeof METHOD_NAMES)[number];

/** Heuristic noise of the reranker step (before τ, or for the whole run without a learned generator). */
export type HeuristicNoiseSpec =
  | { readonly type: 'gaussian'; readonly mean: number; readonly std: number }
  | { readonly type: 'beta'; readonly a: number; readonly b: number; readonly signed: boolean }
  /** Label-conditional Beta fitted (method of moments) to the training lists' retriever scores. */
  | { readonly type: 'label-beta' };

/** Short names of heuristic noises for command lines (see {@link heuristicNoiseSpec}). */
export const HEURISTIC_NOISE_NAMES = [
  'gaussian',
  'beta',
  'beta-signed',
  'beta-bl',
  'label-beta',
] as const;
/** A short heuristic noise name. */
export type HeuristicNoiseName = (typeof HEURISTIC_NOISE_NAMES)[number];

/**
 * The spec of a short noise name: `gaussian` N(0, 1), `beta` U-shaped Beta(0.5, 0.5) (DNR-B),
 * `beta-signed` 2·Beta(0.5, 0.5) - 1, `beta-bl` Beta(2, 5) (DNR-BL), `label-beta` fitted per label.
 */
export function heuristicNoiseSpec(name: HeuristicNoiseName): HeuristicNoiseSpec {
  switch (name) {
    case 'gaussian':
      return { type: 'gaussian', mean: 0, std: 1 };
    case 'beta':
      return { type: 'beta', a: 0.5, b: 0.5, signed: false };
    case 'beta-signed':
      return { type: 'beta', a: 0.5, b: 0.5, signed: true };
    case 'beta-bl':
      return { type: 'beta', a: 2, b: 5, signed: false };
    case 'label-beta':
      return { type: 'label-beta' };
    default:
      throw new RangeError(
        `heuristic noise must be one of ${HEURISTIC_NOISE_NAMES.join(', ')}, got ${JSON.stringify(name)}`,
      );
  }
}

/** The learned generator f_φ (a 2-layer MLP on `[y, z]`, see `LearnedNoiseGenerator`). */
export interface LearnedGeneratorSpec {
  /** Output activation: `sigmoid` after a Beta warm-up, `identity` after a Gaussian one (protocol 1.4). */
  readonly activation: OutputActivation;
  /** Soft bound `m·tanh(raw/m)` of an identity output (protocol 0b.6); null = unbounded. */
  readonly maxDeviation: number | null;
  /** Latent width d_z. */
  readonly latentDim: number;
  /** Hidden width. */
  readonly hiddenUnits: number;
}

/** A method: what the backbone reads and how it is trained. JSON only. */
export interface MethodConfig {
  readonly name: MethodName;
  /** One line for logs and reports. */
  readonly description: string;
  /** `bce` = `BceObjective`; `dnr` = `DnrObjective`. */
  readonly objective: 'bce' | 'dnr';
  /** How the backbone takes the retriever score (DNR: `concat`, protocol 1.7; `prm`: `none`). */
  readonly scoreUsage: ScoreUsage;
  /** Noise of the reranker step before τ (null for `prm`). */
  readonly heuristic: HeuristicNoiseSpec | null;
  /** The generator after τ (null: heuristic noise for the whole run). */
  readonly learned: LearnedGeneratorSpec | null;
  /** Eq. 4 noise proportion α. */
  readonly alpha: number;
  /** Eq. 6 weight λ. */
  readonly lambda: number;
  /** Warm-up epochs τ (1-based epochs 1 … τ use the heuristic noise). */
  readonly tau: number;
  /** Weight of L_adv. */
  readonly betaAdv: number;
  /** Weight of L_x. */
  readonly betaX: number;
  /** L_x estimator. */
  readonly divergence: ScoreDivergenceKind;
  /** Eq. 4 form. */
  readonly mix: MixKind;
  /** Eq. 6 form. */
  readonly form: DenoisingForm;
  /** Generator step every k batches. */
  readonly generatorEvery: number;
  /** Reranker in training mode during the generator step. */
  readonly generatorStepTraining: boolean;
}

/** Settings a caller may override on a named method. */
export type MethodOverrides = Partial<
  Omit<MethodConfig, 'name' | 'description' | 'objective' | 'learned' | 'heuristic'>
> & {
  readonly heuristic?: HeuristicNoiseSpec;
  readonly learned?: Partial<LearnedGeneratorSpec>;
};

/**
 * Defaults shared by the DNR methods: Table 7's ML-1M α = 0.4, λ = 0.4; τ = 3 [GUESS] (Table 7's
 * τ = 40 assumes runs of 100+ epochs; our reduced runs early-stop within ~10-30 epochs, so τ is
 * an explicit setting with a small default); β_adv = β_x = 1, softmax-KL L_x, linear mix,
 * additive Eq. 6, a generator step after every reranker step in train mode (protocol 1.5-1.6).
 */
export const DNR_METHOD_DEFAULTS = Object.freeze({
  scoreUsage: 'concat' as ScoreUsage,
  alpha: 0.4,
  lambda: 0.4,
  tau: 3,
  betaAdv: 1,
  betaX: 1,
  divergence: 'softmaxKL' as ScoreDivergenceKind,
  mix: 'linear' as MixKind,
  form: 'additive' as DenoisingForm,
  generatorEvery: 1,
  generatorStepTraining: true,
});

const SIGMOID: LearnedGeneratorSpec = Object.freeze({
  activation: 'sigmoid',
  maxDeviation: null,
  latentDim: 16,
  hiddenUnits: 128,
});
/** Identity output with a soft bound of 3 (≈ the range of N(0, 1) draws) [GUESS]. */
const IDENTITY: LearnedGeneratorSpec = Object.freeze({
  activation: 'identity',
  maxDeviation: 3,
  latentDim: 16,
  hiddenUnits: 128,
});

type MethodShape = Pick<MethodConfig, 'description' | 'heuristic' | 'learned'> &
  Partial<Pick<MethodConfig, 'betaAdv' | 'betaX'>>;

const GAUSS = heuristicNoiseSpec('gaussian');
const BETA = heuristicNoiseSpec('beta');

const SHAPES: Record<Exclude<MethodName, 'prm'>, MethodShape> = {
  'dnr-g': {
    description: 'DNR-G: Gaussian noise, then a learned generator (L_adv + L_x)',
    heuristic: GAUSS,
    learned: IDENTITY,
  },
  'dnr-b': {
    description: 'DNR-B: U-shaped Beta(0.5, 0.5) noise, then a learned generator (L_adv + L_x)',
    heuristic: BETA,
    learned: SIGMOID,
  },
  'dnr-bl': {
    description: 'DNR-BL: Beta(2, 5) noise, then a learned generator (L_adv + L_x)',
    heuristic: heuristicNoiseSpec('beta-bl'),
    learned: SIGMOID,
  },
  'w-g': {
    description: 'w/ G: Gaussian noise for the whole run (L_BCE + λ·L_z)',
    heuristic: GAUSS,
    learned: null,
    betaAdv: 0,
    betaX: 0,
  },
  'w-b': {
    description: 'w/ B: Beta(0.5, 0.5) noise for the whole run (L_BCE + λ·L_z)',
    heuristic: BETA,
    learned: null,
    betaAdv: 0,
    betaX: 0,
  },
  'g-wo-adv': {
    description: 'G w/o L_adv: as DNR-G, the generator trained with L_x only',
    heuristic: GAUSS,
    learned: IDENTITY,
    betaAdv: 0,
  },
  'g-wo-x': {
    description: 'G w/o L_x: as DNR-G, the generator trained with L_adv only',
    heuristic: GAUSS,
    learned: IDENTITY,
    betaX: 0,
  },
  'b-wo-adv': {
    description: 'B w/o L_adv: as DNR-B, the generator trained with L_x only',
    heuristic: BETA,
    learned: SIGMOID,
    betaAdv: 0,
  },
  'b-wo-x': {
    description: 'B w/o L_x: as DNR-B, the generator trained with L_adv only',
    heuristic: BETA,
    learned: SIGMOID,
    betaX: 0,
  },
};

/** True for a known method name. */
export function isMethodName(name: unknown): name is MethodName {
  return typeof name === 'string' && (METHOD_NAMES as readonly string[]).includes(name);
}

/**
 * The configuration of a named method, with optional overrides (e.g. `{ tau: 5 }`, or the
 * overlapping `heuristic: heuristicNoiseSpec('beta-signed')`, protocol 0b.2). Overrides of the
 * ablated weight of an ablation (`betaAdv` of `*-wo-adv`, `betaX` of `*-wo-x`) are refused, and
 * generator overrides on methods without a learned generator too.
 *
 * @throws RangeError for an unknown name or a bad override.
 */
export function methodConfig(name: MethodName, overrides: MethodOverrides = {}): MethodConfig {
  if (!isMethodName(name)) {
    throw new RangeError(`method must be one of ${METHOD_NAMES.join(', ')}, got ${String(name)}`);
  }
  const d = DNR_METHOD_DEFAULTS;
  if (name === 'prm') {
    const dnrOnly = Object.keys(overrides).filter((k) => k !== 'scoreUsage');
    if (dnrOnly.length > 0) {
      throw new RangeError(
        `method 'prm' is plain BCE training: ${dnrOnly.join(', ')} apply only to the DNR methods`,
      );
    }
    return {
      ...d,
      name,
      description: 'plain BCE on the real retriever scores',
      objective: 'bce',
      scoreUsage: overrides.scoreUsage ?? 'none',
      heuristic: null,
      learned: null,
    };
  }
  const shape = SHAPES[name];
  if (shape.learned === null) {
    const generatorOnly = (
      [
        'learned',
        'tau',
        'betaAdv',
        'betaX',
        'divergence',
        'generatorEvery',
        'generatorStepTraining',
      ] as const
    ).filter((k) => overrides[k] !== undefined);
    if (generatorOnly.length > 0) {
      throw new RangeError(
        `method '${name}' has no learned generator: ${generatorOnly.join(', ')} do not apply`,
      );
    }
  }
  if (shape.betaAdv === 0 && overrides.betaAdv !== undefined && overrides.betaAdv !== 0) {
    throw new RangeError(`method '${name}' is the ablation without L_adv: betaAdv stays 0`);
  }
  if (shape.betaX === 0 && overrides.betaX !== undefined && overrides.betaX !== 0) {
    throw new RangeError(`method '${name}' is the ablation without L_x: betaX stays 0`);
  }
  const { heuristic, learned, ...rest } = overrides;
  const defined = Object.fromEntries(Object.entries(rest).filter(([, v]) => v !== undefined));
  const config: MethodConfig = {
    ...d,
    ...defined,
    name,
    description: shape.description,
    objective: 'dnr',
    heuristic: heuristic ?? shape.heuristic,
    learned:
      shape.learned === null
        ? null
        : {
            ...shape.learned,
            ...Object.fromEntries(Object.entries(learned ?? {}).filter(([, v]) => v !== undefined)),
          },
    ...(shape.betaAdv !== undefined ? { betaAdv: shape.betaAdv } : {}),
    ...(shape.betaX !== undefined ? { betaX: shape.betaX } : {}),
  };
  if (!SCORE_DIVERGENCE_KINDS.includes(config.divergence)) {
    throw new RangeError(
      `divergence must be one of ${SCORE_DIVERGENCE_KINDS.join(', ')}, got ${JSON.stringify(config.divergence)}`,
    );
  }
  if (config.learned !== null && config.learned.activation !== 'identity') {
    if (learned?.maxDeviation !== undefined && learned.maxDeviation !== null) {
      throw new RangeError(
        `maxDeviation applies only to the identity output, got activation '${config.learned.activation}'`,
      );
    }
    // sigmoid / tanh are bounded already: the identity default's soft bound does not apply.
    return { ...config, learned: { ...config.learned, maxDeviation: null } };
  }
  return config;
}

/** Whether the method trains a learned generator after τ. */
export function usesLearnedGenerator(method: MethodConfig): boolean {
  return method.objective === 'dnr' && method.learned !== null;
}

/**
 * The trainer's `patienceStartEpoch` for a method (protocol 0b.3): `τ + 1` (the first learned
 * epoch, 1-based) with a learned generator, so early stopping cannot end the run inside the
 * warm-up; 1 otherwise.
 */
export function methodPatienceStart(method: MethodConfig): number {
  return usesLearnedGenerator(method) ? method.tau + 1 : 1;
}

/** Options of {@link createMethodObjective}. */
export interface CreateMethodObjectiveOptions {
  /** Run seed (non-zero integer): the generators' and L_x's seeds are derived from it. */
  seed: number;
  /** Reranker Adam learning rate (default 1e-3). */
  lr?: number;
  /** Reranker decoupled weight decay (default 0). */
  weightDecay?: number;
  /** Generator Adam learning rate (default `lr`). */
  generatorLr?: number;
  /**
   * Training data for `label-beta` noise: the train split's retriever scores and labels are
   * fitted with `fitLabelConditionalBeta(scores, labels, { alpha, mix })`.
   */
  dataset?: RerankDataset;
  /**
   * Further `DnrObjective` options (density snapshot settings, `shareUserState`,
   * `augmentation`, ...).
   */
  dnr?: Partial<
    Pick<
      DnrObjectiveOptions,
      | 'densityBins'
      | 'densityRange'
      | 'densityLists'
      | 'shareUserState'
      | 'syntheticRanks'
      | 'augmentation'
      | 'divergenceOptions'
      | 'clamp'
    >
  >;
}

/** The train split's retriever scores and labels (float arrays, list-major). */
function trainScoresAndLabels(ds: RerankDataset): { scores: Float32Array; labels: Float32Array } {
  const idx = splitIndices(ds, 'train');
  const L = ds.listSize;
  const scores = new Float32Array(idx.length * L);
  const labels = new Float32Array(idx.length * L);
  idx.forEach((list, i) => {
    for (let j = 0; j < L; j++) {
      scores[i * L + j] = ds.scores[list * L + j] as number;
      labels[i * L + j] = ds.labels[list * L + j] as number;
    }
  });
  return { scores, labels };
}

/**
 * Builds the heuristic generator of a spec. `label-beta` needs `dataset` (its train split is
 * fitted for the given α and mix).
 */
export function createHeuristicGenerator(
  spec: HeuristicNoiseSpec,
  options: { seed: number; alpha: number; mix: MixKind; dataset?: RerankDataset },
): NoiseGenerator {
  switch (spec.type) {
    case 'gaussian':
      return new GaussianNoise({ seed: options.seed, mean: spec.mean, std: spec.std });
    case 'beta':
      return new BetaNoise({ seed: options.seed, a: spec.a, b: spec.b, signed: spec.signed });
    case 'label-beta': {
      if (!options.dataset) {
        throw new Error(
          "heuristic noise 'label-beta' is fitted to the training retriever scores: pass the dataset",
        );
      }
      const { scores, labels } = trainScoresAndLabels(options.dataset);
      const fit = fitLabelConditionalBeta(scores, labels, {
        alpha: options.alpha,
        mix: options.mix,
      });
      return new LabelConditionalBetaNoise({
        seed: options.seed,
        positive: fit.positive,
        negative: fit.negative,
      });
    }
    default:
      throw new RangeError(`unknown heuristic noise ${JSON.stringify(spec)}`);
  }
}

/**
 * The objective of a method for `model`: `BceObjective` for `prm`, else a `DnrObjective` with the
 * method's generators (seeds derived from `options.seed`: `deriveSeed(seed, 'dnr', 'heuristic')`,
 * `… 'learned'`, `… 'divergence'`). The model must have been built with `method.scoreUsage`
 * (the caller creates it; `DnrObjective` refuses `'none'` with a learned adversary).
 */
export function createMethodObjective(
  model: Reranker,
  method: MethodConfig,
  options: CreateMethodObjectiveOptions,
): TrainingObjective {
  const adam = {
    ...(options.lr !== undefined ? { lr: options.lr } : {}),
    ...(options.weightDecay !== undefined ? { weightDecay: options.weightDecay } : {}),
  };
  if (method.objective === 'bce') return new BceObjective(model, adam);
  if (!Number.isInteger(options.seed) || options.seed === 0) {
    throw new RangeError(
      `createMethodObjective: seed must be a non-zero integer, got ${options.seed}`,
    );
  }
  if (method.heuristic === null) {
    throw new RangeError(`method '${method.name}' (dnr) needs a heuristic noise`);
  }
  const heuristic = createHeuristicGenerator(method.heuristic, {
    seed: deriveSeed(options.seed, 'dnr', 'heuristic'),
    alpha: method.alpha,
    mix: method.mix,
    ...(options.dataset ? { dataset: options.dataset } : {}),
  });
  let learned: NoiseGenerator | null = null;
  try {
    learned =
      method.learned === null
        ? null
        : new LearnedNoiseGenerator({
            seed: deriveSeed(options.seed, 'dnr', 'learned'),
            activation: method.learned.activation,
            maxDeviation: method.learned.maxDeviation,
            latentDim: method.learned.latentDim,
            hiddenUnits: method.learned.hiddenUnits,
          });
    return new DnrObjective(model, {
      ...adam,
      ...(options.generatorLr !== undefined ? { generatorLr: options.generatorLr } : {}),
      ...options.dnr,
      heuristic,
      learned,
      alpha: method.alpha,
      mix: method.mix,
      lambda: method.lambda,
      form: method.form,
      tau: method.tau,
      betaAdv: method.betaAdv,
      betaX: method.betaX,
      divergence: method.divergence,
      divergenceSeed: deriveSeed(options.seed, 'dnr', 'divergence'),
      generatorEvery: method.generatorEvery,
      generatorStepTraining: method.generatorStepTraining,
    });
  } catch (error) {
    heuristic.dispose();
    learned?.dispose();
    throw error;
  }
}

import { existsSync, readFileSync, rmSync } from 'node:fs';
import { basename, join } from 'node:path';
import { createReranker, listRerankers, type Reranker, type ScoreUsage } from '@dnr/backbones';
import {
  INTERACTION_FORMATS,
  canonicalJson,
  LAB_DEFAULTS,
  generateLabDataset,
  idealAugmentLab,
  type InteractionFormat,
  type RerankDataset,
} from '@dnr/data';
import {
  HEURISTIC_NOISE_NAMES,
  METHOD_NAMES,
  RUN_FILES,
  SCORE_DIVERGENCE_KINDS,
  createMethodObjective,
  formatMetrics,
  heuristicNoiseSpec,
  methodConfig,
  methodPatienceStart,
  trainReranker,
  usesLearnedGenerator,
  type DnrDiagnostics,
  type EpochRecord,
  type MethodConfig,
  type MethodName,
  type MethodOverrides,
  type MetricsRecord,
  type ScoreDivergenceKind,
  type TrainResult,
  type TrainingObjective,
} from '@dnr/objectives';
import { z } from 'zod';
import { BACKEND_CHOICES, describeBackend, selectBackend } from './backend';
import { evaluateSplit, listsOf, referenceScores } from './evaluate';
import { safeSegment, writeFileAtomic } from './files';
import { prepareDataset, prepareSchema, type Log } from './prepare';
import { acquireRunLock } from './run-lock';

/** Backbones `dnr-bench train` can train; each must also be registered in `@dnr/backbones`. */
export const TRAIN_BACKBONES = ['prm', 'pier'] as const;
export type TrainBackbone = (typeof TRAIN_BACKBONES)[number];

/** The DNR methods of `@dnr/objectives` (protocol 1.9), trained on `--backbone`. */
export const DNR_METHODS = METHOD_NAMES.filter((m) => m !== 'prm') as Exclude<MethodName, 'prm'>[];

/**
 * Methods `dnr-bench train` knows: `prm` / `pier` train the plain backbone with BCE (as before
 * the DNR methods existed; `pier` is the alias of plain Pier), the others are DNR methods.
 */
export const TRAIN_METHODS = ['prm', 'pier', ...DNR_METHODS] as [
  'prm',
  'pier',
  ...Exclude<MethodName, 'prm'>[],
];
export type TrainMethod = 'prm' | 'pier' | Exclude<MethodName, 'prm'>;

const seedSchema = z
  .int()
  .min(1)
  .max(2 ** 31 - 1);

/** Lab dataset options (run file only, key `lab`); see `@dnr/data` `LabConfig`. */
const labSchema = z
  .object({
    numUsers: z.int().min(1),
    numItems: z.int().min(2),
    factorDim: z.int().min(1),
    trainLists: z.int().min(1),
    validationLists: z.int().min(1),
    testLists: z.int().min(1),
    listSize: z.int().min(2),
    historyLength: z.int().min(1),
    minHistoryLength: z.int().min(0),
    clickRate: z.number().gt(0).lt(1),
    featureNoise: z.number().min(0),
    retrieverNoise: z
      .object({ train: z.number().min(0), eval: z.number().min(0) })
      .partial()
      .strict(),
  })
  .partial()
  .strict();

/**
 * Settings of `dnr-bench train` (flags > run file > these defaults). The data settings of a
 * file dataset are those of `data prepare` (same defaults, so its cached dataset is reused);
 * the retriever's own `dim`, `epochs`, `patience` and `seed` are named `retrieverDim`,
 * `retrieverEpochs`, `retrieverPatience` and `dataSeed` here. Model settings left unset take the
 * model's defaults (PRM: d = 128, 2 blocks, 4 heads, dropout 0.1).
 */
export const trainSchema = z.object({
  method: z.enum(TRAIN_METHODS),
  /** Backbone of a DNR method (default prm); `--method prm|pier` name their backbone themselves. */
  backbone: z.enum(TRAIN_BACKBONES).optional(),
  /** Default: `none` for plain backbones, the method's (`concat`) for DNR methods. */
  scoreUsage: z.enum(['none', 'concat', 'add', 'weight']).optional(),
  /** `lab` (default without --input) or `<format>:<file>`. */
  dataset: z.string().min(1).optional(),
  labSeed: seedSchema.default(2026),
  lab: labSchema.optional(),
  format: z.enum(INTERACTION_FORMATS as [InteractionFormat, ...InteractionFormat[]]).optional(),
  input: z.string().min(1).optional(),
  minInteractions: z.int().min(1).optional(),
  positiveThreshold: z.number().optional(),
  windowSize: z.int().min(1).optional(),
  historyCap: z.int().min(1).optional(),
  listSize: z.int().min(2).optional(),
  split: z.enum(['ratio', 'leave-last']).optional(),
  candidates: z.enum(['sampled', 'top']).optional(),
  retrieverMode: z.enum(['crossfit', 'temporal', 'shared']).optional(),
  folds: z.int().min(2).optional(),
  retrieverDim: z.int().min(1).optional(),
  negatives: z.int().min(1).optional(),
  retrieverEpochs: z.int().min(1).optional(),
  retrieverPatience: z.int().min(1).optional(),
  dataSeed: seedSchema.optional(),
  cacheDir: z.string().min(1).default('.dnr-cache'),
  dim: z.int().min(1).max(4096).optional(),
  blocks: z.int().min(0).max(64).optional(),
  heads: z.int().min(1).max(256).optional(),
  ffnDim: z.int().min(1).max(65536).optional(),
  dropout: z.number().min(0).lt(1).optional(),
  /** History encoder: a Transformer block (model default) or masked mean pooling (cheap). */
  userEncoder: z.enum(['transformer', 'mean']).optional(),
  /** Feed the dataset's item/user side features to models that take them (PRM). */
  sideFeatures: z.boolean().default(true),
  /** Item-id embeddings (false with side features = a content-only reranker). */
  useIds: z.boolean().default(true),
  /**
   * PRM's learned embedding of each candidate's retriever rank. With `scoreUsage: 'none'`, false
   * gives a reranker that never sees the retriever (the "content-only" reference of protocol 0b.7).
   */
  rankEmbedding: z.boolean().default(true),
  /**
   * Lab only: synthetic copies of every training list with scores redrawn from the lab's true
   * noise model at the evaluation noise level (the "ideal augmentation" reference, protocol 0b.7).
   */
  idealAugmentation: z.int().min(0).max(16).default(0),
  /**
   * Lab only: score training lists with the validation/test retriever noise (no train/test shift),
   * the "honest training scores" reference of protocol 0b.7.
   */
  honestScores: z.boolean().default(false),
  epochs: z.int().min(1).max(100_000).default(100),
  batchSize: z.int().min(1).max(1_000_000).default(256),
  evalBatchSize: z.int().min(1).max(1_000_000).default(512),
  lr: z.number().gt(0).max(10).default(1e-3),
  weightDecay: z.number().min(0).max(1).default(0),
  patience: z.int().min(1).max(100_000).default(5),
  /** Default: 1, or τ + 1 for DNR methods with a learned generator (protocol 0b.3). */
  patienceStart: z.int().min(1).max(100_000).optional(),
  seed: seedSchema.default(1),
  // DNR settings (DNR methods only; unset = the method's default, see @dnr/objectives methodConfig)
  /** Eq. 4 noise proportion α. */
  alpha: z.number().gt(0).lt(1).optional(),
  /** Eq. 6 weight λ of L_z. */
  lambda: z.number().min(0).max(100).optional(),
  /** Warm-up epochs τ (heuristic noise in epochs 1 … τ). */
  tau: z.int().min(0).max(100_000).optional(),
  /** Weight of L_adv (0 = without L_adv). */
  betaAdv: z.number().min(0).max(1000).optional(),
  /** Weight of L_x (0 = without L_x). */
  betaX: z.number().min(0).max(1000).optional(),
  divergence: z
    .enum(SCORE_DIVERGENCE_KINDS as [ScoreDivergenceKind, ...ScoreDivergenceKind[]])
    .optional(),
  mix: z.enum(['linear', 'sqrt']).optional(),
  denoisingForm: z.enum(['additive', 'convex']).optional(),
  /** Heuristic noise instead of the method's (e.g. `beta-signed`, `label-beta`: protocol 0b.2). */
  noise: z.enum(HEURISTIC_NOISE_NAMES).optional(),
  generatorOutput: z.enum(['sigmoid', 'tanh', 'identity']).optional(),
  maxDeviation: z.number().gt(0).max(1000).optional(),
  generatorEvery: z.int().min(1).max(100_000).optional(),
  generatorLr: z.number().gt(0).max(10).optional(),
  /** The reranker's mode during the generator step (default train). */
  generatorStepMode: z.enum(['train', 'eval']).optional(),
  /**
   * How synthetic scores join a batch (default `double`, Algorithm 1: every list scored on x and on
   * x̂); `replace`: part of the batch carries x̂ instead of x, one pass (protocol 0b.4).
   */
  augmentation: z.enum(['double', 'replace']).optional(),
  backend: z.enum(BACKEND_CHOICES).default('auto'),
  out: z.string().min(1).default('results'),
  runId: z.string().min(1).optional(),
  force: z.boolean().default(false),
  restart: z.boolean().default(false),
  json: z.boolean().default(false),
});
export type TrainSettings = z.infer<typeof trainSchema>;

/** Settings that do not change a run's result (left out of its identity). */
const VOLATILE = [
  'backend',
  'out',
  'runId',
  'force',
  'restart',
  'json',
  'cacheDir',
  'evalBatchSize',
];

/** Where the data comes from, after parsing `--dataset` / `--format --input`. */
export type DataSource =
  | { kind: 'lab'; name: 'lab' }
  | { kind: 'file'; name: string; format: InteractionFormat; input: string };

/** Resolves `--dataset lab`, `--dataset <format>:<file>` or `--format <f> --input <file>`. */
export function dataSource(s: TrainSettings): DataSource {
  let format = s.format;
  let input = s.input;
  if (s.dataset !== undefined && s.dataset !== 'lab') {
    const at = s.dataset.indexOf(':');
    const f = at > 0 ? s.dataset.slice(0, at) : '';
    if (!(INTERACTION_FORMATS as readonly string[]).includes(f) || at === s.dataset.length - 1) {
      throw new Error(
        `--dataset must be 'lab' or '<format>:<file>' with format one of ${INTERACTION_FORMATS.join(', ')}; got '${s.dataset}'`,
      );
    }
    if (format !== undefined || input !== undefined) {
      throw new Error(
        'give the dataset either as --dataset <format>:<file> or as --format/--input',
      );
    }
    format = f as InteractionFormat;
    input = s.dataset.slice(at + 1);
  }
  if (input === undefined && format === undefined) return { kind: 'lab', name: 'lab' };
  if (s.dataset === 'lab')
    throw new Error('--dataset lab cannot be combined with --format/--input');
  if (input === undefined || format === undefined) {
    throw new Error('a file dataset needs both --format and --input');
  }
  if (s.lab !== undefined) throw new Error("'lab' settings apply only to --dataset lab");
  if (s.honestScores)
    throw new Error(
      '--honest-scores applies only to --dataset lab (it redraws the retriever noise)',
    );
  if (s.idealAugmentation > 0)
    throw new Error(
      '--ideal-augmentation applies only to --dataset lab (it needs the true noise model)',
    );
  const stem = basename(input)
    .replace(/\.gz$/, '')
    .replace(/\.[^.]*$/, '');
  return { kind: 'file', name: `${format}-${stem || 'data'}`, format, input };
}

/** A method resolved against its backbone: what is trained, and the defaults it implies. */
export interface ResolvedMethod {
  readonly backbone: TrainBackbone;
  /** The `@dnr/objectives` method (`prm` = plain BCE, whatever the backbone). */
  readonly method: MethodConfig;
  readonly scoreUsage: ScoreUsage;
  readonly patienceStart: number;
}

/** The DNR overrides given in the settings (unset ones are left out). */
function methodOverrides(s: TrainSettings): MethodOverrides {
  const learned = {
    ...(s.generatorOutput !== undefined ? { activation: s.generatorOutput } : {}),
    ...(s.maxDeviation !== undefined ? { maxDeviation: s.maxDeviation } : {}),
  };
  const o: Record<string, unknown> = {
    alpha: s.alpha,
    lambda: s.lambda,
    tau: s.tau,
    betaAdv: s.betaAdv,
    betaX: s.betaX,
    divergence: s.divergence,
    mix: s.mix,
    form: s.denoisingForm,
    generatorEvery: s.generatorEvery,
    generatorStepTraining:
      s.generatorStepMode === undefined ? undefined : s.generatorStepMode === 'train',
    heuristic: s.noise === undefined ? undefined : heuristicNoiseSpec(s.noise),
    learned: Object.keys(learned).length > 0 ? learned : undefined,
  };
  return Object.fromEntries(
    Object.entries(o).filter(([, v]) => v !== undefined),
  ) as MethodOverrides;
}

/**
 * Resolves `--method` / `--backbone` and the DNR flags: `prm` and `pier` are the plain
 * backbones (BCE; DNR flags are refused), any other method is DNR on `--backbone` (default prm).
 * `scoreUsage` defaults to `none` (plain) or the method's (`concat`); `patienceStart` to 1, or
 * τ + 1 with a learned generator (protocol 0b.3).
 */
export function resolveMethod(s: TrainSettings): ResolvedMethod {
  const plain = s.method === 'prm' || s.method === 'pier';
  if (plain && s.backbone !== undefined && s.backbone !== s.method) {
    throw new Error(
      `--method ${s.method} trains plain ${s.method === 'prm' ? 'PRM' : 'Pier'}; ` +
        `for plain ${s.backbone === 'prm' ? 'PRM' : 'Pier'} use --method ${s.backbone}`,
    );
  }
  const backbone: TrainBackbone = plain ? (s.method as TrainBackbone) : (s.backbone ?? 'prm');
  const overrides = methodOverrides(s);
  const dnrFlags = Object.keys(overrides);
  if (plain && dnrFlags.length > 0) {
    throw new Error(
      `--method ${s.method} is plain BCE training: ${dnrFlags.join(', ')} apply only to the DNR ` +
        `methods (${DNR_METHODS.join(', ')})`,
    );
  }
  for (const key of ['generatorLr', 'augmentation'] as const) {
    if (plain && s[key] !== undefined) {
      throw new Error(`--method ${s.method} is plain BCE training: ${key} does not apply`);
    }
  }
  const method = methodConfig(plain ? 'prm' : (s.method as MethodName), overrides);
  if (!usesLearnedGenerator(method) && s.generatorLr !== undefined) {
    throw new Error(`method '${s.method}' has no learned generator: generatorLr does not apply`);
  }
  return {
    backbone,
    method,
    scoreUsage: s.scoreUsage ?? method.scoreUsage,
    patienceStart: s.patienceStart ?? methodPatienceStart(method),
  };
}

/**
 * The default run id (or `--run-id`), path-safe: `<dataset>-<method>-<scoreUsage>-s<seed>` for
 * the plain backbones (`--method prm|pier`, as before), `<dataset>-<method>-<backbone>-<scoreUsage>-s<seed>`
 * for the DNR methods.
 */
export function runIdOf(s: TrainSettings, source: DataSource): string {
  const r = resolveMethod(s);
  const plain = s.method === 'prm' || s.method === 'pier';
  return safeSegment(
    s.runId ??
      (plain
        ? `${source.name}-${s.method}-${r.scoreUsage}-s${s.seed}`
        : `${source.name}-${s.method}-${r.backbone}-${r.scoreUsage}-s${s.seed}`),
  );
}

/** Throws a clear error when a backbone is not (yet) registered in `@dnr/backbones`. */
export function checkMethodAvailable(method: string, registered: readonly string[]): void {
  if (!registered.includes(method)) {
    throw new Error(
      `method '${method}' is not available yet: @dnr/backbones registers ${registered.join(', ')}`,
    );
  }
}

/** Gives a model that was configured with side features the dataset's feature matrices. */
function attachSideFeatures(model: Reranker, ds: RerankDataset, log: Log): void {
  const config = model.config as { itemFeatureDim?: number; userFeatureDim?: number };
  if (!config.itemFeatureDim && !config.userFeatureDim) return;
  const withFeatures = model as Reranker & {
    setSideFeatures?(f: { item?: Float32Array; user?: Float32Array }): void;
  };
  withFeatures.setSideFeatures?.({
    ...(config.itemFeatureDim && ds.itemFeatures ? { item: ds.itemFeatures } : {}),
    ...(config.userFeatureDim && ds.userFeatures ? { user: ds.userFeatures } : {}),
  });
  log(
    `side features: item ${config.itemFeatureDim ?? 0} columns, user ${config.userFeatureDim ?? 0} columns`,
  );
}

/** The reranker config of a method for a dataset (unset model flags keep the model defaults). */
export function modelConfig(s: TrainSettings, ds: RerankDataset): Record<string, unknown> {
  const optional = {
    dim: s.dim,
    blocks: s.blocks,
    heads: s.heads,
    ffnDim: s.ffnDim,
    dropout: s.dropout,
    userEncoder: s.userEncoder,
  };
  const { backbone, scoreUsage } = resolveMethod(s);
  if (!s.rankEmbedding && backbone !== 'prm')
    throw new Error(`--no-rank-embedding applies to PRM only, not to ${backbone}`);
  const features =
    backbone === 'prm' && s.sideFeatures
      ? {
          ...(ds.itemFeatureDim ? { itemFeatureDim: ds.itemFeatureDim } : {}),
          ...(ds.userFeatureDim ? { userFeatureDim: ds.userFeatureDim } : {}),
        }
      : {};
  return {
    ...features,
    ...(s.useIds ? {} : { useIds: false }),
    ...(s.rankEmbedding ? {} : { rankEmbedding: false }),
    numItems: ds.numItems,
    numUsers: ds.numUsers,
    maxListSize: ds.listSize,
    historyLength: ds.historyLength,
    scoreUsage,
    seed: s.seed,
    ...Object.fromEntries(Object.entries(optional).filter(([, v]) => v !== undefined)),
  };
}

async function loadData(
  s: TrainSettings,
  source: DataSource,
  log: Log,
): Promise<{ ds: RerankDataset; description: Record<string, unknown> }> {
  if (source.kind === 'lab') {
    const noise = { ...LAB_DEFAULTS.retrieverNoise, ...s.lab?.retrieverNoise };
    const lab = generateLabDataset({
      ...s.lab,
      ...(s.honestScores ? { retrieverNoise: { ...noise, train: noise.eval } } : {}),
      seed: s.labSeed,
    });
    const ds = idealAugmentLab(lab, s.idealAugmentation, s.labSeed + 1);
    return {
      ds,
      description: {
        name: 'lab',
        seed: s.labSeed,
        ...(s.lab ? { lab: s.lab } : {}),
        ...(s.idealAugmentation > 0 ? { idealAugmentation: s.idealAugmentation } : {}),
        ...(s.honestScores ? { honestScores: true } : {}),
      },
    };
  }
  const prep = prepareSchema.parse({
    format: source.format,
    input: source.input,
    minInteractions: s.minInteractions,
    positiveThreshold: s.positiveThreshold,
    windowSize: s.windowSize,
    historyCap: s.historyCap,
    listSize: s.listSize,
    split: s.split,
    candidates: s.candidates,
    retrieverMode: s.retrieverMode,
    folds: s.folds,
    dim: s.retrieverDim,
    negatives: s.negatives,
    epochs: s.retrieverEpochs,
    patience: s.retrieverPatience,
    seed: s.dataSeed,
    cacheDir: s.cacheDir,
  });
  const { ds, path, cached } = await prepareDataset(prep, log);
  log(`dataset: ${path}${cached ? ' (cached)' : ''}`);
  const { json: _json, cacheDir: _cacheDir, ...prepare } = prep;
  return { ds, description: { name: source.name, path, prepare } };
}

/** What `dnr-bench train` reports: metrics.json's content plus where the run lives. */
export interface TrainReport {
  readonly runId: string;
  readonly runDir: string;
  /** True when the run was already finished and nothing was trained. */
  readonly skipped: boolean;
  readonly bestEpoch: number;
  readonly epochsRun: number;
  readonly stopReason: string;
  readonly validation: MetricsRecord | null;
  readonly test: MetricsRecord;
  readonly seconds: number;
  readonly [key: string]: unknown;
}

/**
 * The run's identity: every setting that changes its result, with the method-dependent defaults
 * (`scoreUsage`, `patienceStart`) filled in (so plain runs keep the identity they had before the
 * DNR methods existed).
 */
function runIdentity(s: TrainSettings): Record<string, unknown> {
  const r = resolveMethod(s);
  const filled = { ...s, scoreUsage: r.scoreUsage, patienceStart: r.patienceStart };
  return Object.fromEntries(Object.entries(filled).filter(([k]) => !VOLATILE.includes(k)));
}

/**
 * Settings added after runs were first recorded, with the value that reproduces what the code did
 * before they existed: a stored run without the key compares as if it had this value, so adding a
 * setting does not orphan the finished runs (a run that did set another value still differs).
 */
const ADDED_LATER: Readonly<Record<string, unknown>> = {
  rankEmbedding: true,
  idealAugmentation: 0,
  honestScores: false,
};

/** A stored run's identity with the settings it predates filled in (see {@link ADDED_LATER}). */
function storedIdentity(stored: Record<string, unknown>): Record<string, unknown> {
  return { ...ADDED_LATER, ...stored };
}

function differences(a: Record<string, unknown>, b: Record<string, unknown>): string[] {
  const keys = [...new Set([...Object.keys(a), ...Object.keys(b)])].sort();
  return keys
    .filter((k) => canonicalJson(a[k] ?? null) !== canonicalJson(b[k] ?? null))
    .map((k) => `${k} ${JSON.stringify(a[k])} -> ${JSON.stringify(b[k])}`);
}

/** Parses a JSON file of a run, naming the file when it is not JSON. */
function readRunJson(path: string): unknown {
  try {
    return JSON.parse(readFileSync(path, 'utf8')) as unknown;
  } catch (error) {
    throw new Error(`${path} is not a readable JSON file: ${(error as Error).message}`);
  }
}

/**
 * The report of the finished run in `runDir` (its metrics.json, marked `skipped`), or undefined
 * when the run has not finished. Throws when the run was trained with other settings than
 * `settings` (the stored config.json differs in a setting that changes the result), so a finished
 * run is never reported under settings it did not use; `dnr-bench train` and the suites' readers
 * share this check.
 */
export function finishedRunReport(
  settings: TrainSettings,
  runDir: string,
): TrainReport | undefined {
  const metricsPath = join(runDir, RUN_FILES.metrics);
  if (!existsSync(metricsPath)) return undefined;
  const configPath = join(runDir, 'config.json');
  const config = existsSync(configPath) ? readRunJson(configPath) : {};
  const stored =
    typeof config === 'object' && config !== null && 'settings' in config
      ? ((config as { settings?: Record<string, unknown> }).settings ?? {})
      : {};
  const diff = differences(storedIdentity(stored), runIdentity(settings));
  if (diff.length > 0) {
    throw new Error(
      `${runDir} holds a finished run with other settings (${diff.join('; ')}); ` +
        'pass --force to retrain it, or choose another --run-id',
    );
  }
  const metrics = readRunJson(metricsPath);
  if (typeof metrics !== 'object' || metrics === null || !('test' in metrics)) {
    throw new Error(`${metricsPath} has no test metrics: not a run summary of dnr-bench train`);
  }
  return { ...(metrics as TrainReport), runId: basename(runDir), runDir, skipped: true };
}

/** One line for the terminal: method, dataset, best epoch and the test metrics. */
export function formatTrainReport(r: TrainReport): string {
  const dnr = r.dnr as { tau: number; bestAfterWarmup: boolean } | null | undefined;
  const warmup = dnr
    ? ` · best ${dnr.bestAfterWarmup ? 'after' : 'within'} warm-up τ = ${dnr.tau}`
    : '';
  return (
    `${r.runId} · best epoch ${r.bestEpoch} of ${r.epochsRun} (${r.stopReason}) · ` +
    `test ${formatMetrics(r.test)}${warmup} · ${r.runDir}`
  );
}

const pct = (x: number | null): string => (x === null ? '-' : (100 * x).toFixed(2));

/** One log line per DNR epoch: phase, AUC(x̂, y) vs AUC(x, y), the generator's terms. */
export function formatDnrEpoch(epoch: number, d: DnrDiagnostics): string {
  const g = d.generator;
  const terms = g
    ? ` · generator ${g.steps} steps` +
      (g.lAdv !== null ? ` L_adv ${g.lAdv.toFixed(4)}` : '') +
      (g.lX !== null ? ` L_x ${g.lX.toFixed(4)}` : '')
    : '';
  return (
    `dnr epoch ${epoch}: ${d.phase} noise · train AUC(x̂,y) ${pct(d.auc.synthetic)} vs ` +
    `AUC(x,y) ${pct(d.auc.real)}${terms}`
  );
}

/**
 * `dnr-bench train`: trains one reranker through the shared trainer of `@dnr/objectives`, with
 * plain BCE (`--method prm|pier`) or a DNR method (`DnrObjective`, `--method dnr-b …` on
 * `--backbone`), writing `<out>/<run-id>/{config.json, log.jsonl, checkpoint.bin, best.dnrr,
 * metrics.json}`. DNR runs log one line per epoch (phase, AUC(x̂, y) vs AUC(x, y), generator
 * terms), carry the objective's diagnostics (AUCs, noise densities) in `log.jsonl`, and record in
 * `metrics.json` whether the best epoch came after the warm-up τ. A finished run (metrics.json
 * present, same settings) is reported, not redone, unless `force`; an interrupted one resumes from
 * its checkpoint. A run that needs training holds `<run-id>/run.lock` while it trains
 * (`acquireRunLock`), so a second process asked for the same run fails at once, naming the holder.
 */
export async function runTrain(
  settings: TrainSettings,
  log: Log,
  command: string,
): Promise<TrainReport> {
  const source = dataSource(settings);
  const resolved = resolveMethod(settings);
  checkMethodAvailable(resolved.backbone, listRerankers());
  const runId = runIdOf(settings, source);
  const runDir = join(settings.out, runId);
  const metricsPath = join(runDir, RUN_FILES.metrics);
  const finished = (): TrainReport | undefined => {
    const report = settings.force ? undefined : finishedRunReport(settings, runDir);
    if (report) log(`run ${runId} is finished (${metricsPath}); pass --force to retrain it`);
    return report;
  };
  // a finished run is read without the lock (so it can be read from a read-only copy); checked
  // again under the lock, in case another process finished it in between
  const before = finished();
  if (before) return before;
  const lock = acquireRunLock(runDir, runId, log);
  try {
    return (
      finished() ?? (await trainLocked(settings, log, command, { source, resolved, runId, runDir }))
    );
  } finally {
    lock.release();
  }
}

/** `runTrain` once the run's lock is held and the run is known to need training. */
async function trainLocked(
  settings: TrainSettings,
  log: Log,
  command: string,
  run: {
    source: DataSource;
    resolved: ResolvedMethod;
    runId: string;
    runDir: string;
  },
): Promise<TrainReport> {
  const { source, resolved, runId, runDir } = run;
  const configPath = join(runDir, 'config.json');
  const identity = runIdentity(settings);
  if (settings.force) {
    for (const f of [...Object.values(RUN_FILES), 'config.json'])
      rmSync(join(runDir, f), { force: true });
  }

  const backend = await selectBackend(settings.backend);
  log(describeBackend(backend));
  const { ds, description } = await loadData(settings, source, log);
  const test = listsOf(ds, 'test');
  const retrieverScores = referenceScores(ds, test, 'retriever', settings.seed);
  if (retrieverScores && test.length > 0) {
    log(
      `reference: retriever order, test ${formatMetrics(evaluateSplit(ds, test, retrieverScores))}`,
    );
  }
  const { method, backbone, patienceStart } = resolved;
  const model: Reranker = createReranker(backbone, modelConfig(settings, ds));
  attachSideFeatures(model, ds, log);
  const objective = ((): TrainingObjective => {
    try {
      return createMethodObjective(model, method, {
        seed: settings.seed,
        lr: settings.lr,
        weightDecay: settings.weightDecay,
        ...(settings.generatorLr !== undefined ? { generatorLr: settings.generatorLr } : {}),
        ...(settings.augmentation !== undefined
          ? { dnr: { augmentation: settings.augmentation } }
          : {}),
        dataset: ds,
      });
    } catch (error) {
      model.dispose();
      throw error;
    }
  })();
  const isDnr = method.objective === 'dnr';
  const learned = usesLearnedGenerator(method);
  let result: TrainResult;
  try {
    log(
      `run ${runId}: ${model.name} (${model.countParams().toLocaleString('en-US')} parameters) on ${source.name} ` +
        `(${ds.split.length} lists of ${ds.listSize}) -> ${runDir}`,
    );
    if (isDnr) {
      log(
        `method ${method.name}: ${method.description} · α ${method.alpha} λ ${method.lambda}` +
          (learned
            ? ` τ ${method.tau} β_adv ${method.betaAdv} β_x ${method.betaX} L_x ${method.divergence}` +
              ` · patience counted from epoch ${patienceStart}`
            : '') +
          ` · augmentation ${settings.augmentation ?? 'double'}`,
      );
    }
    let warned = false;
    const onEpochEnd = (record: EpochRecord): void => {
      const d = record.diagnostics as DnrDiagnostics | undefined;
      if (!d) return;
      log(formatDnrEpoch(record.epoch, d));
      if (d.separatesClasses && !warned) {
        warned = true;
        log(
          `warning: the ${d.phase} noise with the ${method.mix} mix at α = ${method.alpha} separates the ` +
            `classes (AUC(x̂,y) = 100, protocol 0b.2); --noise beta-signed|label-beta|gaussian overlap them`,
        );
      }
    };
    await writeFileAtomic(
      configPath,
      `${JSON.stringify(
        {
          command,
          settings: identity,
          backend: backend.backend,
          dataset: description,
          model: { name: model.name, config: model.config, parameters: model.countParams() },
          method,
          objective: { name: objective.name, config: objective.config },
        },
        null,
        2,
      )}\n`,
    );
    result = await trainReranker({
      model,
      objective,
      dataset: ds,
      config: {
        epochs: settings.epochs,
        batchSize: settings.batchSize,
        evalBatchSize: settings.evalBatchSize,
        seed: settings.seed,
        patience: settings.patience,
        patienceStartEpoch: patienceStart,
        restart: settings.restart || settings.force,
      },
      runDir,
      log,
      onEpochEnd,
    });
  } finally {
    objective.dispose();
    model.dispose();
  }
  const { history: _history, ...summary } = result;
  const dnr = learned ? { tau: method.tau, bestAfterWarmup: result.bestEpoch > method.tau } : null;
  const metricsFile = join(runDir, RUN_FILES.metrics);
  if (dnr && existsSync(metricsFile)) {
    // metrics.json (written by the trainer) also records where the best epoch lies w.r.t. τ
    const stored = JSON.parse(readFileSync(metricsFile, 'utf8')) as Record<string, unknown>;
    await writeFileAtomic(
      metricsFile,
      `${JSON.stringify({ ...stored, method: method.name, backbone, dnr }, null, 2)}\n`,
    );
  }
  return { ...summary, runId, runDir, skipped: false, method: method.name, backbone, dnr };
}

import { existsSync, readFileSync, rmSync } from 'node:fs';
import { basename, join } from 'node:path';
import { createReranker, listRerankers, type Reranker } from '@dnr/backbones';
import {
  INTERACTION_FORMATS,
  canonicalJson,
  generateLabDataset,
  type InteractionFormat,
  type RerankDataset,
} from '@dnr/data';
import {
  BceObjective,
  RUN_FILES,
  formatMetrics,
  trainReranker,
  type MetricsRecord,
  type TrainResult,
} from '@dnr/objectives';
import { z } from 'zod';
import { BACKEND_CHOICES, describeBackend, selectBackend } from './backend';
import { evaluateSplit, listsOf, referenceScores } from './evaluate';
import { safeSegment, writeFileAtomic } from './files';
import { prepareDataset, prepareSchema, type Log } from './prepare';

/** Methods `dnr-bench train` knows; each must also be registered in `@dnr/backbones`. */
export const TRAIN_METHODS = ['prm', 'pier'] as const;
export type TrainMethod = (typeof TRAIN_METHODS)[number];

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
  scoreUsage: z.enum(['none', 'concat', 'add', 'weight']).default('none'),
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
  epochs: z.int().min(1).max(100_000).default(100),
  batchSize: z.int().min(1).max(1_000_000).default(256),
  evalBatchSize: z.int().min(1).max(1_000_000).default(512),
  lr: z.number().gt(0).max(10).default(1e-3),
  weightDecay: z.number().min(0).max(1).default(0),
  patience: z.int().min(1).max(100_000).default(5),
  patienceStart: z.int().min(1).max(100_000).default(1),
  seed: seedSchema.default(1),
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
  const stem = basename(input)
    .replace(/\.gz$/, '')
    .replace(/\.[^.]*$/, '');
  return { kind: 'file', name: `${format}-${stem || 'data'}`, format, input };
}

/** The default run id `<dataset>-<method>-<scoreUsage>-s<seed>` (or `--run-id`), path-safe. */
export function runIdOf(s: TrainSettings, source: DataSource): string {
  return safeSegment(s.runId ?? `${source.name}-${s.method}-${s.scoreUsage}-s${s.seed}`);
}

/** Throws a clear error when `method` is not (yet) registered in `@dnr/backbones`. */
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
  const features =
    s.method === 'prm' && s.sideFeatures
      ? {
          ...(ds.itemFeatureDim ? { itemFeatureDim: ds.itemFeatureDim } : {}),
          ...(ds.userFeatureDim ? { userFeatureDim: ds.userFeatureDim } : {}),
        }
      : {};
  return {
    ...features,
    ...(s.useIds ? {} : { useIds: false }),
    numItems: ds.numItems,
    numUsers: ds.numUsers,
    maxListSize: ds.listSize,
    historyLength: ds.historyLength,
    scoreUsage: s.scoreUsage,
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
    const ds = generateLabDataset({ ...s.lab, seed: s.labSeed });
    return { ds, description: { name: 'lab', seed: s.labSeed, ...(s.lab ? { lab: s.lab } : {}) } };
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

/** The run's identity: every setting that changes its result. */
function runIdentity(s: TrainSettings): Record<string, unknown> {
  return Object.fromEntries(Object.entries(s).filter(([k]) => !VOLATILE.includes(k)));
}

function differences(a: Record<string, unknown>, b: Record<string, unknown>): string[] {
  const keys = [...new Set([...Object.keys(a), ...Object.keys(b)])].sort();
  return keys
    .filter((k) => canonicalJson(a[k] ?? null) !== canonicalJson(b[k] ?? null))
    .map((k) => `${k} ${JSON.stringify(a[k])} -> ${JSON.stringify(b[k])}`);
}

/** One line for the terminal: method, dataset, best epoch and the test metrics. */
export function formatTrainReport(r: TrainReport): string {
  return (
    `${r.runId} · best epoch ${r.bestEpoch} of ${r.epochsRun} (${r.stopReason}) · ` +
    `test ${formatMetrics(r.test)} · ${r.runDir}`
  );
}

/**
 * `dnr-bench train`: trains one reranker with plain BCE through the shared trainer of
 * `@dnr/objectives`, writing `<out>/<run-id>/{config.json, log.jsonl, checkpoint.bin, best.dnrr,
 * metrics.json}`. A finished run (metrics.json present, same settings) is reported, not redone,
 * unless `force`; an interrupted one resumes from its checkpoint.
 */
export async function runTrain(
  settings: TrainSettings,
  log: Log,
  command: string,
): Promise<TrainReport> {
  const source = dataSource(settings);
  checkMethodAvailable(settings.method, listRerankers());
  const runId = runIdOf(settings, source);
  const runDir = join(settings.out, runId);
  const configPath = join(runDir, 'config.json');
  const metricsPath = join(runDir, RUN_FILES.metrics);
  const identity = runIdentity(settings);

  if (existsSync(metricsPath) && !settings.force) {
    const stored = existsSync(configPath)
      ? ((JSON.parse(readFileSync(configPath, 'utf8')) as { settings?: Record<string, unknown> })
          .settings ?? {})
      : {};
    const diff = differences(stored, identity);
    if (diff.length > 0) {
      throw new Error(
        `${runDir} holds a finished run with other settings (${diff.join('; ')}); ` +
          'pass --force to retrain it, or choose another --run-id',
      );
    }
    const metrics = JSON.parse(readFileSync(metricsPath, 'utf8')) as TrainReport;
    log(`run ${runId} is finished (${metricsPath}); pass --force to retrain it`);
    return { ...metrics, runId, runDir, skipped: true };
  }
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
  const model: Reranker = createReranker(settings.method, modelConfig(settings, ds));
  attachSideFeatures(model, ds, log);
  const objective = new BceObjective(model, { lr: settings.lr, weightDecay: settings.weightDecay });
  let result: TrainResult;
  try {
    log(
      `run ${runId}: ${model.name} (${model.countParams().toLocaleString('en-US')} parameters) on ${source.name} ` +
        `(${ds.split.length} lists of ${ds.listSize}) -> ${runDir}`,
    );
    await writeFileAtomic(
      configPath,
      `${JSON.stringify(
        {
          command,
          settings: identity,
          backend: backend.backend,
          dataset: description,
          model: { name: model.name, config: model.config, parameters: model.countParams() },
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
        patienceStartEpoch: settings.patienceStart,
        restart: settings.restart || settings.force,
      },
      runDir,
      log,
    });
  } finally {
    objective.dispose();
    model.dispose();
  }
  const { history: _history, ...summary } = result;
  return { ...summary, runId, runDir, skipped: false };
}

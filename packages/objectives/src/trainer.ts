/**
 * The shared trainer: epochs of seeded mini-batches through any {@link TrainingObjective},
 * validation after every epoch with early stopping on NDCG@k, best-checkpoint saving, an
 * atomically written resumable checkpoint, a JSONL log, and the test metrics of the best epoch.
 *
 * @module
 */
import { existsSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import {
  disposeBatch,
  encodeReranker,
  toBatchTensors,
  type NamedWeight,
  type Reranker,
} from '@dnr/backbones';
import {
  cacheKey,
  countBatches,
  iterateBatches,
  splitIndices,
  writeFileAtomic,
  type RerankDataset,
  type SplitName,
} from '@dnr/data';
import {
  createListMetricsAccumulator,
  type ListMetrics,
  type ListMetricsAccumulator,
} from '@dnr/metrics';
import { loadCheckpoint, saveCheckpoint } from './checkpoint';
import type { TrainingObjective } from './objective';

/** Trainer settings. Only `epochs` is required. */
export interface TrainerConfig {
  /** Maximum number of epochs (early stopping usually ends sooner). */
  epochs: number;
  /** Training lists per mini-batch (default 256). */
  batchSize?: number;
  /** Seed of the per-epoch shuffles (non-zero integer; default 1). */
  seed?: number;
  /**
   * Early stopping: stop after this many consecutive counted epochs without a new best
   * validation NDCG@k (default 5).
   */
  patience?: number;
  /**
   * First epoch (1-based) whose lack of improvement counts towards `patience` (default 1).
   * DNR sets it to the warm-up length τ + 1 (protocol 0b.3): the best epoch is still chosen over
   * every epoch, and the result says whether it came before or after this epoch.
   */
  patienceStartEpoch?: number;
  /** Cut-off of the list metrics (default 6, the paper's K). */
  k?: number;
  /** Lists per scoring batch in evaluation (default 512). */
  evalBatchSize?: number;
  /**
   * A progress line every this many batches (default: about 10 lines per epoch; 0 = only the
   * per-epoch line).
   */
  logEvery?: number;
  /** Ignore (and overwrite) an existing checkpoint in `runDir` instead of resuming (default false). */
  restart?: boolean;
}

/** {@link TrainerConfig} with every default filled in. */
export type ResolvedTrainerConfig = Required<Omit<TrainerConfig, 'logEvery'>> & {
  logEvery: number | null;
};

/** The defaults of {@link TrainerConfig}. */
export const TRAINER_DEFAULTS = Object.freeze({
  batchSize: 256,
  seed: 1,
  patience: 5,
  patienceStartEpoch: 1,
  k: 6,
  evalBatchSize: 512,
  restart: false,
});

/**
 * List metrics as JSON (fractions in [0, 1]; `null` where undefined, e.g. AUC without lists
 * holding both classes). See `@dnr/metrics` `ListMetrics`.
 */
export interface MetricsRecord {
  hr: number | null;
  ndcg: number | null;
  map: number | null;
  f1: number | null;
  auc: number | null;
  aucGlobal: number | null;
  /** Lists with at least one positive (averaged for hr, ndcg, map, f1). */
  lists: number;
}

/** One epoch of training: one line of `log.jsonl`. */
export interface EpochRecord {
  /** 1-based. */
  epoch: number;
  /**
   * Every loss term the objective returned, averaged over the lists of the steps that returned
   * it (a term returned by every step is the mean over the epoch's lists).
   */
  losses: Record<string, number>;
  /** What the objective's optional `diagnostics(epoch)` hook returned (absent without one). */
  diagnostics?: { readonly [key: string]: unknown };
  /** Validation metrics after the epoch. */
  validation: MetricsRecord;
  /** Whether this epoch set a new best validation NDCG@k. */
  improved: boolean;
  /** Best epoch so far (0 = none yet). */
  bestEpoch: number;
  /** Counted epochs without improvement so far (compared with `patience`). */
  epochsWithoutImprovement: number;
  /** Whether this epoch counts towards patience (epoch >= patienceStartEpoch). */
  countsForPatience: boolean;
  /** Wall time of the epoch: training + evaluation + checkpointing. */
  seconds: number;
  trainSeconds: number;
  evalSeconds: number;
  /** Training lists per second. */
  listsPerSecond: number;
}

/** The trainer's state as stored in the checkpoint. */
export interface TrainerProgress {
  /** Last completed epoch (0 before any). */
  epoch: number;
  /** True once early stopping fired (a resumed run then trains no more). */
  stopped: boolean;
  bestEpoch: number;
  /** Best validation NDCG@k (null before any finite value). */
  bestValue: number | null;
  epochsWithoutImprovement: number;
  history: EpochRecord[];
  /** Training seconds over every session of this run. */
  seconds: number;
  /** tfjs backend of the session that wrote the checkpoint. */
  backend: string;
}

/** What {@link trainReranker} returns (and writes to `runDir/metrics.json`). */
export interface TrainResult {
  /** Best epoch by validation NDCG@k (0 when no epoch produced a finite value). */
  bestEpoch: number;
  /** Validation metrics of the best epoch. */
  validation: MetricsRecord | null;
  /** Test metrics of the best epoch's weights (which the model holds afterwards). */
  test: MetricsRecord;
  /** Epochs trained in total (over every session). */
  epochsRun: number;
  /** Why training ended. */
  stopReason: 'patience' | 'max-epochs';
  patienceStartEpoch: number;
  /** Whether the best epoch is at or after `patienceStartEpoch` (protocol 0b.3). */
  bestAfterPatienceStart: boolean;
  /** Training seconds over every session (excluding the final test evaluation). */
  seconds: number;
  /** Epoch the run resumed after (0 for a fresh run). */
  resumedFromEpoch: number;
  /** Hash of the run's configuration (model, objective, data, trainer). */
  configHash: string;
  k: number;
  model: string;
  objective: string;
  history: EpochRecord[];
}

/** Options of {@link trainReranker}. */
export interface TrainRerankerOptions {
  /** The reranker to train (its weights end as the best epoch's). */
  model: Reranker;
  /** What each step does (and its optimizer). */
  objective: TrainingObjective;
  /** Lists with train, validation and test splits. */
  dataset: RerankDataset;
  config: TrainerConfig;
  /**
   * Where `checkpoint.bin`, `best.dnrr`, `log.jsonl` and `metrics.json` go. With a checkpoint of
   * the same configuration there, training resumes after its epoch. Without `runDir` nothing is
   * written and nothing resumes.
   */
  runDir?: string;
  /** Progress lines (default: none). */
  log?: (line: string) => void;
  /**
   * Called after each epoch once its checkpoint is written (for callers that record more, and
   * for tests that simulate a crash by throwing).
   */
  onEpochEnd?: (record: EpochRecord) => void;
}

/** File names inside a run directory. */
export const RUN_FILES = Object.freeze({
  checkpoint: 'checkpoint.bin',
  best: 'best.dnrr',
  log: 'log.jsonl',
  metrics: 'metrics.json',
});

function positiveInt(name: string, v: unknown): void {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 1) {
    throw new RangeError(`trainer: ${name} must be a positive integer, got ${String(v)}`);
  }
}

/** Fills defaults and validates a {@link TrainerConfig}. */
export function resolveTrainerConfig(config: TrainerConfig): ResolvedTrainerConfig {
  const known = new Set(['epochs', 'logEvery', ...Object.keys(TRAINER_DEFAULTS)]);
  for (const key of Object.keys(config)) {
    if (!known.has(key)) throw new Error(`trainer: unknown config key '${key}'`);
  }
  const c = { ...TRAINER_DEFAULTS, logEvery: null, ...config } as ResolvedTrainerConfig;
  for (const k of [
    'epochs',
    'batchSize',
    'patience',
    'patienceStartEpoch',
    'k',
    'evalBatchSize',
  ] as const) {
    positiveInt(k, c[k]);
  }
  if (!Number.isInteger(c.seed) || c.seed === 0) {
    throw new RangeError(`trainer: seed must be a non-zero integer, got ${String(c.seed)}`);
  }
  if (c.logEvery !== null && (!Number.isInteger(c.logEvery) || c.logEvery < 0)) {
    throw new RangeError(
      `trainer: logEvery must be a non-negative integer, got ${String(c.logEvery)}`,
    );
  }
  return c;
}

/** JSON form of list metrics (NaN -> null). */
export function metricsRecord(m: ListMetrics): MetricsRecord {
  const f = (x: number): number | null => (Number.isFinite(x) ? x : null);
  return {
    hr: f(m.hr),
    ndcg: f(m.ndcg),
    map: f(m.map),
    f1: f(m.f1),
    auc: f(m.auc),
    aucGlobal: f(m.aucGlobal),
    lists: m.lists,
  };
}

/** Options of {@link evaluateReranker}. */
export interface EvaluateRerankerOptions {
  /** Cut-off (default 6). */
  k?: number;
  /** Lists per scoring batch (default 512). */
  batchSize?: number;
  /** Reuse an accumulator (it is reset first); its `listSize` must be the dataset's. */
  accumulator?: ListMetricsAccumulator;
}

/**
 * Scores every list of a split with `model.score` in inference mode (no dropout), batch by batch,
 * and returns the list metrics at k (HR, NDCG, MAP, F1, per-list and pooled AUC).
 */
export function evaluateReranker(
  model: Reranker,
  ds: RerankDataset,
  split: SplitName,
  options: EvaluateRerankerOptions = {},
): ListMetrics {
  const k = options.k ?? 6;
  const acc = options.accumulator ?? createListMetricsAccumulator({ listSize: ds.listSize, k });
  acc.reset();
  const limits = { numItems: ds.numItems, numUsers: ds.numUsers };
  for (const b of iterateBatches(ds, { split, batchSize: options.batchSize ?? 512 })) {
    const tensors = toBatchTensors(b, limits);
    let scores: Float32Array;
    try {
      const out = model.score(tensors, { training: false });
      scores = out.dataSync() as Float32Array;
      out.dispose();
    } finally {
      disposeBatch(tensors);
    }
    acc.add(scores, b.labels);
  }
  return acc.result();
}

/** A fingerprint of a dataset's content (sha256 of every per-list array, via `cacheKey`). */
export function datasetFingerprint(ds: RerankDataset): string {
  return cacheKey({
    numUsers: ds.numUsers,
    numItems: ds.numItems,
    listSize: ds.listSize,
    historyLength: ds.historyLength,
    user: ds.user,
    history: ds.history,
    items: ds.items,
    scores: ds.scores,
    labels: ds.labels,
    split: ds.split,
  });
}

/**
 * The hash a checkpoint must carry to be resumed: model name and config, objective name and
 * config, the dataset's content, and the trainer settings that change the computation (batch
 * size, seed, patience, patience start, k). `epochs` is left out on purpose: a finished run can
 * be extended by resuming it with more epochs.
 */
export function trainingConfigHash(
  model: Reranker,
  objective: TrainingObjective,
  config: ResolvedTrainerConfig,
  dataFingerprint: string,
): string {
  return cacheKey({
    trainer: 'dnr-trainer/v1',
    model: { name: model.name, config: model.config },
    objective: { name: objective.name, config: objective.config },
    settings: {
      batchSize: config.batchSize,
      seed: config.seed,
      patience: config.patience,
      patienceStartEpoch: config.patienceStartEpoch,
      k: config.k,
      metric: 'ndcg',
    },
    data: dataFingerprint,
  });
}

const encoder = new TextEncoder();
const writeText = (path: string, text: string): void => writeFileAtomic(path, encoder.encode(text));

function clock(seconds: number): string {
  const s = Math.max(0, Math.round(seconds));
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const ss = String(s % 60).padStart(2, '0');
  return h > 0 ? `${h}:${String(m).padStart(2, '0')}:${ss}` : `${m}:${ss}`;
}

const pct = (x: number | null): string => (x === null ? '-' : (100 * x).toFixed(2));

function lossText(losses: Record<string, number>): string {
  const entries = Object.entries(losses);
  if (entries.length === 0) return 'no loss';
  return entries.map(([k, v]) => `${k} ${v.toFixed(4)}`).join(' ');
}

/** One line for logs: `N@6 41.23 H@6 ... AUC ...` (percent). */
export function formatMetrics(m: MetricsRecord, k = 6): string {
  return `N@${k} ${pct(m.ndcg)} H@${k} ${pct(m.hr)} M@${k} ${pct(m.map)} F1@${k} ${pct(m.f1)} AUC ${pct(m.auc)}`;
}

function serializeWeights(model: Reranker, weights: readonly NamedWeight[]): Uint8Array {
  return encodeReranker({
    format: 'dnr-reranker',
    version: 1,
    name: model.name,
    config: JSON.parse(JSON.stringify(model.config)) as Record<string, unknown>,
    weights: [...weights],
  });
}

/**
 * Trains `model` with `objective` on the train split of `dataset`.
 *
 * Per epoch e (1-based): `model.setRandomEpoch?.(e)` and `objective.onEpochStart?.(e)`; the train
 * lists in the order of `iterateBatches({ shuffle: true, seed, epoch: e })`; one
 * `objective.step` per batch (labels float32 `[B, L]`); `objective.diagnostics?.(e)` (stored in
 * the epoch's record); then validation metrics (inference mode)
 * and early stopping on validation NDCG@k: an epoch improves when its NDCG is strictly above the
 * best so far; epochs from `patienceStartEpoch` on without improvement are counted, and training
 * stops when the count reaches `patience`.
 *
 * With `runDir`, after every epoch: `best.dnrr` (`encodeReranker` of the best weights, when the
 * epoch improved), `log.jsonl` (one {@link EpochRecord} per line) and `checkpoint.bin` (model
 * weights, best weights, objective state, progress), each written atomically in that order. A run
 * started on a directory holding a checkpoint of the same configuration hash resumes after its
 * epoch and ends with the same weights and metrics as an uninterrupted run (same backend). At the
 * end the best weights are loaded into the model, the test split is evaluated, and
 * `metrics.json` is written.
 *
 * @throws CheckpointError when `runDir` holds a checkpoint of another configuration or a corrupt
 *   one (pass `config.restart` to start over).
 */
export async function trainReranker(options: TrainRerankerOptions): Promise<TrainResult> {
  const { model, objective, dataset: ds, runDir } = options;
  const log = options.log ?? (() => undefined);
  const config = resolveTrainerConfig(options.config);
  const trainLists = splitIndices(ds, 'train').length;
  if (trainLists === 0) throw new Error('trainer: the dataset has no training lists');
  if (splitIndices(ds, 'validation').length === 0) {
    throw new Error('trainer: the dataset has no validation lists (early stopping needs them)');
  }
  const configHash = trainingConfigHash(model, objective, config, datasetFingerprint(ds));
  const paths = runDir
    ? {
        checkpoint: join(runDir, RUN_FILES.checkpoint),
        best: join(runDir, RUN_FILES.best),
        log: join(runDir, RUN_FILES.log),
        metrics: join(runDir, RUN_FILES.metrics),
      }
    : undefined;

  let progress: TrainerProgress = {
    epoch: 0,
    stopped: false,
    bestEpoch: 0,
    bestValue: null,
    epochsWithoutImprovement: 0,
    history: [],
    seconds: 0,
    backend: tf.getBackend(),
  };
  let bestWeights: readonly NamedWeight[] | null = null;
  if (paths && !config.restart && existsSync(paths.checkpoint)) {
    const ck = loadCheckpoint<TrainerProgress>(paths.checkpoint, configHash);
    model.setWeights(ck.modelWeights);
    await objective.setState(ck.objective);
    progress = ck.progress;
    bestWeights = ck.bestWeights;
    log(
      `resuming ${runDir} after epoch ${progress.epoch}` +
        (progress.bestEpoch > 0 ? ` (best epoch ${progress.bestEpoch})` : ''),
    );
    if (progress.backend !== tf.getBackend()) {
      log(
        `note: the checkpoint was written on backend '${progress.backend}', this run uses '${tf.getBackend()}' (results may differ in the last bits)`,
      );
    }
  } else if (paths) {
    for (const p of Object.values(paths)) rmSync(p, { force: true });
  }
  const resumedFromEpoch = progress.epoch;

  const accumulator = createListMetricsAccumulator({
    listSize: ds.listSize,
    k: config.k,
    aucHistogramBits: 16,
  });
  const limits = { numItems: ds.numItems, numUsers: ds.numUsers };
  const batchOptions = {
    split: 'train' as const,
    batchSize: config.batchSize,
    shuffle: true,
    seed: config.seed,
    labelDtype: 'float32' as const,
  };
  const nBatches = countBatches(ds, batchOptions);
  const logEvery = config.logEvery ?? Math.max(1, Math.ceil(nBatches / 10));
  const L = ds.listSize;

  for (let epoch = progress.epoch + 1; epoch <= config.epochs && !progress.stopped; epoch++) {
    const t0 = performance.now();
    model.setRandomEpoch?.(epoch);
    objective.onEpochStart?.(epoch);
    const sums: Record<string, number> = {};
    const counts: Record<string, number> = {};
    let seen = 0;
    let step = 0;
    for (const arrays of iterateBatches(ds, { ...batchOptions, epoch })) {
      const tensors = toBatchTensors(arrays, limits);
      const labels = tf.tensor2d(arrays.labels, [arrays.size, L], 'float32');
      let values: Record<string, number>;
      try {
        values = objective.step({ tensors, labels, arrays }, { epoch, step });
      } finally {
        disposeBatch(tensors);
        labels.dispose();
      }
      for (const [key, v] of Object.entries(values)) {
        if (!Number.isFinite(v)) {
          throw new Error(
            `trainer: loss term '${key}' is ${v} at epoch ${epoch}, step ${step} (diverged: lower the learning rate?)`,
          );
        }
        sums[key] = (sums[key] ?? 0) + v * arrays.size;
        counts[key] = (counts[key] ?? 0) + arrays.size;
      }
      seen += arrays.size;
      step++;
      if (logEvery > 0 && step % logEvery === 0 && step < nBatches) {
        const elapsed = (performance.now() - t0) / 1000;
        const rate = seen / Math.max(elapsed, 1e-9);
        const mean = Object.fromEntries(
          Object.entries(sums).map(([k, v]) => [k, v / (counts[k] ?? seen)]),
        );
        log(
          `epoch ${epoch}/${config.epochs} · batch ${step}/${nBatches} · ${lossText(mean)} · ` +
            `${rate.toFixed(0)} lists/s · ETA ${clock((trainLists - seen) / rate)}`,
        );
      }
    }
    const losses = Object.fromEntries(
      Object.entries(sums).map(([k, v]) => [k, v / (counts[k] ?? seen)]),
    );
    const diagnostics = objective.diagnostics?.(epoch);
    const trainSeconds = (performance.now() - t0) / 1000;

    const te = performance.now();
    const validation = metricsRecord(
      evaluateReranker(model, ds, 'validation', {
        k: config.k,
        batchSize: config.evalBatchSize,
        accumulator,
      }),
    );
    const evalSeconds = (performance.now() - te) / 1000;

    const value = validation.ndcg;
    const improved = value !== null && (progress.bestValue === null || value > progress.bestValue);
    const countsForPatience = epoch >= config.patienceStartEpoch;
    if (improved) {
      progress.bestEpoch = epoch;
      progress.bestValue = value;
      progress.epochsWithoutImprovement = 0;
      bestWeights = model.getWeights();
      if (paths) writeFileAtomic(paths.best, serializeWeights(model, bestWeights));
    } else if (countsForPatience) {
      progress.epochsWithoutImprovement += 1;
    }
    if (progress.epochsWithoutImprovement >= config.patience) progress.stopped = true;
    const record: EpochRecord = {
      epoch,
      losses,
      ...(diagnostics === undefined ? {} : { diagnostics }),
      validation,
      improved,
      bestEpoch: progress.bestEpoch,
      epochsWithoutImprovement: progress.epochsWithoutImprovement,
      countsForPatience,
      seconds: 0,
      trainSeconds,
      evalSeconds,
      listsPerSecond: seen / Math.max(trainSeconds, 1e-9),
    };
    progress.history.push(record);
    progress.epoch = epoch;
    progress.backend = tf.getBackend();
    if (paths) {
      const objectiveState = await objective.getState();
      record.seconds = (performance.now() - t0) / 1000;
      progress.seconds += record.seconds;
      writeText(paths.log, progress.history.map((r) => JSON.stringify(r)).join('\n') + '\n');
      saveCheckpoint(paths.checkpoint, {
        configHash,
        progress,
        modelWeights: model.getWeights(),
        bestWeights,
        objective: objectiveState,
      });
    } else {
      record.seconds = (performance.now() - t0) / 1000;
      progress.seconds += record.seconds;
    }
    log(
      `epoch ${epoch}/${config.epochs} · ${lossText(losses)} · val ${formatMetrics(validation, config.k)} · ` +
        `${record.seconds.toFixed(1)} s (${record.listsPerSecond.toFixed(0)} lists/s) · ` +
        `best ${progress.bestEpoch}${improved ? ' *' : ''}` +
        (progress.stopped ? ` · early stop (${config.patience} epochs without improvement)` : ''),
    );
    options.onEpochEnd?.(record);
  }

  if (bestWeights) model.setWeights(bestWeights);
  else log('warning: no epoch gave a finite validation NDCG; testing the last weights');
  const test = metricsRecord(
    evaluateReranker(model, ds, 'test', {
      k: config.k,
      batchSize: config.evalBatchSize,
      accumulator,
    }),
  );
  const best = progress.history.find((r) => r.epoch === progress.bestEpoch);
  const result: TrainResult = {
    bestEpoch: progress.bestEpoch,
    validation: best ? best.validation : null,
    test,
    epochsRun: progress.epoch,
    stopReason: progress.stopped ? 'patience' : 'max-epochs',
    patienceStartEpoch: config.patienceStartEpoch,
    bestAfterPatienceStart: progress.bestEpoch >= config.patienceStartEpoch,
    seconds: progress.seconds,
    resumedFromEpoch,
    configHash,
    k: config.k,
    model: model.name,
    objective: objective.name,
    history: progress.history,
  };
  log(
    `best epoch ${result.bestEpoch} of ${result.epochsRun} (${result.stopReason}) · test ${formatMetrics(test, config.k)}`,
  );
  if (paths) {
    const { history: _history, ...summary } = result;
    writeText(paths.metrics, `${JSON.stringify(summary, null, 2)}\n`);
  }
  return result;
}

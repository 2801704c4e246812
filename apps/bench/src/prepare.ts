import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import {
  INTERACTION_FORMATS,
  buildRerankDataset,
  cacheKey,
  datasetSummary,
  itemFeatureMatrix,
  loadMovieLensItems,
  loadMovieLensUsers,
  loadOrBuild,
  userFeatureMatrix,
  prepareRequests,
  subsetDataset,
  type InteractionFormat,
  type RerankDataset,
} from '@dnr/data';
import { fitRetrievers, retrieverListDiagnostics, saveMF } from '@dnr/retriever';
import { z } from 'zod';
import { safeSegment } from './files';

/** Bumped whenever the prepare pipeline changes what it produces (invalidates cached datasets). */
export const PREPARE_VERSION = 1;

/**
 * Settings of `data prepare` (and of every command that trains on a prepared dataset).
 * Defaults follow docs/protocol.md; the retriever defaults are the paper's (d = 128, Adam 1e-3).
 */
export const prepareSchema = z.object({
  format: z.enum(INTERACTION_FORMATS as [InteractionFormat, ...InteractionFormat[]]),
  input: z.string().min(1),
  minInteractions: z.int().min(1).max(1_000_000).default(20),
  positiveThreshold: z.number().default(3),
  windowSize: z.int().min(1).max(1000).default(6),
  historyCap: z.int().min(1).max(10_000).default(50),
  listSize: z.int().min(2).max(10_000).default(50),
  split: z.enum(['ratio', 'leave-last']).default('ratio'),
  candidates: z.enum(['sampled', 'top']).default('sampled'),
  retrieverMode: z.enum(['crossfit', 'temporal', 'shared']).default('crossfit'),
  folds: z.int().min(2).max(20).default(2),
  dim: z.int().min(1).max(4096).default(128),
  negatives: z.int().min(1).max(1000).default(4),
  epochs: z.int().min(1).max(10_000).default(100),
  patience: z.int().min(1).max(10_000).default(3),
  seed: z
    .int()
    .min(1)
    .max(2 ** 31 - 1)
    .default(1),
  /** MovieLens item metadata (ML-1M movies.dat or ML-100K u.item): genres become item side features. */
  itemMeta: z.string().min(1).optional(),
  /** MovieLens user metadata (ML-1M users.dat or ML-100K u.user): gender, age, occupation features. */
  userMeta: z.string().min(1).optional(),
  cacheDir: z.string().min(1).default('.dnr-cache'),
  json: z.boolean().default(false),
});
export type PrepareSettings = z.infer<typeof prepareSchema>;

/** What `data prepare` reports, also stored in the dataset's `meta.prepare`. */
export interface PrepareSummary {
  readonly stats: {
    users: number;
    items: number;
    interactions: number;
    requests: number;
    positives: number;
  };
  /** Lists per split after the retriever mode (temporal drops the windows the retriever saw). */
  readonly lists: { train: number; validation: number; test: number };
  readonly retriever: {
    readonly mode: string;
    /**
     * Held-out positives vs sampled negatives, full/eval model (the paper's Table 8 metric).
     * Figures are null where undefined (e.g. a split without lists), since JSON has no NaN.
     */
    readonly testAuc: number | null;
    readonly validationAuc: number | null;
    /** Per-list retriever AUC and NDCG@6 of the candidate lists, per split. */
    readonly lists: Record<
      'train' | 'validation' | 'test',
      { auc: number | null; ndcg: number | null }
    >;
    readonly warning?: string;
    readonly models: ReadonlyArray<{
      name: string;
      trainPairs: number;
      bestEpoch: number;
      bestValAuc: number | null;
    }>;
  };
}

/** Streaming sha256 of a file: the dataset cache key covers the input's bytes, not its name. */
export async function fileDigest(path: string): Promise<string> {
  const info = await stat(path).catch(() => {
    throw new Error(`cannot read input file ${path}: no such file`);
  });
  if (!info.isFile()) throw new Error(`input ${path} is not a file`);
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

/** The cache key of a prepared dataset: input bytes + every setting that changes the output. */
export function prepareKey(
  settings: PrepareSettings,
  digests: { input: string; itemMeta?: string; userMeta?: string },
): string {
  const {
    json: _json,
    cacheDir: _cacheDir,
    input: _input,
    itemMeta: _itemMeta,
    userMeta: _userMeta,
    ...rest
  } = settings;
  return cacheKey({ version: PREPARE_VERSION, ...digests, ...rest });
}

/** Where the dataset of these settings is cached. */
export function preparedPath(settings: PrepareSettings, key: string): string {
  return join(
    settings.cacheDir,
    'datasets',
    `${safeSegment(settings.format)}-${key.slice(0, 16)}.dnrds`,
  );
}

/** Progress sink: one line per event. */
export type Log = (line: string) => void;

/**
 * Builds (or loads from the cache) the reranking dataset of a rating file: the protocol's
 * requests, cross-fitted MF retrievers (docs/protocol.md), candidate lists scored by them, and
 * the retriever diagnostics. The result's `meta.prepare` holds the {@link PrepareSummary}.
 */
export async function prepareDataset(
  settings: PrepareSettings,
  log: Log,
): Promise<{ ds: RerankDataset; path: string; cached: boolean; summary: PrepareSummary }> {
  const digest = await fileDigest(settings.input);
  const key = prepareKey(settings, {
    input: digest,
    ...(settings.itemMeta ? { itemMeta: await fileDigest(settings.itemMeta) } : {}),
    ...(settings.userMeta ? { userMeta: await fileDigest(settings.userMeta) } : {}),
  });
  const path = preparedPath(settings, key);
  let cached = true;
  const ds = await loadOrBuild(
    path,
    key,
    async () => {
      cached = false;
      return buildPrepared(settings, log, { key, digest });
    },
    { log: (message, reason) => reason !== 'missing' && log(`cache: ${message}`) },
  );
  const summary = ds.meta.prepare as PrepareSummary | undefined;
  if (!summary)
    throw new Error(`cached dataset ${path} has no prepare summary; delete it to rebuild`);
  return { ds, path, cached, summary };
}

async function buildPrepared(
  settings: PrepareSettings,
  log: Log,
  ids: { key: string; digest: string },
): Promise<RerankDataset> {
  log(`loading ${settings.input} (${settings.format})`);
  const prepared = await prepareRequests(settings.input, {
    format: settings.format,
    minInteractions: settings.minInteractions,
    positiveThreshold: settings.positiveThreshold,
    windowSize: settings.windowSize,
    historyCap: settings.historyCap,
    split:
      settings.split === 'ratio'
        ? { mode: 'ratio', train: 0.8, validation: 0.1 }
        : { mode: 'leave-last' },
  });
  const { requests, stats } = prepared;
  log(
    `protocol: ${stats.users} users, ${stats.items} items, ${stats.interactions} interactions, ` +
      `${stats.requests} requests (${prepared.timings.loadMs.toFixed(0)} ms load)`,
  );
  log(
    `retriever: MF d=${settings.dim}, ${settings.retrieverMode}${settings.retrieverMode === 'crossfit' ? ` (${settings.folds} folds)` : ''}`,
  );
  const fitted = fitRetrievers(requests, {
    mode: settings.retrieverMode,
    folds: settings.folds,
    dim: settings.dim,
    negatives: settings.negatives,
    epochs: settings.epochs,
    patience: settings.patience,
    seed: settings.seed,
    onEpoch: (name, r) =>
      log(
        `  ${name} epoch ${r.epoch}: loss ${r.loss.toFixed(4)}, val AUC ${(100 * r.valAuc).toFixed(2)}` +
          `${r.best ? ' *' : ''} (${(r.ms / 1000).toFixed(1)} s)`,
      ),
  });
  log(`candidates: ${settings.candidates}, ${settings.listSize} per list`);
  let ds = buildRerankDataset(requests, fitted, {
    listSize: settings.listSize,
    historyCap: settings.historyCap,
    seed: settings.seed,
    candidateMode: settings.candidates,
  });
  if (settings.retrieverMode === 'temporal') {
    const keep: number[] = [];
    for (let r = 0; r < fitted.usable.length; r++) if (fitted.usable[r] === 1) keep.push(r);
    ds = subsetDataset(ds, keep);
  }
  ds = await attachSideFeatures(ds, settings, requests.itemIds, requests.userIds, log);
  const diag = retrieverListDiagnostics(ds, { k: 6, maxGap: 0.05 });
  const { splits } = datasetSummary(ds);
  const summary: PrepareSummary = {
    stats,
    lists: {
      train: splits.train.lists,
      validation: splits.validation.lists,
      test: splits.test.lists,
    },
    retriever: {
      mode: settings.retrieverMode,
      testAuc: finite(fitted.testAuc),
      validationAuc: finite(fitted.validationAuc),
      lists: {
        train: { auc: finite(diag.train.auc), ndcg: finite(diag.train.ndcg) },
        validation: { auc: finite(diag.validation.auc), ndcg: finite(diag.validation.ndcg) },
        test: { auc: finite(diag.test.auc), ndcg: finite(diag.test.ndcg) },
      },
      ...(diag.warning ? { warning: diag.warning } : {}),
      models: fitted.models.map((m) => ({
        name: m.name,
        trainPairs: m.trainPairs,
        bestEpoch: m.bestEpoch,
        bestValAuc: finite(m.bestValAuc),
      })),
    },
  };
  const modelDir = join(settings.cacheDir, 'retrievers', ids.key.slice(0, 16));
  await mkdir(modelDir, { recursive: true });
  for (const m of fitted.models) saveMF(join(modelDir, `${safeSegment(m.name)}.dnrmf`), m.model);
  log(`saved ${fitted.models.length} retriever model(s) under ${modelDir}`);
  return {
    ...ds,
    meta: {
      ...ds.meta,
      dataset: { format: settings.format, input: settings.input, sha256: ids.digest },
      prepare: summary,
      settings: { ...settings, json: undefined },
    },
  };
}

/** Adds MovieLens item and user features (when their files are given) to a dataset. */
async function attachSideFeatures(
  ds: RerankDataset,
  settings: PrepareSettings,
  itemIds: readonly string[],
  userIds: readonly string[],
  log: Log,
): Promise<RerankDataset> {
  let out = ds;
  if (settings.itemMeta) {
    const f = itemFeatureMatrix(await loadMovieLensItems(settings.itemMeta), itemIds);
    log(
      `item features: ${f.dim} columns from ${settings.itemMeta} (${f.missing} items without metadata)`,
    );
    out = { ...out, itemFeatures: f.data, itemFeatureDim: f.dim };
  }
  if (settings.userMeta) {
    const f = userFeatureMatrix(await loadMovieLensUsers(settings.userMeta), userIds);
    log(
      `user features: ${f.dim} columns from ${settings.userMeta} (${f.missing} users without metadata)`,
    );
    out = { ...out, userFeatures: f.data, userFeatureDim: f.dim };
  }
  return out;
}

const finite = (x: number): number | null => (Number.isFinite(x) ? x : null);
const pct = (x: number | null): string => (x === null ? 'n/a' : (100 * x).toFixed(2));

/** The terminal report of `data prepare`. */
export function formatPrepareSummary(
  summary: PrepareSummary,
  path: string,
  cached: boolean,
): string {
  const s = summary.stats;
  const r = summary.retriever;
  const lines = [
    `dataset ${cached ? 'loaded from cache' : 'built and cached'}: ${path}`,
    `users ${s.users}, items ${s.items}, interactions ${s.interactions}, requests ${s.requests}, positives ${s.positives}`,
    `lists: train ${summary.lists.train}, validation ${summary.lists.validation}, test ${summary.lists.test}`,
    `retriever (${r.mode}) AUC, held-out positives vs sampled negatives: test ${pct(r.testAuc)}, validation ${pct(r.validationAuc)}`,
    `retriever per-list AUC / N@6: train ${pct(r.lists.train.auc)} / ${pct(r.lists.train.ndcg)}, ` +
      `validation ${pct(r.lists.validation.auc)} / ${pct(r.lists.validation.ndcg)}, ` +
      `test ${pct(r.lists.test.auc)} / ${pct(r.lists.test.ndcg)}`,
  ];
  if (r.warning) lines.push(`WARNING: ${r.warning}`);
  return lines.join('\n');
}

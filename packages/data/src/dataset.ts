/**
 * Working with a {@link RerankDataset}: split selection, subsets, seeded mini-batches, summaries
 * and a full structural validator.
 */
import { createRng, shuffleInPlace } from './rng';
import { Split } from './types';
import type { RerankDataset, SplitCode, SplitName } from './types';

/** A split by name (`'train'`, `'validation'`, `'test'`) or by code (0, 1, 2), or `'all'` lists. */
export type SplitSelector = SplitName | SplitCode | 'all';

/** Error thrown by {@link validateRerankDataset}: names the field and the first bad index. */
export class RerankDatasetError extends Error {
  /** The offending field, e.g. `'scores'`. */
  readonly field: string;
  /** The first bad flat index in that field (-1 for a whole-field problem such as a length). */
  readonly index: number;
  constructor(field: string, index: number, message: string) {
    super(`RerankDataset.${field}${index >= 0 ? `[${index}]` : ''}: ${message}`);
    this.name = 'RerankDatasetError';
    this.field = field;
    this.index = index;
  }
}

function splitCode(split: SplitSelector): SplitCode | -1 {
  if (split === 'all') return -1;
  if (typeof split === 'number') {
    if (split === 0 || split === 1 || split === 2) return split;
    throw new RangeError(`split code must be 0, 1 or 2, got ${String(split)}`);
  }
  const code = (Split as Record<string, SplitCode | undefined>)[split];
  if (code === undefined) {
    throw new RangeError(
      `split must be 'train', 'validation', 'test', 'all' or 0..2, got '${String(split)}'`,
    );
  }
  return code;
}

/**
 * Indices of the lists of one split, ascending.
 *
 * @returns Int32Array [m] of list indices (all lists for `'all'`).
 */
export function splitIndices(ds: RerankDataset, split: SplitSelector): Int32Array {
  const code = splitCode(split);
  const n = ds.split.length;
  if (code === -1) {
    const all = new Int32Array(n);
    for (let i = 0; i < n; i++) all[i] = i;
    return all;
  }
  let m = 0;
  for (let i = 0; i < n; i++) if (ds.split[i] === code) m++;
  const out = new Int32Array(m);
  m = 0;
  for (let i = 0; i < n; i++) if (ds.split[i] === code) out[m++] = i;
  return out;
}

function gatherRows<T extends Int32Array | Float32Array | Uint8Array>(
  src: T,
  width: number,
  indices: Int32Array,
  dst: T,
  dstRow = 0,
): T {
  for (let j = 0; j < indices.length; j++) {
    const s = indices[j]! * width;
    dst.set(src.subarray(s, s + width), (dstRow + j) * width);
  }
  return dst;
}

/**
 * A new dataset with the given lists (in the given order; repeats allowed). Per-list arrays are
 * copied; `userFeatures`/`itemFeatures` (per user/item, not per list) are shared, `meta` is copied
 * with `subsetOf` (the original list count) added.
 *
 * @param indices Int32Array or number[] [m] of list indices in `[0, n)`.
 */
export function subsetDataset(
  ds: RerankDataset,
  indices: Int32Array | readonly number[],
): RerankDataset {
  const n = ds.user.length;
  const idx = indices instanceof Int32Array ? indices : Int32Array.from(indices);
  for (let j = 0; j < idx.length; j++) {
    const i = idx[j]!;
    if (!Number.isInteger(i) || i < 0 || i >= n) {
      throw new RangeError(`subsetDataset: indices[${j}] = ${i} is outside [0, ${n})`);
    }
  }
  const m = idx.length;
  const L = ds.listSize;
  const H = ds.historyLength;
  const out: RerankDataset = {
    numUsers: ds.numUsers,
    numItems: ds.numItems,
    listSize: L,
    historyLength: H,
    user: gatherRows(ds.user, 1, idx, new Int32Array(m)),
    history: gatherRows(ds.history, H, idx, new Int32Array(m * H)),
    historyCount: gatherRows(ds.historyCount, 1, idx, new Int32Array(m)),
    items: gatherRows(ds.items, L, idx, new Int32Array(m * L)),
    scores: gatherRows(ds.scores, L, idx, new Float32Array(m * L)),
    labels: gatherRows(ds.labels, L, idx, new Uint8Array(m * L)),
    split: gatherRows(ds.split, 1, idx, new Uint8Array(m)),
    ...(ds.trueProbs
      ? { trueProbs: gatherRows(ds.trueProbs, L, idx, new Float32Array(m * L)) }
      : {}),
    ...(ds.userFeatures
      ? { userFeatures: ds.userFeatures, userFeatureDim: ds.userFeatureDim ?? 0 }
      : {}),
    ...(ds.itemFeatures
      ? { itemFeatures: ds.itemFeatures, itemFeatureDim: ds.itemFeatureDim ?? 0 }
      : {}),
    meta: { ...ds.meta, subsetOf: n },
  };
  return out;
}

/**
 * One mini-batch. Per-list arrays are list-major: `[size * listSize]` or `[size * historyLength]`.
 * `index` gives the dataset row of each list so predictions can be written back.
 */
export interface Batch<Labels extends Uint8Array | Float32Array = Uint8Array> {
  /** Lists in this batch (b). */
  readonly size: number;
  /** Dataset list index of each row [b]. */
  readonly index: Int32Array;
  /** User of each list [b]. */
  readonly user: Int32Array;
  /** History items [b * H], left-padded with `numItems`. */
  readonly history: Int32Array;
  /** Real history items per list [b]. */
  readonly historyCount: Int32Array;
  /** Candidate items [b * L] in retriever order. */
  readonly items: Int32Array;
  /** Retriever scores [b * L], descending within each list. */
  readonly scores: Float32Array;
  /** Labels [b * L] (0/1) as Uint8Array, or Float32Array with `labelDtype: 'float32'`. */
  readonly labels: Labels;
  /** True click probabilities [b * L] when the dataset has them (lab only). */
  readonly trueProbs?: Float32Array;
}

/** Options of {@link iterateBatches}. */
export interface BatchOptions {
  /** Which lists: a split name or code, or `'all'`. */
  readonly split: SplitSelector;
  /** Lists per batch (positive integer). */
  readonly batchSize: number;
  /** Shuffle the split's lists (default false: ascending index order). */
  readonly shuffle?: boolean;
  /** Seed of the shuffle; required when `shuffle` is true. */
  readonly seed?: number | string;
  /** Epoch number, mixed into the shuffle seed so each epoch gets its own order (default 0). */
  readonly epoch?: number;
  /** Drop a last batch smaller than `batchSize` (default false). */
  readonly dropLast?: boolean;
  /** Label array type (default `'uint8'`; `'float32'` is handy for tensor losses). */
  readonly labelDtype?: 'uint8' | 'float32';
  /**
   * Reuse preallocated buffers across iterations (default false). When true, the arrays of a
   * yielded batch are views that the NEXT iteration overwrites: consume (or copy) them before
   * asking for the next batch. When false every batch owns fresh arrays.
   */
  readonly reuseBuffers?: boolean;
}

/** Number of batches {@link iterateBatches} yields for these options (for progress bars / ETA). */
export function countBatches(ds: RerankDataset, options: BatchOptions): number {
  checkBatchSize(options.batchSize);
  const m = splitIndices(ds, options.split).length;
  return options.dropLast ? Math.floor(m / options.batchSize) : Math.ceil(m / options.batchSize);
}

function checkBatchSize(batchSize: number): void {
  if (!Number.isInteger(batchSize) || batchSize < 1) {
    throw new RangeError(`batchSize must be a positive integer, got ${batchSize}`);
  }
}

/**
 * Mini-batches over one split. Without `shuffle` the lists come in ascending index order; with
 * `shuffle` the order is a Fisher-Yates permutation from `createRng(seed).fork(epoch)`, so the same
 * (seed, epoch) always gives the same batches. Every list of the split appears exactly once per pass
 * (except a short last batch when `dropLast`).
 *
 * Yielded arrays are fresh copies unless `reuseBuffers` is set (see {@link BatchOptions}).
 *
 * @example
 * for (const b of iterateBatches(ds, { split: 'train', batchSize: 256, shuffle: true, seed: 1, epoch })) {
 *   // b.items: Int32Array [b.size * ds.listSize]
 * }
 */
export function iterateBatches(
  ds: RerankDataset,
  options: BatchOptions & { labelDtype: 'float32' },
): Generator<Batch<Float32Array>, void, undefined>;
export function iterateBatches(
  ds: RerankDataset,
  options: BatchOptions,
): Generator<Batch<Uint8Array>, void, undefined>;
export function* iterateBatches(
  ds: RerankDataset,
  options: BatchOptions,
): Generator<Batch<Uint8Array | Float32Array>, void, undefined> {
  const { batchSize } = options;
  checkBatchSize(batchSize);
  const order = splitIndices(ds, options.split);
  if (options.shuffle) {
    if (options.seed === undefined) {
      throw new RangeError('iterateBatches: shuffle needs an explicit seed');
    }
    shuffleInPlace(order, createRng(options.seed).fork(options.epoch ?? 0));
  }
  const L = ds.listSize;
  const H = ds.historyLength;
  const f32 = options.labelDtype === 'float32';
  if (options.labelDtype !== undefined && options.labelDtype !== 'uint8' && !f32) {
    throw new RangeError(
      `labelDtype must be 'uint8' or 'float32', got '${String(options.labelDtype)}'`,
    );
  }
  const reuse = options.reuseBuffers === true;
  const alloc = (b: number) => ({
    index: new Int32Array(b),
    user: new Int32Array(b),
    history: new Int32Array(b * H),
    historyCount: new Int32Array(b),
    items: new Int32Array(b * L),
    scores: new Float32Array(b * L),
    labels: f32 ? new Float32Array(b * L) : new Uint8Array(b * L),
    trueProbs: ds.trueProbs ? new Float32Array(b * L) : undefined,
  });
  const shared = reuse ? alloc(batchSize) : undefined;
  const m = order.length;
  for (let start = 0; start < m; start += batchSize) {
    const b = Math.min(batchSize, m - start);
    if (b < batchSize && options.dropLast) return;
    const idx = order.subarray(start, start + b);
    const buf = shared ?? alloc(b);
    const view = <T extends Int32Array | Float32Array | Uint8Array>(a: T, w: number): T =>
      (shared ? a.subarray(0, b * w) : a) as T;
    const index = view(buf.index, 1);
    index.set(idx);
    const items = view(buf.items, L);
    const scores = view(buf.scores, L);
    const labels = view(buf.labels, L);
    const trueProbs = buf.trueProbs ? view(buf.trueProbs, L) : undefined;
    for (let j = 0; j < b; j++) {
      const s = idx[j]! * L;
      items.set(ds.items.subarray(s, s + L), j * L);
      scores.set(ds.scores.subarray(s, s + L), j * L);
      labels.set(ds.labels.subarray(s, s + L), j * L);
      if (trueProbs && ds.trueProbs) trueProbs.set(ds.trueProbs.subarray(s, s + L), j * L);
    }
    const batch: Batch<Uint8Array | Float32Array> = {
      size: b,
      index,
      user: gatherRows(ds.user, 1, idx, view(buf.user, 1)),
      history: gatherRows(ds.history, H, idx, view(buf.history, H)),
      historyCount: gatherRows(ds.historyCount, 1, idx, view(buf.historyCount, 1)),
      items,
      scores,
      labels,
      ...(trueProbs ? { trueProbs } : {}),
    };
    yield batch;
  }
}

/** Counts for one split, see {@link datasetSummary}. */
export interface SplitSummary {
  /** Number of lists. */
  readonly lists: number;
  /** Positive candidates in total. */
  readonly positives: number;
  /** Mean positives per list (0 when the split is empty). */
  readonly meanPositivesPerList: number;
  /** Lists with no positive (metrics leave them out). */
  readonly listsWithoutPositives: number;
  /** Mean number of real history items per list. */
  readonly meanHistoryCount: number;
  /** Distinct users with at least one list. */
  readonly users: number;
}

/** Shape and per-split counts of a dataset. */
export interface DatasetSummary {
  readonly lists: number;
  readonly numUsers: number;
  readonly numItems: number;
  readonly listSize: number;
  readonly historyLength: number;
  readonly hasTrueProbs: boolean;
  readonly userFeatureDim: number;
  readonly itemFeatureDim: number;
  readonly splits: Readonly<Record<SplitName, SplitSummary>>;
}

/**
 * Counts per split: lists, positives, mean positives per list, lists without positives, mean history
 * length, distinct users. (Retriever AUCs are computed with `@dnr/metrics`, not here.)
 */
export function datasetSummary(ds: RerankDataset): DatasetSummary {
  const L = ds.listSize;
  const acc = [0, 1, 2].map(() => ({ lists: 0, positives: 0, empty: 0, hist: 0, users: 0 }));
  const seen = new Int32Array(ds.numUsers);
  for (let i = 0; i < ds.split.length; i++) {
    const a = acc[ds.split[i]!];
    if (!a) continue;
    let pos = 0;
    for (let j = i * L; j < (i + 1) * L; j++) pos += ds.labels[j]!;
    a.lists++;
    a.positives += pos;
    if (pos === 0) a.empty++;
    a.hist += ds.historyCount[i]!;
    const u = ds.user[i]!;
    const bit = 1 << ds.split[i]!;
    if (u >= 0 && u < ds.numUsers && (seen[u]! & bit) === 0) {
      seen[u] = seen[u]! | bit;
      a.users++;
    }
  }
  const mk = (k: number): SplitSummary => {
    const a = acc[k]!;
    return {
      lists: a.lists,
      positives: a.positives,
      meanPositivesPerList: a.lists ? a.positives / a.lists : 0,
      listsWithoutPositives: a.empty,
      meanHistoryCount: a.lists ? a.hist / a.lists : 0,
      users: a.users,
    };
  };
  return {
    lists: ds.user.length,
    numUsers: ds.numUsers,
    numItems: ds.numItems,
    listSize: L,
    historyLength: ds.historyLength,
    hasTrueProbs: ds.trueProbs !== undefined,
    userFeatureDim: ds.userFeatures ? (ds.userFeatureDim ?? 0) : 0,
    itemFeatureDim: ds.itemFeatures ? (ds.itemFeatureDim ?? 0) : 0,
    splits: { train: mk(0), validation: mk(1), test: mk(2) },
  };
}

/** Options of {@link validateRerankDataset}. */
export interface ValidateOptions {
  /** Check that scores are non-increasing within each list (default true). */
  readonly checkOrder?: boolean;
}

function checkLength(field: string, arr: { length: number } | undefined, expected: number): void {
  if (!arr) throw new RerankDatasetError(field, -1, 'is missing');
  if (arr.length !== expected) {
    throw new RerankDatasetError(field, -1, `length ${arr.length}, expected ${expected}`);
  }
}

function checkInt(field: string, value: number, min: number): void {
  if (!Number.isInteger(value) || value < min) {
    throw new RerankDatasetError(field, -1, `must be an integer >= ${min}, got ${value}`);
  }
}

/**
 * Checks every array's type, length and values; throws a {@link RerankDatasetError} naming the field
 * and the first bad index. Checks: integer sizes; `user` in [0, numUsers); `history` entries in
 * [0, numItems] with exactly the first `H - historyCount` of each row equal to the padding index
 * `numItems`; `historyCount` in [0, H]; `items` in [0, numItems] (padding allowed, then label 0);
 * `labels` 0/1; `scores` finite and non-increasing within each list; `split` codes 0..2;
 * optional `trueProbs` in [0, 1]; feature matrices sized `numUsers * dim` and `(numItems + 1) * dim`
 * with finite values. O(n * (L + H)).
 */
export function validateRerankDataset(ds: RerankDataset, options: ValidateOptions = {}): void {
  checkInt('numUsers', ds.numUsers, 1);
  checkInt('numItems', ds.numItems, 1);
  checkInt('listSize', ds.listSize, 1);
  checkInt('historyLength', ds.historyLength, 0);
  const typed: [string, unknown, string][] = [
    ['user', ds.user, 'Int32Array'],
    ['history', ds.history, 'Int32Array'],
    ['historyCount', ds.historyCount, 'Int32Array'],
    ['items', ds.items, 'Int32Array'],
    ['scores', ds.scores, 'Float32Array'],
    ['labels', ds.labels, 'Uint8Array'],
    ['split', ds.split, 'Uint8Array'],
  ];
  const ctors: Record<string, unknown> = { Int32Array, Float32Array, Uint8Array };
  for (const [field, arr, type] of typed) {
    if (!(arr instanceof (ctors[type] as typeof Int32Array))) {
      throw new RerankDatasetError(field, -1, `must be a ${type}`);
    }
  }
  if (typeof ds.meta !== 'object' || ds.meta === null) {
    throw new RerankDatasetError('meta', -1, 'must be an object');
  }
  const n = ds.user.length;
  const { numUsers, numItems, listSize: L, historyLength: H } = ds;
  checkLength('history', ds.history, n * H);
  checkLength('historyCount', ds.historyCount, n);
  checkLength('items', ds.items, n * L);
  checkLength('scores', ds.scores, n * L);
  checkLength('labels', ds.labels, n * L);
  checkLength('split', ds.split, n);
  for (let i = 0; i < n; i++) {
    const u = ds.user[i]!;
    if (u < 0 || u >= numUsers) {
      throw new RerankDatasetError('user', i, `${u} is outside [0, ${numUsers})`);
    }
    if (ds.split[i]! > 2) {
      throw new RerankDatasetError('split', i, `${ds.split[i]} is not a split code 0..2`);
    }
    const c = ds.historyCount[i]!;
    if (c < 0 || c > H) {
      throw new RerankDatasetError('historyCount', i, `${c} is outside [0, ${H}]`);
    }
    for (let j = 0; j < H; j++) {
      const k = i * H + j;
      const v = ds.history[k]!;
      if (j < H - c) {
        if (v !== numItems) {
          throw new RerankDatasetError(
            'history',
            k,
            `${v} should be the padding index ${numItems} (historyCount ${c}, left padding)`,
          );
        }
      } else if (v < 0 || v >= numItems) {
        throw new RerankDatasetError('history', k, `${v} is outside [0, ${numItems})`);
      }
    }
  }
  const checkOrder = options.checkOrder ?? true;
  for (let k = 0; k < n * L; k++) {
    const it = ds.items[k]!;
    if (it < 0 || it > numItems) {
      throw new RerankDatasetError('items', k, `${it} is outside [0, ${numItems}]`);
    }
    const y = ds.labels[k]!;
    if (y > 1) throw new RerankDatasetError('labels', k, `${y} is not 0 or 1`);
    if (it === numItems && y !== 0) {
      throw new RerankDatasetError('labels', k, 'a padding candidate must have label 0');
    }
    const s = ds.scores[k]!;
    if (!Number.isFinite(s)) throw new RerankDatasetError('scores', k, `${s} is not finite`);
    if (checkOrder && k % L !== 0 && s > ds.scores[k - 1]!) {
      throw new RerankDatasetError(
        'scores',
        k,
        `${s} > previous ${ds.scores[k - 1]}: scores must be descending within each list (list ${Math.floor(k / L)})`,
      );
    }
  }
  if (ds.trueProbs !== undefined) {
    if (!(ds.trueProbs instanceof Float32Array)) {
      throw new RerankDatasetError('trueProbs', -1, 'must be a Float32Array');
    }
    checkLength('trueProbs', ds.trueProbs, n * L);
    for (let k = 0; k < n * L; k++) {
      const p = ds.trueProbs[k]!;
      if (!(p >= 0 && p <= 1)) {
        throw new RerankDatasetError('trueProbs', k, `${p} is not a probability in [0, 1]`);
      }
    }
  }
  const feats: [string, Float32Array | undefined, number | undefined, number][] = [
    ['userFeatures', ds.userFeatures, ds.userFeatureDim, numUsers],
    ['itemFeatures', ds.itemFeatures, ds.itemFeatureDim, numItems + 1],
  ];
  for (const [field, f, dim, rows] of feats) {
    if (f === undefined) continue;
    if (!(f instanceof Float32Array))
      throw new RerankDatasetError(field, -1, 'must be a Float32Array');
    const dimField = field === 'userFeatures' ? 'userFeatureDim' : 'itemFeatureDim';
    if (dim === undefined || !Number.isInteger(dim) || dim < 1) {
      throw new RerankDatasetError(dimField, -1, `must be a positive integer, got ${dim}`);
    }
    checkLength(field, f, rows * dim);
    for (let k = 0; k < f.length; k++) {
      if (!Number.isFinite(f[k]!)) throw new RerankDatasetError(field, k, `${f[k]} is not finite`);
    }
    if (field === 'itemFeatures') {
      for (let k = numItems * dim; k < f.length; k++) {
        if (f[k] !== 0) {
          throw new RerankDatasetError(field, k, `padding row (item ${numItems}) must be zeros`);
        }
      }
    }
  }
}

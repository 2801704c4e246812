import * as tf from '@tensorflow/tfjs-core';
import type { Tensor, Tensor1D, Tensor2D, Variable } from '@tensorflow/tfjs-core';
import type { NamedWeight } from './engine/params';

export type { NamedWeight } from './engine/params';

/**
 * One batch of reranking requests as tensors (B lists of L candidates, history length H).
 * Candidates of each list are ordered by retriever score, descending (rank 0 first).
 */
export interface RerankBatchTensors {
  /** int32 `[B]`: user index of each list. */
  user: Tensor1D;
  /** int32 `[B, H]`: history item indices, most recent last, left-padded with `numItems`. */
  history: Tensor2D;
  /** int32 `[B, L]`: candidate item indices. */
  items: Tensor2D;
  /** float32 `[B, L]`: retriever score of each candidate. */
  scores: Tensor2D;
  /**
   * int32 `[B, L]`: rank position of each candidate among its list (0 = highest score).
   * Default `0..L-1` (the candidates are ordered by score). DNR's synthetic pass must pass the
   * ranks of the synthetic scores (protocol 0b.5), e.g. from {@link ranksFromScores}.
   */
  ranks?: Tensor2D;
}

/** Options of every scoring call. */
export interface ScoreOptions {
  /** Training mode: dropout and other train-only behaviour on. */
  training: boolean;
}

/** A serializable configuration (plain JSON values only). */
export type RerankerConfig = { readonly [key: string]: unknown };

/**
 * The contract every reranker implements. Models score; objectives train: no loss in here.
 * Every method that returns a tensor disposes its intermediates (the caller owns the result).
 */
export interface Reranker {
  /** Registry name, e.g. `'prm'`. */
  readonly name: string;
  /** The fully resolved configuration (every default filled in); JSON-serializable. */
  readonly config: RerankerConfig;
  /**
   * One logit per candidate.
   * @returns float32 `[B, L]`
   */
  score(batch: RerankBatchTensors, options: ScoreOptions): Tensor2D;
  /**
   * The encoded user state, computed once and reusable across several scoring passes of the same
   * requests (DNR's real and synthetic passes). Only `user` and `history` of the batch are read.
   * @returns float32 `[B, d]` (model-specific)
   */
  encodeUser?(batch: Pick<RerankBatchTensors, 'user' | 'history'>, options: ScoreOptions): Tensor;
  /**
   * Scores with a state from {@link Reranker.encodeUser}; `score(b) == scoreWithState(b, encodeUser(b))`
   * (up to dropout draws). @returns float32 `[B, L]`
   */
  scoreWithState?(batch: RerankBatchTensors, state: Tensor, options: ScoreOptions): Tensor2D;
  /**
   * The variables an optimizer should update. Implementations should throw a helpful error when
   * tfjs's gradients are not registered (see `assertGradientsRegistered`).
   */
  trainableVariables(): Variable[];
  /** Copies every weight out (names are stable logical names). */
  getWeights(): NamedWeight[];
  /** Assigns every weight; names and shapes must match this model exactly (clear errors otherwise). */
  setWeights(weights: readonly NamedWeight[]): void;
  /** Number of scalar parameters. */
  countParams(): number;
  /**
   * Optional: restarts the model's internal random streams (dropout masks...) from a state
   * derived only from its config seed and `epoch`. Trainers call it at the start of every epoch,
   * so a run resumed from an end-of-epoch checkpoint draws exactly the masks of an uninterrupted
   * run. Models without internal randomness need not implement it.
   */
  setRandomEpoch?(epoch: number): void;
  /** Frees the variables. The model is unusable afterwards. */
  dispose(): void;
}

/** Batch of requests as typed arrays (the `@dnr/data` batch layout, list-major). */
export interface RerankBatchArrays {
  /** `[B]` */
  user: Int32Array;
  /** `[B * H]`, padding index = numItems */
  history: Int32Array;
  /** `[B * L]` */
  items: Int32Array;
  /** `[B * L]` */
  scores: Float32Array;
  /** Optional `[B * L]` rank positions; default 0..L-1 per list. */
  ranks?: Int32Array;
}

/** Limits used to validate indices before they reach the backend. */
export interface BatchLimits {
  numItems: number;
  numUsers: number;
}

function checkRange(name: string, a: Int32Array, lo: number, hi: number): void {
  for (let i = 0; i < a.length; i++) {
    const v = a[i] as number;
    if (v < lo || v > hi) {
      throw new RangeError(`${name}[${i}] = ${v} is outside [${lo}, ${hi}]`);
    }
  }
}

/**
 * Turns a typed-array batch into tensors, validating sizes and (when `limits` is given) index
 * ranges on the JavaScript side (backends do not check gather indices).
 *
 * @returns user int32 `[B]`, history int32 `[B, H]`, items int32 `[B, L]`, scores float32 `[B, L]`,
 *   ranks int32 `[B, L]` when given
 */
export function toBatchTensors(batch: RerankBatchArrays, limits?: BatchLimits): RerankBatchTensors {
  const b = batch.user.length;
  if (b === 0) throw new RangeError('empty batch (user.length = 0)');
  if (batch.items.length % b !== 0) {
    throw new RangeError(`items.length ${batch.items.length} is not a multiple of B = ${b}`);
  }
  if (batch.history.length % b !== 0) {
    throw new RangeError(`history.length ${batch.history.length} is not a multiple of B = ${b}`);
  }
  const l = batch.items.length / b;
  const h = batch.history.length / b;
  if (batch.scores.length !== b * l) {
    throw new RangeError(`scores.length ${batch.scores.length} != items.length ${b * l}`);
  }
  if (batch.ranks && batch.ranks.length !== b * l) {
    throw new RangeError(`ranks.length ${batch.ranks.length} != items.length ${b * l}`);
  }
  if (limits) {
    checkRange('user', batch.user, 0, limits.numUsers - 1);
    checkRange('items', batch.items, 0, limits.numItems - 1);
    checkRange('history', batch.history, 0, limits.numItems);
  }
  if (batch.ranks) checkRange('ranks', batch.ranks, 0, l - 1);
  const out: RerankBatchTensors = {
    user: tf.tensor1d(batch.user, 'int32'),
    history: tf.tensor2d(batch.history, [b, h], 'int32'),
    items: tf.tensor2d(batch.items, [b, l], 'int32'),
    scores: tf.tensor2d(batch.scores, [b, l], 'float32'),
  };
  if (batch.ranks) out.ranks = tf.tensor2d(batch.ranks, [b, l], 'int32');
  return out;
}

/** Disposes every tensor of a batch. */
export function disposeBatch(batch: RerankBatchTensors): void {
  tf.dispose([batch.user, batch.history, batch.items, batch.scores]);
  if (batch.ranks) batch.ranks.dispose();
}

/**
 * Rank of each candidate by descending score (0 = highest); ties go to the lower index first;
 * NaN ranks last. Pure JavaScript.
 *
 * @param scores float32 `[B * L]`, list-major
 * @param listSize L
 * @returns int32 `[B * L]`
 */
export function ranksFromScoresArray(scores: ArrayLike<number>, listSize: number): Int32Array {
  if (!Number.isInteger(listSize) || listSize <= 0 || scores.length % listSize !== 0) {
    throw new RangeError(
      `scores.length ${scores.length} is not a multiple of listSize ${listSize}`,
    );
  }
  const out = new Int32Array(scores.length);
  const order = new Int32Array(listSize);
  const key = new Float64Array(listSize);
  for (let off = 0; off < scores.length; off += listSize) {
    for (let i = 0; i < listSize; i++) {
      order[i] = i;
      const s = scores[off + i] as number;
      key[i] = Number.isNaN(s) ? -Infinity : s;
    }
    // insertion sort: stable, fast for L ~ 50 and for lists that are already nearly sorted
    for (let i = 1; i < listSize; i++) {
      const cur = order[i] as number;
      const k = key[cur] as number;
      const nan = Number.isNaN(scores[off + cur] as number);
      let j = i - 1;
      while (j >= 0) {
        const prev = order[j] as number;
        const pk = key[prev] as number;
        const prevNan = Number.isNaN(scores[off + prev] as number);
        // move `cur` before `prev` when it ranks strictly higher
        const higher = nan ? false : prevNan ? true : k > pk;
        if (!higher) break;
        order[j + 1] = prev;
        j--;
      }
      order[j + 1] = cur;
    }
    for (let r = 0; r < listSize; r++) out[off + (order[r] as number)] = r;
  }
  return out;
}

/**
 * Rank of each candidate by descending score, per list (ties: lower index first; NaN last).
 * Reads the scores synchronously (one `dataSync`).
 *
 * @param scores float32 `[B, L]`
 * @returns int32 `[B, L]`
 */
export function ranksFromScores(scores: Tensor2D): Tensor2D {
  if (scores.rank !== 2)
    throw new Error(`ranksFromScores expects [B, L], got [${scores.shape.join(',')}]`);
  const [b, l] = scores.shape;
  const ranks = ranksFromScoresArray(scores.dataSync(), l);
  return tf.tensor2d(ranks, [b, l], 'int32');
}

/**
 * The default ranks `0..L-1` for every list.
 * @returns int32 `[B, L]`
 */
export function defaultRanks(batchSize: number, listSize: number): Tensor2D {
  const data = new Int32Array(batchSize * listSize);
  for (let i = 0; i < data.length; i++) data[i] = i % listSize;
  return tf.tensor2d(data, [batchSize, listSize], 'int32');
}

/** Helper for models: a tensor's shape as text. */
export function shapeText(t: Tensor): string {
  return `[${t.shape.join(',')}]`;
}

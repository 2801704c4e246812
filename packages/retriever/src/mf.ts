import { createRng } from '@dnr/data';

/**
 * A matrix-factorization retriever (Koren, Bell & Volinsky 2009, as used by the DNR paper):
 * `score(u, i) = sigmoid(<P_u, Q_i> + b_u + b_i + b)`. All parameters are Float32Arrays, row-major.
 */
export interface MFModel {
  readonly numUsers: number;
  readonly numItems: number;
  /** Embedding size d. */
  readonly dim: number;
  /** User embeddings P [numUsers * dim]. */
  readonly userEmb: Float32Array;
  /** Item embeddings Q [numItems * dim]. */
  readonly itemEmb: Float32Array;
  /** User biases b_u [numUsers]. */
  readonly userBias: Float32Array;
  /** Item biases b_i [numItems]. */
  readonly itemBias: Float32Array;
  /** Global bias b [1]. */
  readonly globalBias: Float32Array;
  /** Free-form provenance (training config, epochs, AUC...); must be JSON-serializable. */
  readonly meta: Record<string, unknown>;
}

/** Options for {@link createMF}. */
export interface MFInitOptions {
  /** Embedding size d (default 128). */
  dim?: number;
  /** Standard deviation of the normal init of embeddings (default 0.01). Biases start at 0. */
  initStd?: number;
  /** Seed of the init (required: every random source is explicit). */
  seed: number;
}

/** Default embedding size (the paper's d = 128). */
export const DEFAULT_DIM = 128;
/** Default init standard deviation of the embeddings. */
export const DEFAULT_INIT_STD = 0.01;

/**
 * Creates an MF model with embeddings drawn from N(0, initStd^2) (seeded) and zero biases.
 * @returns a model with `userEmb` [numUsers*dim], `itemEmb` [numItems*dim], zero biases.
 */
export function createMF(numUsers: number, numItems: number, options: MFInitOptions): MFModel {
  const dim = options.dim ?? DEFAULT_DIM;
  const std = options.initStd ?? DEFAULT_INIT_STD;
  if (!Number.isInteger(numUsers) || numUsers <= 0) {
    throw new RangeError(`numUsers must be a positive integer, got ${numUsers}`);
  }
  if (!Number.isInteger(numItems) || numItems <= 0) {
    throw new RangeError(`numItems must be a positive integer, got ${numItems}`);
  }
  if (!Number.isInteger(dim) || dim <= 0) {
    throw new RangeError(`dim must be a positive integer, got ${dim}`);
  }
  if (!(std >= 0) || !Number.isFinite(std)) {
    throw new RangeError(`initStd must be a finite number >= 0, got ${std}`);
  }
  const rng = createRng(options.seed);
  const userRng = rng.fork('user');
  const itemRng = rng.fork('item');
  const userEmb = new Float32Array(numUsers * dim);
  const itemEmb = new Float32Array(numItems * dim);
  for (let k = 0; k < userEmb.length; k++) userEmb[k] = userRng.normal() * std;
  for (let k = 0; k < itemEmb.length; k++) itemEmb[k] = itemRng.normal() * std;
  return {
    numUsers,
    numItems,
    dim,
    userEmb,
    itemEmb,
    userBias: new Float32Array(numUsers),
    itemBias: new Float32Array(numItems),
    globalBias: new Float32Array(1),
    meta: {},
  };
}

/** A deep copy of a model's parameters (meta is shallow-copied). */
export function cloneMF(model: MFModel): MFModel {
  return {
    numUsers: model.numUsers,
    numItems: model.numItems,
    dim: model.dim,
    userEmb: model.userEmb.slice(),
    itemEmb: model.itemEmb.slice(),
    userBias: model.userBias.slice(),
    itemBias: model.itemBias.slice(),
    globalBias: model.globalBias.slice(),
    meta: { ...model.meta },
  };
}

/** Numerically stable logistic function. */
export function sigmoid(z: number): number {
  if (z >= 0) return 1 / (1 + Math.exp(-z));
  const e = Math.exp(z);
  return e / (1 + e);
}

/** The logit `<P_u, Q_i> + b_u + b_i + b` of one (user, item) pair. */
export function mfLogit(model: MFModel, u: number, i: number): number {
  const d = model.dim;
  const P = model.userEmb;
  const Q = model.itemEmb;
  const pu = u * d;
  const qi = i * d;
  let z = 0;
  for (let k = 0; k < d; k++) z += P[pu + k]! * Q[qi + k]!;
  return z + model.userBias[u]! + model.itemBias[i]! + model.globalBias[0]!;
}

/** The score `sigmoid(logit)` in (0, 1) of one (user, item) pair. */
export function mfScore(model: MFModel, u: number, i: number): number {
  return sigmoid(mfLogit(model, u, i));
}

function checkUser(model: MFModel, u: number): void {
  if (!Number.isInteger(u) || u < 0 || u >= model.numUsers) {
    throw new RangeError(`user ${u} is outside [0, ${model.numUsers})`);
  }
}

/**
 * Scores `items` for one user into `out[offset ..]` (sigmoid scores).
 * @param items item indices [m] in `[0, numItems)`
 * @param out destination, written at `out[offset + j]` for j < m
 */
export function scoreItemsInto(
  model: MFModel,
  u: number,
  items: ArrayLike<number>,
  out: Float32Array,
  offset = 0,
): void {
  checkUser(model, u);
  const n = model.numItems;
  for (let j = 0; j < items.length; j++) {
    const i = items[j]!;
    if (!(i >= 0 && i < n)) throw new RangeError(`item ${i} is outside [0, ${n})`);
    out[offset + j] = sigmoid(mfLogit(model, u, i));
  }
}

/**
 * Scores every item for user `u`.
 * @returns Float32Array [numItems] of sigmoid scores.
 */
export function scoreAllItems(model: MFModel, u: number): Float32Array {
  checkUser(model, u);
  const out = new Float32Array(model.numItems);
  for (let i = 0; i < model.numItems; i++) out[i] = sigmoid(mfLogit(model, u, i));
  return out;
}

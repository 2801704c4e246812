import { createRng, shuffleInPlace } from '@dnr/data';
import type { Rng } from '@dnr/data';
import { mannWhitneyAuc } from './auc';
import { createMF, DEFAULT_DIM, DEFAULT_INIT_STD, mfLogit } from './mf';
import type { MFModel } from './mf';
import { buildUserItemIndex, sampleNegative, validatePairs } from './pairs';
import type { InteractionPairs, UserItemIndex } from './pairs';

/** Per-epoch progress passed to {@link MFTrainConfig.onEpoch}. */
export interface EpochReport {
  /** 1-based epoch number. */
  epoch: number;
  /** Mean BCE per training sample (positives and negatives) over the epoch, before L2. */
  loss: number;
  /** Validation AUC after the epoch (NaN when there is no validation data). */
  valAuc: number;
  /** Wall time of the epoch's training pass in milliseconds (validation excluded). */
  ms: number;
  /** True when this epoch is the best so far (its weights are kept). */
  best: boolean;
}

/** Hyper-parameters of {@link trainMF}. Every field but `seed` has a documented default. */
export interface MFTrainConfig {
  /** Embedding size d (default 128, the paper's). */
  dim?: number;
  /** Std of the normal init of the embeddings (default 0.01); biases start at 0. */
  initStd?: number;
  /** Uniform negatives per positive (default 4). */
  negatives?: number;
  /** Adam learning rate (default 1e-3, the paper's). */
  learningRate?: number;
  /** Adam beta1 (default 0.9). */
  beta1?: number;
  /** Adam beta2 (default 0.999). */
  beta2?: number;
  /** Adam epsilon (default 1e-8). */
  epsilon?: number;
  /**
   * L2 coefficient on the embedding rows touched by a batch: the batch loss gets
   * `(l2 / 2) * sum ||row||^2` over touched user and item rows (biases are not decayed).
   * Default {@link DEFAULT_L2}.
   */
  l2?: number;
  /** Positives per mini-batch (default 1024); each brings its `negatives` negatives. */
  batchSize?: number;
  /**
   * Maximum number of epochs (default 100; early stopping normally ends training first: ML-1M
   * stops after ~15-20 epochs, ML-100K, with 10x fewer steps per epoch, needs more than 30).
   */
  epochs?: number;
  /** Early-stopping patience in epochs without a validation-AUC improvement (default 3). */
  patience?: number;
  /**
   * Held-out positives for early stopping. When absent, `validationFraction` of each user's
   * training pairs are held out (and not trained on).
   */
  validation?: InteractionPairs;
  /** Fraction of each user's pairs held out when `validation` is absent (default 0.1; 0 = none). */
  validationFraction?: number;
  /**
   * Items never drawn as validation negatives, on top of the training and validation pairs
   * (e.g. every item the user interacted with). Training negatives exclude only training pairs.
   */
  evalExclude?: UserItemIndex;
  /** Seed of init, splits, shuffles and negatives (required). */
  seed: number;
  /** Called after every epoch. */
  onEpoch?: (report: EpochReport) => void;
}

/** Default L2 coefficient (chosen by validation AUC on ML-100K; see README). */
export const DEFAULT_L2 = 0;

/** The resolved numeric hyper-parameters (what is stored in a model's meta). */
export interface ResolvedMFConfig {
  dim: number;
  initStd: number;
  negatives: number;
  learningRate: number;
  beta1: number;
  beta2: number;
  epsilon: number;
  l2: number;
  batchSize: number;
  epochs: number;
  patience: number;
  validationFraction: number;
  seed: number;
}

/** Result of {@link trainMF}. */
export interface MFTrainResult {
  /** The model with the best-validation-AUC weights (the last weights when there is no validation). */
  model: MFModel;
  /** One report per epoch run. */
  history: EpochReport[];
  /** 1-based epoch of the kept weights. */
  bestEpoch: number;
  /** Validation AUC of the kept weights (NaN without validation data). */
  bestValAuc: number;
  /** Number of pairs trained on. */
  trainPairs: number;
  /** Number of held-out validation positives. */
  validationPairs: number;
  /** The resolved hyper-parameters. */
  config: ResolvedMFConfig;
}

function positiveInt(name: string, v: number): number {
  if (!Number.isInteger(v) || v < 1)
    throw new RangeError(`${name} must be an integer >= 1, got ${v}`);
  return v;
}

function nonNegative(name: string, v: number): number {
  if (!(v >= 0) || !Number.isFinite(v)) {
    throw new RangeError(`${name} must be a finite number >= 0, got ${v}`);
  }
  return v;
}

/** Fills defaults and validates every hyper-parameter. @throws RangeError naming the field. */
export function resolveMFConfig(config: MFTrainConfig): ResolvedMFConfig {
  if (typeof config.seed !== 'number' || !Number.isFinite(config.seed)) {
    throw new RangeError(`seed must be a finite number, got ${String(config.seed)}`);
  }
  const r: ResolvedMFConfig = {
    dim: positiveInt('dim', config.dim ?? DEFAULT_DIM),
    initStd: nonNegative('initStd', config.initStd ?? DEFAULT_INIT_STD),
    negatives: positiveInt('negatives', config.negatives ?? 4),
    learningRate: nonNegative('learningRate', config.learningRate ?? 1e-3),
    beta1: nonNegative('beta1', config.beta1 ?? 0.9),
    beta2: nonNegative('beta2', config.beta2 ?? 0.999),
    epsilon: nonNegative('epsilon', config.epsilon ?? 1e-8),
    l2: nonNegative('l2', config.l2 ?? DEFAULT_L2),
    batchSize: positiveInt('batchSize', config.batchSize ?? 1024),
    epochs: positiveInt('epochs', config.epochs ?? 100),
    patience: positiveInt('patience', config.patience ?? 3),
    validationFraction: nonNegative('validationFraction', config.validationFraction ?? 0.1),
    seed: config.seed,
  };
  if (r.beta1 >= 1) throw new RangeError(`beta1 must be < 1, got ${r.beta1}`);
  if (r.beta2 >= 1) throw new RangeError(`beta2 must be < 1, got ${r.beta2}`);
  if (r.validationFraction >= 1) {
    throw new RangeError(`validationFraction must be < 1, got ${r.validationFraction}`);
  }
  return r;
}

/**
 * Gradient buffers and sparse Adam state of one model. Internal (exported for the gradient
 * check tests only, not from the package entry).
 */
export interface MFOptimizerState {
  readonly model: MFModel;
  /** dLoss/dP, dLoss/dQ accumulated over the current batch (rows of touched ids only). */
  readonly gUser: Float64Array;
  readonly gItem: Float64Array;
  readonly gUserBias: Float64Array;
  readonly gItemBias: Float64Array;
  readonly gGlobal: Float64Array;
  /** 1 for ids touched in the current batch. */
  readonly userTouched: Uint8Array;
  readonly itemTouched: Uint8Array;
  readonly touchedUsers: Int32Array;
  readonly touchedItems: Int32Array;
  nTouchedUsers: number;
  nTouchedItems: number;
  /** Adam moments, same layout as the parameters. */
  readonly mUser: Float32Array;
  readonly vUser: Float32Array;
  readonly mItem: Float32Array;
  readonly vItem: Float32Array;
  readonly mUserBias: Float32Array;
  readonly vUserBias: Float32Array;
  readonly mItemBias: Float32Array;
  readonly vItemBias: Float32Array;
  readonly mGlobal: Float64Array;
  readonly vGlobal: Float64Array;
  /** Adam step count (global, as in TF's LazyAdam). */
  step: number;
}

/** Allocates zeroed gradient buffers and Adam moments for `model`. */
export function createOptimizerState(model: MFModel): MFOptimizerState {
  const { numUsers: U, numItems: I, dim: d } = model;
  return {
    model,
    gUser: new Float64Array(U * d),
    gItem: new Float64Array(I * d),
    gUserBias: new Float64Array(U),
    gItemBias: new Float64Array(I),
    gGlobal: new Float64Array(1),
    userTouched: new Uint8Array(U),
    itemTouched: new Uint8Array(I),
    touchedUsers: new Int32Array(U),
    touchedItems: new Int32Array(I),
    nTouchedUsers: 0,
    nTouchedItems: 0,
    mUser: new Float32Array(U * d),
    vUser: new Float32Array(U * d),
    mItem: new Float32Array(I * d),
    vItem: new Float32Array(I * d),
    mUserBias: new Float32Array(U),
    vUserBias: new Float32Array(U),
    mItemBias: new Float32Array(I),
    vItemBias: new Float32Array(I),
    mGlobal: new Float64Array(1),
    vGlobal: new Float64Array(1),
    step: 0,
  };
}

/** log(1 + e^x), stable. */
function softplus(x: number): number {
  return x > 0 ? x + Math.log1p(Math.exp(-x)) : Math.log1p(Math.exp(x));
}

/**
 * Adds `scale * dBCE(sigmoid(logit(u, i)), y)/dθ` to the gradient buffers and marks `u`, `i`
 * as touched. dBCE/dlogit = sigmoid(z) - y; dlogit/dP_u = Q_i, dlogit/dQ_i = P_u, biases 1.
 * @returns the sample's BCE (unscaled), computed stably from the logit.
 */
export function accumulateSample(
  s: MFOptimizerState,
  u: number,
  i: number,
  y: number,
  scale: number,
): number {
  const model = s.model;
  const d = model.dim;
  const P = model.userEmb;
  const Q = model.itemEmb;
  const pu = u * d;
  const qi = i * d;
  // four partial sums: ~10 % faster in V8 than one accumulator (measured at d = 128)
  let z0 = 0;
  let z1 = 0;
  let z2 = 0;
  let z3 = 0;
  let k = 0;
  for (; k + 3 < d; k += 4) {
    z0 += P[pu + k]! * Q[qi + k]!;
    z1 += P[pu + k + 1]! * Q[qi + k + 1]!;
    z2 += P[pu + k + 2]! * Q[qi + k + 2]!;
    z3 += P[pu + k + 3]! * Q[qi + k + 3]!;
  }
  for (; k < d; k++) z0 += P[pu + k]! * Q[qi + k]!;
  const z = z0 + z1 + (z2 + z3) + model.userBias[u]! + model.itemBias[i]! + model.globalBias[0]!;
  const p = z >= 0 ? 1 / (1 + Math.exp(-z)) : Math.exp(z) / (1 + Math.exp(z));
  const dz = (p - y) * scale;
  const gU = s.gUser;
  const gI = s.gItem;
  for (k = 0; k < d; k++) {
    gU[pu + k]! += dz * Q[qi + k]!;
    gI[qi + k]! += dz * P[pu + k]!;
  }
  s.gUserBias[u]! += dz;
  s.gItemBias[i]! += dz;
  s.gGlobal[0]! += dz;
  if (s.userTouched[u] === 0) {
    s.userTouched[u] = 1;
    s.touchedUsers[s.nTouchedUsers++] = u;
  }
  if (s.itemTouched[i] === 0) {
    s.itemTouched[i] = 1;
    s.touchedItems[s.nTouchedItems++] = i;
  }
  return y > 0 ? softplus(-z) : softplus(z);
}

/** Adds `l2 * row` to the gradient of every touched embedding row (the L2 term's gradient). */
export function addL2Gradient(s: MFOptimizerState, l2: number): void {
  if (l2 === 0) return;
  const d = s.model.dim;
  const P = s.model.userEmb;
  const Q = s.model.itemEmb;
  for (let t = 0; t < s.nTouchedUsers; t++) {
    const o = s.touchedUsers[t]! * d;
    for (let k = 0; k < d; k++) s.gUser[o + k]! += l2 * P[o + k]!;
  }
  for (let t = 0; t < s.nTouchedItems; t++) {
    const o = s.touchedItems[t]! * d;
    for (let k = 0; k < d; k++) s.gItem[o + k]! += l2 * Q[o + k]!;
  }
}

function adamRows(
  w: Float32Array,
  g: Float64Array,
  m: Float32Array,
  v: Float32Array,
  rows: Int32Array,
  nRows: number,
  width: number,
  b1: number,
  b2: number,
  lrT: number,
  eps: number,
): void {
  const c1 = 1 - b1;
  const c2 = 1 - b2;
  for (let t = 0; t < nRows; t++) {
    const o = rows[t]! * width;
    for (let k = o; k < o + width; k++) {
      const gk = g[k]!;
      const mk = b1 * m[k]! + c1 * gk;
      const vk = b2 * v[k]! + c2 * gk * gk;
      m[k] = mk;
      v[k] = vk;
      w[k] = w[k]! - (lrT * mk) / (Math.sqrt(vk) + eps);
      g[k] = 0;
    }
  }
}

/**
 * One lazy-Adam step on the touched rows (TF LazyAdam semantics: moments of untouched rows are
 * neither decayed nor applied; the bias correction uses the global step). Clears the gradients
 * and the touched marks. Update: `w -= lr * sqrt(1-b2^t)/(1-b1^t) * m / (sqrt(v) + eps)`.
 */
export function applyAdam(
  s: MFOptimizerState,
  lr: number,
  beta1: number,
  beta2: number,
  eps: number,
): void {
  s.step++;
  const t = s.step;
  const lrT = (lr * Math.sqrt(1 - Math.pow(beta2, t))) / (1 - Math.pow(beta1, t));
  const model = s.model;
  const d = model.dim;
  const nu = s.nTouchedUsers;
  const ni = s.nTouchedItems;
  adamRows(model.userEmb, s.gUser, s.mUser, s.vUser, s.touchedUsers, nu, d, beta1, beta2, lrT, eps);
  adamRows(model.itemEmb, s.gItem, s.mItem, s.vItem, s.touchedItems, ni, d, beta1, beta2, lrT, eps);
  adamRows(
    model.userBias,
    s.gUserBias,
    s.mUserBias,
    s.vUserBias,
    s.touchedUsers,
    nu,
    1,
    beta1,
    beta2,
    lrT,
    eps,
  );
  adamRows(
    model.itemBias,
    s.gItemBias,
    s.mItemBias,
    s.vItemBias,
    s.touchedItems,
    ni,
    1,
    beta1,
    beta2,
    lrT,
    eps,
  );
  const g = s.gGlobal[0]!;
  const mg = beta1 * s.mGlobal[0]! + (1 - beta1) * g;
  const vg = beta2 * s.vGlobal[0]! + (1 - beta2) * g * g;
  s.mGlobal[0] = mg;
  s.vGlobal[0] = vg;
  model.globalBias[0] = model.globalBias[0]! - (lrT * mg) / (Math.sqrt(vg) + eps);
  s.gGlobal[0] = 0;
  for (let k = 0; k < nu; k++) s.userTouched[s.touchedUsers[k]!] = 0;
  for (let k = 0; k < ni; k++) s.itemTouched[s.touchedItems[k]!] = 0;
  s.nTouchedUsers = 0;
  s.nTouchedItems = 0;
}

/**
 * Splits pairs per user: a seeded `fraction` of each user's pairs (floor(n * fraction)) goes
 * to the held-out part.
 * @returns `{ train, heldOut }` over the same user/item spaces.
 */
export function holdOutPerUser(
  pairs: InteractionPairs,
  fraction: number,
  rng: Rng,
): { train: InteractionPairs; heldOut: InteractionPairs } {
  const { numUsers, numItems, user, item } = pairs;
  const P = user.length;
  const start = new Int32Array(numUsers + 1);
  for (let k = 0; k < P; k++) start[user[k]! + 1]!++;
  for (let u = 0; u < numUsers; u++) start[u + 1]! += start[u]!;
  const fill = start.slice(0, numUsers);
  const order = new Int32Array(P);
  for (let k = 0; k < P; k++) order[fill[user[k]!]!++] = k;
  const isHeld = new Uint8Array(P);
  let held = 0;
  for (let u = 0; u < numUsers; u++) {
    const seg = order.subarray(start[u]!, start[u + 1]!);
    const h = Math.floor(seg.length * fraction);
    if (h === 0) continue;
    shuffleInPlace(seg, rng);
    for (let t = 0; t < h; t++) isHeld[seg[t]!] = 1;
    held += h;
  }
  const tu = new Int32Array(P - held);
  const ti = new Int32Array(P - held);
  const hu = new Int32Array(held);
  const hi = new Int32Array(held);
  let a = 0;
  let b = 0;
  for (let k = 0; k < P; k++) {
    if (isHeld[k] === 1) {
      hu[b] = user[k]!;
      hi[b++] = item[k]!;
    } else {
      tu[a] = user[k]!;
      ti[a++] = item[k]!;
    }
  }
  return {
    train: { numUsers, numItems, user: tu, item: ti },
    heldOut: { numUsers, numItems, user: hu, item: hi },
  };
}

/**
 * Trains an MF retriever with BCE on positives and uniformly sampled negatives (items the user
 * has no training pair with), mini-batch lazy Adam, and early stopping on validation AUC
 * (held-out positives vs one fixed sampled negative each), keeping the best weights.
 * Deterministic for a given `config.seed`.
 * @param pairs training positives [P]; ids in `[0, numUsers)` / `[0, numItems)`
 * @returns the best model plus per-epoch history.
 */
export function trainMF(pairs: InteractionPairs, config: MFTrainConfig): MFTrainResult {
  validatePairs(pairs, 'pairs');
  const cfg = resolveMFConfig(config);
  const { numUsers, numItems } = pairs;
  const root = createRng(cfg.seed);
  let train = pairs;
  let val: InteractionPairs | undefined = config.validation;
  if (val !== undefined) {
    validatePairs(val, 'validation');
    if (val.numUsers !== numUsers || val.numItems !== numItems) {
      throw new RangeError(
        `validation has ${val.numUsers} users / ${val.numItems} items, pairs have ${numUsers} / ${numItems}`,
      );
    }
  } else if (cfg.validationFraction > 0) {
    const split = holdOutPerUser(pairs, cfg.validationFraction, root.fork('holdout'));
    train = split.train;
    val = split.heldOut;
  }
  if (config.evalExclude !== undefined) {
    const e = config.evalExclude;
    if (e.numUsers !== numUsers || e.numItems !== numItems) {
      throw new RangeError('evalExclude does not match numUsers/numItems of the pairs');
    }
  }
  const P = train.user.length;
  if (P === 0) throw new RangeError('trainMF: no training pairs');

  const model = createMF(numUsers, numItems, {
    dim: cfg.dim,
    initStd: cfg.initStd,
    seed: cfg.seed,
  });
  const known = buildUserItemIndex(train);
  const state = createOptimizerState(model);

  // Fixed validation negatives: one per held-out positive.
  let valNegUser = new Int32Array(0);
  let valNegItem = new Int32Array(0);
  const nVal = val?.user.length ?? 0;
  if (val !== undefined && nVal > 0) {
    const sources: InteractionPairs[] = [train, val];
    const exclude =
      config.evalExclude === undefined
        ? buildUserItemIndex(...sources)
        : mergeIndex(buildUserItemIndex(...sources), config.evalExclude);
    const vr = root.fork('valneg');
    valNegUser = new Int32Array(nVal);
    valNegItem = new Int32Array(nVal);
    let n = 0;
    for (let k = 0; k < nVal; k++) {
      const u = val.user[k]!;
      const j = sampleNegative(exclude, u, vr);
      if (j >= 0) {
        valNegUser[n] = u;
        valNegItem[n++] = j;
      }
    }
    valNegUser = valNegUser.subarray(0, n);
    valNegItem = valNegItem.subarray(0, n);
  }
  const valPosScores = new Float64Array(nVal);
  const valNegScores = new Float64Array(valNegUser.length);
  const evaluate = (): number => {
    if (val === undefined || nVal === 0 || valNegUser.length === 0) return NaN;
    for (let k = 0; k < nVal; k++) valPosScores[k] = mfLogit(model, val.user[k]!, val.item[k]!);
    for (let k = 0; k < valNegUser.length; k++) {
      valNegScores[k] = mfLogit(model, valNegUser[k]!, valNegItem[k]!);
    }
    return mannWhitneyAuc(valPosScores, valNegScores);
  };

  const rng = root.fork('train');
  const perm = new Int32Array(P);
  for (let k = 0; k < P; k++) perm[k] = k;
  const neg = cfg.negatives;
  const negBuf = new Int32Array(cfg.batchSize * neg);
  const tu = train.user;
  const ti = train.item;
  const best = {
    userEmb: model.userEmb.slice(),
    itemEmb: model.itemEmb.slice(),
    userBias: model.userBias.slice(),
    itemBias: model.itemBias.slice(),
    globalBias: model.globalBias.slice(),
  };
  const saveBest = (): void => {
    best.userEmb.set(model.userEmb);
    best.itemEmb.set(model.itemEmb);
    best.userBias.set(model.userBias);
    best.itemBias.set(model.itemBias);
    best.globalBias.set(model.globalBias);
  };
  const history: EpochReport[] = [];
  let bestEpoch = 0;
  let bestAuc = -Infinity;
  let bad = 0;
  for (let epoch = 1; epoch <= cfg.epochs; epoch++) {
    const t0 = performance.now();
    shuffleInPlace(perm, rng);
    let lossSum = 0;
    let samples = 0;
    for (let b0 = 0; b0 < P; b0 += cfg.batchSize) {
      const b1 = Math.min(P, b0 + cfg.batchSize);
      let nSamples = b1 - b0;
      for (let b = b0, o = 0; b < b1; b++) {
        const u = tu[perm[b]!]!;
        for (let t = 0; t < neg; t++, o++) {
          const j = sampleNegative(known, u, rng);
          negBuf[o] = j;
          if (j >= 0) nSamples++;
        }
      }
      const scale = 1 / nSamples;
      for (let b = b0, o = 0; b < b1; b++) {
        const p = perm[b]!;
        const u = tu[p]!;
        lossSum += accumulateSample(state, u, ti[p]!, 1, scale);
        for (let t = 0; t < neg; t++, o++) {
          const j = negBuf[o]!;
          if (j >= 0) lossSum += accumulateSample(state, u, j, 0, scale);
        }
      }
      samples += nSamples;
      addL2Gradient(state, cfg.l2);
      applyAdam(state, cfg.learningRate, cfg.beta1, cfg.beta2, cfg.epsilon);
    }
    const ms = performance.now() - t0;
    const valAuc = evaluate();
    const hasVal = !Number.isNaN(valAuc);
    const isBest = hasVal ? valAuc > bestAuc : true;
    if (isBest) {
      bestAuc = hasVal ? valAuc : NaN;
      bestEpoch = epoch;
      bad = 0;
      if (hasVal) saveBest();
    } else {
      bad++;
    }
    const report: EpochReport = { epoch, loss: lossSum / samples, valAuc, ms, best: isBest };
    history.push(report);
    config.onEpoch?.(report);
    if (hasVal && bad >= cfg.patience) break;
  }
  if (!Number.isNaN(bestAuc)) {
    model.userEmb.set(best.userEmb);
    model.itemEmb.set(best.itemEmb);
    model.userBias.set(best.userBias);
    model.itemBias.set(best.itemBias);
    model.globalBias.set(best.globalBias);
  }
  const bestValAuc = bestAuc === -Infinity ? NaN : bestAuc;
  Object.assign(model.meta, {
    kind: 'mf',
    config: cfg,
    bestEpoch,
    bestValAuc: Number.isNaN(bestValAuc) ? null : bestValAuc,
    epochsRun: history.length,
    trainPairs: P,
    validationPairs: nVal,
  });
  return {
    model,
    history,
    bestEpoch,
    bestValAuc,
    trainPairs: P,
    validationPairs: nVal,
    config: cfg,
  };
}

function mergeIndex(a: UserItemIndex, b: UserItemIndex): UserItemIndex {
  const toPairs = (x: UserItemIndex): InteractionPairs => {
    const user = new Int32Array(x.items.length);
    for (let u = 0; u < x.numUsers; u++) user.fill(u, x.start[u]!, x.start[u + 1]!);
    return { numUsers: x.numUsers, numItems: x.numItems, user, item: x.items };
  };
  return buildUserItemIndex(toPairs(a), toPairs(b));
}

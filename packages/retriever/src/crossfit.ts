import { createRng, Split } from '@dnr/data';
import type { RequestSet } from '@dnr/data';
import { retrieverAuc } from './auc';
import { mfLogit, scoreAllItems, sigmoid } from './mf';
import type { MFModel } from './mf';
import { buildUserItemIndex } from './pairs';
import type { InteractionPairs, UserItemIndex } from './pairs';
import { trainMF } from './train';
import type { EpochReport, MFTrainConfig, MFTrainResult } from './train';

/**
 * Scores candidate lists of requests (the contract `@dnr/data` builds candidate lists with;
 * declared structurally here so the packages stay independent).
 */
export interface CandidateScorer {
  /** requestIds [n], items [n*listSize] list-major -> Float32Array [n*listSize] */
  scoreLists(requestIds: Int32Array, items: Int32Array, listSize: number): Float32Array;
  /** Optional: every item's score for one request -> Float32Array [numItems]. */
  scoreAll?(requestId: number): Float32Array;
}

/**
 * How retriever training data relate to the reranker's training lists (protocol.md §0b.1).
 * - `crossfit`: K fold models, each fitted without one fold of every user's training windows;
 *   a training request is scored by the model that did not see it; plus a full model.
 * - `temporal`: one model fitted on each user's earliest training windows; only the later
 *   training windows remain usable as reranker training lists.
 * - `shared`: one model on all training windows scores everything (leaky; paper comparison only).
 */
export type RetrieverMode = 'crossfit' | 'temporal' | 'shared';

/** Options of {@link fitRetrievers}: the MF hyper-parameters plus the cross-fitting scheme. */
export interface FitRetrieversOptions extends Omit<
  MFTrainConfig,
  'validation' | 'evalExclude' | 'onEpoch' | 'seed'
> {
  /** Default `crossfit`. */
  mode?: RetrieverMode;
  /** Number of folds K for `crossfit` (default 2). */
  folds?: number;
  /**
   * How `crossfit` assigns each user's training windows (in time order) to folds:
   * `alternate` (default) deals them round-robin from a seeded random first fold, so every fold
   * spans the user's whole training period; `blocks` cuts them into K contiguous chunks (sizes
   * differ by at most one), so a window's fold model saw mostly windows far from it in time.
   */
  foldAssignment?: 'alternate' | 'blocks';
  /** Fraction of each user's training windows (floor) fitted on in `temporal` mode (default 0.5). */
  temporalFraction?: number;
  /**
   * Early stopping of every internal model: `validationWindows` (default) uses the positives of
   * the validation windows (split 1; not training data); `holdout` holds out
   * `validationFraction` of each model's own training pairs. `validationWindows` falls back to
   * `holdout` when the request set has no validation positive.
   */
  earlyStopping?: 'validationWindows' | 'holdout';
  /** Seed of fold assignment, every model and the AUC negatives (required). */
  seed: number;
  /** Progress of every internal model (`name` is e.g. `fold0`, `full`, `temporal`, `shared`). */
  onEpoch?: (name: string, report: EpochReport) => void;
}

/** One fitted retriever of a {@link FittedRetrievers}. */
export interface FittedModel {
  /** `fold0`..`fold{K-1}` and `full` (crossfit), `temporal`, or `shared`. */
  name: string;
  model: MFModel;
  /** Requests whose window positives were this model's training pairs (ascending ids). */
  trainingRequests: Int32Array;
  /** Number of training pairs. */
  trainPairs: number;
  bestEpoch: number;
  /** Early-stopping AUC of the kept weights. */
  bestValAuc: number;
  history: EpochReport[];
}

/** Result of {@link fitRetrievers}: the fitted models plus a {@link CandidateScorer}. */
export interface FittedRetrievers extends CandidateScorer {
  scoreAll(requestId: number): Float32Array;
  readonly mode: RetrieverMode;
  readonly models: readonly FittedModel[];
  /** Index into `models` of the model that scores each request [R]. */
  readonly modelOfRequest: Uint8Array;
  /** Fold of each training request in `crossfit` mode, -1 otherwise [R]. */
  readonly foldOfRequest: Int8Array;
  /**
   * 1 when the request may be used as a reranker list [R]: every validation/test request; training
   * requests in `crossfit`/`shared`; only the later (not fitted on) training windows in `temporal`.
   */
  readonly usable: Uint8Array;
  /** The model that scores validation and test requests. */
  readonly evalModel: MFModel;
  /**
   * `retrieverAuc` of `evalModel` on test-window positives vs one sampled negative each (items the
   * user never interacted with anywhere in the request set); NaN when there is no test positive.
   */
  readonly testAuc: number;
  /** The same on validation-window positives. */
  readonly validationAuc: number;
}

/**
 * Positive (user, item) pairs of the windows of the given requests: the interactions
 * `seqItems[seqStart[u] + pos .. + windowSize)` with `seqPositive = 1`.
 * @param requestIds request indices [n]
 */
export function windowPairs(requests: RequestSet, requestIds: ArrayLike<number>): InteractionPairs {
  const { seqStart, seqItems, seqPositive, windowSize } = requests;
  const R = requests.user.length;
  let n = 0;
  for (let k = 0; k < requestIds.length; k++) {
    const r = requestIds[k]!;
    if (!(r >= 0 && r < R)) throw new RangeError(`requestIds[${k}] = ${r} is outside [0, ${R})`);
    const o = seqStart[requests.user[r]!]! + requests.pos[r]!;
    for (let j = 0; j < windowSize; j++) n += seqPositive[o + j]! > 0 ? 1 : 0;
  }
  const user = new Int32Array(n);
  const item = new Int32Array(n);
  n = 0;
  for (let k = 0; k < requestIds.length; k++) {
    const r = requestIds[k]!;
    const u = requests.user[r]!;
    const o = seqStart[u]! + requests.pos[r]!;
    for (let j = 0; j < windowSize; j++) {
      if (seqPositive[o + j]! > 0) {
        user[n] = u;
        item[n++] = seqItems[o + j]!;
      }
    }
  }
  return { numUsers: requests.numUsers, numItems: requests.numItems, user, item };
}

/** Every (user, item) of the users' whole sequences, positive or not, as a {@link UserItemIndex}. */
export function sequenceItemIndex(requests: RequestSet): UserItemIndex {
  const { numUsers, numItems, seqStart, seqItems } = requests;
  const user = new Int32Array(seqItems.length);
  for (let u = 0; u < numUsers; u++) user.fill(u, seqStart[u]!, seqStart[u + 1]!);
  return buildUserItemIndex({ numUsers, numItems, user, item: seqItems });
}

function validateRequests(requests: RequestSet): void {
  const { numUsers, numItems, seqStart, seqItems, seqPositive, windowSize } = requests;
  const R = requests.user.length;
  if (seqStart.length !== numUsers + 1) {
    throw new RangeError(
      `requests.seqStart must have numUsers + 1 = ${numUsers + 1} entries, got ${seqStart.length}`,
    );
  }
  if (seqPositive.length !== seqItems.length) {
    throw new RangeError(
      `requests.seqPositive (${seqPositive.length}) and seqItems (${seqItems.length}) differ in length`,
    );
  }
  for (const [name, arr] of [
    ['pos', requests.pos],
    ['windowIndex', requests.windowIndex],
    ['split', requests.split],
  ] as const) {
    if (arr.length !== R) {
      throw new RangeError(`requests.${name} has ${arr.length} entries, requests.user has ${R}`);
    }
  }
  for (let r = 0; r < R; r++) {
    const u = requests.user[r]!;
    if (u < 0 || u >= numUsers) throw new RangeError(`requests.user[${r}] = ${u} out of range`);
    const p = requests.pos[r]!;
    if (p < 0 || seqStart[u]! + p + windowSize > seqStart[u + 1]!) {
      throw new RangeError(`requests.pos[${r}] = ${p}: window exceeds user ${u}'s sequence`);
    }
    if (requests.split[r]! > 2) {
      throw new RangeError(`requests.split[${r}] = ${requests.split[r]} is not 0, 1 or 2`);
    }
  }
  for (let k = 0; k < seqItems.length; k++) {
    const i = seqItems[k]!;
    if (i < 0 || i >= numItems) throw new RangeError(`requests.seqItems[${k}] = ${i} out of range`);
  }
}

/**
 * Fits the MF retrievers of a request set so that no training list is scored by a model that
 * saw its interactions (protocol.md §0b.1). Retriever training pairs come only from training
 * windows (split 0): the positives inside them. Validation and test windows never reach any
 * model's training pairs (validation positives may drive early stopping, see `earlyStopping`).
 *
 * Fold assignment (`crossfit`, see `foldAssignment`): by default each user's training windows, in
 * time order, alternate over the K folds starting at a seeded random fold per user, so folds are
 * balanced per user and in time.
 *
 * @returns the models, per-request routing and a {@link CandidateScorer} that scores a request
 *   with its routed model (`scoreLists`: items [n*listSize] -> Float32Array [n*listSize]).
 */
export function fitRetrievers(
  requests: RequestSet,
  options: FitRetrieversOptions,
): FittedRetrievers {
  validateRequests(requests);
  const mode = options.mode ?? 'crossfit';
  if (mode !== 'crossfit' && mode !== 'temporal' && mode !== 'shared') {
    throw new RangeError(`mode must be 'crossfit', 'temporal' or 'shared', got ${String(mode)}`);
  }
  const K = options.folds ?? 2;
  if (!Number.isInteger(K) || K < 2 || K > 100) {
    throw new RangeError(`folds must be an integer in [2, 100], got ${K}`);
  }
  const frac = options.temporalFraction ?? 0.5;
  if (!(frac > 0 && frac < 1)) {
    throw new RangeError(`temporalFraction must be in (0, 1), got ${frac}`);
  }
  const assignment = options.foldAssignment ?? 'alternate';
  if (assignment !== 'alternate' && assignment !== 'blocks') {
    throw new RangeError(
      `foldAssignment must be 'alternate' or 'blocks', got ${String(assignment)}`,
    );
  }
  const stopping = options.earlyStopping ?? 'validationWindows';
  if (stopping !== 'validationWindows' && stopping !== 'holdout') {
    throw new RangeError(`earlyStopping must be 'validationWindows' or 'holdout', got ${stopping}`);
  }
  const root = createRng(options.seed);
  const R = requests.user.length;
  const U = requests.numUsers;

  // Training requests per user, in time order (by windowIndex, then pos).
  const ustart = new Int32Array(U + 1);
  for (let r = 0; r < R; r++)
    if (requests.split[r] === Split.train) ustart[requests.user[r]! + 1]!++;
  for (let u = 0; u < U; u++) ustart[u + 1]! += ustart[u]!;
  const fill = ustart.slice(0, U);
  const byUser = new Int32Array(ustart[U]!);
  for (let r = 0; r < R; r++) {
    if (requests.split[r] === Split.train) byUser[fill[requests.user[r]!]!++] = r;
  }
  const cmp = (a: number, b: number): number =>
    requests.windowIndex[a]! - requests.windowIndex[b]! || requests.pos[a]! - requests.pos[b]!;
  for (let u = 0; u < U; u++) byUser.subarray(ustart[u]!, ustart[u + 1]!).sort(cmp);

  const foldOfRequest = new Int8Array(R).fill(-1);
  const usable = new Uint8Array(R).fill(1);
  const modelOfRequest = new Uint8Array(R);
  const plans: { name: string; requests: number[] }[] = [];
  if (mode === 'crossfit') {
    const foldRng = root.fork('folds');
    for (let k = 0; k <= K; k++) plans.push({ name: k < K ? `fold${k}` : 'full', requests: [] });
    for (let u = 0; u < U; u++) {
      const offset = foldRng.int(K);
      const n = ustart[u + 1]! - ustart[u]!;
      for (let t = ustart[u]!, rank = 0; t < ustart[u + 1]!; t++, rank++) {
        const r = byUser[t]!;
        const f = assignment === 'alternate' ? (rank + offset) % K : Math.floor((rank * K) / n);
        foldOfRequest[r] = f;
        modelOfRequest[r] = f;
        for (let k = 0; k < K; k++) if (k !== f) plans[k]!.requests.push(r);
        plans[K]!.requests.push(r);
      }
    }
    for (let r = 0; r < R; r++) if (requests.split[r] !== Split.train) modelOfRequest[r] = K;
  } else if (mode === 'temporal') {
    plans.push({ name: 'temporal', requests: [] });
    for (let u = 0; u < U; u++) {
      const n = ustart[u + 1]! - ustart[u]!;
      const early = Math.floor(n * frac);
      for (let t = 0; t < early; t++) {
        const r = byUser[ustart[u]! + t]!;
        plans[0]!.requests.push(r);
        usable[r] = 0;
      }
    }
  } else {
    plans.push({ name: 'shared', requests: Array.from(byUser) });
  }

  const allItems = sequenceItemIndex(requests);
  const valIds: number[] = [];
  const testIds: number[] = [];
  for (let r = 0; r < R; r++) {
    if (requests.split[r] === Split.validation) valIds.push(r);
    else if (requests.split[r] === Split.test) testIds.push(r);
  }
  const valPairs = windowPairs(requests, valIds);
  const useValWindows = stopping === 'validationWindows' && valPairs.user.length > 0;
  const {
    mode: _m,
    folds: _f,
    foldAssignment: _a,
    temporalFraction: _t,
    earlyStopping: _e,
    onEpoch,
    ...mf
  } = options;

  const models: FittedModel[] = plans.map((plan) => {
    const ids = Int32Array.from(plan.requests).sort();
    const pairs = windowPairs(requests, ids);
    if (pairs.user.length === 0) {
      throw new RangeError(
        `fitRetrievers: model '${plan.name}' has no training positive (too few training windows?)`,
      );
    }
    const seed = root.fork(`model-${plan.name}`).int(0x7fffffff) + 1;
    const cfg: MFTrainConfig = {
      ...mf,
      seed,
      evalExclude: allItems,
      ...(useValWindows ? { validation: valPairs } : {}),
      ...(onEpoch ? { onEpoch: (rep: EpochReport) => onEpoch(plan.name, rep) } : {}),
    };
    const res: MFTrainResult = trainMF(pairs, cfg);
    res.model.meta.retriever = {
      name: plan.name,
      mode,
      earlyStopping: useValWindows ? 'validationWindows' : 'holdout',
    };
    return {
      name: plan.name,
      model: res.model,
      trainingRequests: ids,
      trainPairs: res.trainPairs,
      bestEpoch: res.bestEpoch,
      bestValAuc: res.bestValAuc,
      history: res.history,
    };
  });
  const evalModel = models[models.length - 1]!.model;
  const aucRng = root.fork('auc');
  const testPairs = windowPairs(requests, testIds);
  const testSeed = aucRng.int(0x7fffffff) + 1;
  const valSeed = aucRng.int(0x7fffffff) + 1;
  const testAuc =
    testPairs.user.length > 0
      ? retrieverAuc(evalModel, testPairs, { seed: testSeed, exclude: allItems })
      : NaN;
  const validationAuc =
    valPairs.user.length > 0
      ? retrieverAuc(evalModel, valPairs, { seed: valSeed, exclude: allItems })
      : NaN;

  const numItems = requests.numItems;
  return {
    mode,
    models,
    modelOfRequest,
    foldOfRequest,
    usable,
    evalModel,
    testAuc,
    validationAuc,
    scoreLists(requestIds: Int32Array, items: Int32Array, listSize: number): Float32Array {
      if (!Number.isInteger(listSize) || listSize < 1) {
        throw new RangeError(`listSize must be an integer >= 1, got ${listSize}`);
      }
      if (items.length !== requestIds.length * listSize) {
        throw new RangeError(
          `items has ${items.length} entries, expected requestIds.length * listSize = ` +
            `${requestIds.length * listSize}`,
        );
      }
      const out = new Float32Array(items.length);
      for (let n = 0; n < requestIds.length; n++) {
        const r = requestIds[n]!;
        if (!(r >= 0 && r < R))
          throw new RangeError(`requestIds[${n}] = ${r} is outside [0, ${R})`);
        const m = models[modelOfRequest[r]!]!.model;
        const u = requests.user[r]!;
        for (let j = n * listSize; j < (n + 1) * listSize; j++) {
          const i = items[j]!;
          if (!(i >= 0 && i < numItems)) {
            throw new RangeError(`items[${j}] = ${i} is outside [0, ${numItems})`);
          }
          out[j] = sigmoid(mfLogit(m, u, i));
        }
      }
      return out;
    },
    scoreAll(requestId: number): Float32Array {
      if (!(requestId >= 0 && requestId < R)) {
        throw new RangeError(`requestId ${requestId} is outside [0, ${R})`);
      }
      return scoreAllItems(models[modelOfRequest[requestId]!]!.model, requests.user[requestId]!);
    },
  };
}

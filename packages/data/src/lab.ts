/**
 * The synthetic "lab" dataset: a small world with a known click model and a retriever whose noise
 * is known and controllable, so denoising methods can be tested against ground truth.
 *
 * Why it looks like this (protocol.md §0b.7): in a world where a reranker can learn only from item
 * ids, every reranker copies the retriever's order and no score augmentation can help. So the lab
 * gives the reranker signal beyond the retriever (side features that are noisy views of the true
 * user/item factors, histories of clicked items, ~hundreds of appearances per item), and lets the
 * retriever's noise level differ between training lists and validation/test lists (a retriever that
 * has seen the training interactions is more accurate on them). It also returns `trueProbs` for
 * oracle rows and {@link sampleLabScores} for an "ideal augmentation" drawn from the true noise
 * model.
 *
 * Generative model (all draws from `createRng(config.seed)` sub-streams):
 * - factors `u_f ~ N(0, I_d)` per user, `i_f ~ N(0, I_d)` per item, item bias `b_i ~ N(0, itemBiasStd²)`;
 * - `p(click | u, i) = sigmoid(affinityScale * <u_f, i_f> / sqrt(d) + b_i + c)`, with `c` solved by
 *   bisection so the mean of p over all (user, item) pairs equals `clickRate`;
 * - side features: `userFeatures[u] = A u_f / sqrt(d) + featureNoise * z`,
 *   `itemFeatures[i] = B [i_f; b_i / itemBiasStd] / sqrt(d + 1) + featureNoise * z`, with `A`, `B`
 *   random Gaussian maps, so each feature has unit signal variance and `featureNoise` is the
 *   noise-to-signal standard deviation ratio; the padding item's row is zeros;
 * - each list: a user (users cycle through a shuffled order within each split, so every user gets
 *   about the same number of lists per split), `listSize` distinct candidates uniform over the
 *   catalog, labels `y ~ Bernoulli(p)`; a list with fewer than `minPositives` positives is redrawn
 *   (new candidates and labels; up to `maxResample` times, then an error) — so lists are
 *   conditioned on having a positive, as real lists are after dropping windows without positives;
 * - history: `historyCount ~ U{minHistoryLength..historyLength}` distinct items the user clicked
 *   (rejection sampling from the click model), most recent last, left-padded with `numItems`;
 * - retriever score `x = sigmoid(logit(p) + sigma * eps)`, `sigma = retrieverNoise.train` on training
 *   lists and `retrieverNoise.eval` on validation/test lists, `eps` shaped by
 *   `retrieverNoise.shape`; each list is sorted by `x` descending (ties keep the random draw order).
 */
import { createRng } from './rng';
import type { Rng } from './rng';
import type { RerankDataset } from './types';

/** Shape of the retriever's logit noise `eps` in the lab. */
export type LabNoiseShape = 'gaussian' | 'student-t' | 'label-dependent';

/**
 * Retriever noise: `x = sigmoid(logit(p) + std * eps)`.
 * - `'gaussian'`: `eps ~ N(0, 1)`.
 * - `'student-t'`: heavy-tailed `eps ~ t(df) * sqrt((df - 2) / df)` (unit variance; for `df <= 2`,
 *   where the variance is infinite, the raw t is used).
 * - `'label-dependent'`: `eps ~ N(0, 1)` for negatives and
 *   `eps ~ positiveShift + positiveScale * N(0, 1)` for positives (the retriever's error depends on
 *   the feedback, i.e. a posterior p(x | y) that differs by class).
 */
export interface LabNoiseSpec {
  /** Noise standard deviation (in logit units) for the lists being scored. */
  readonly std: number;
  readonly shape?: LabNoiseShape;
  /** Degrees of freedom for `'student-t'` (default 3). */
  readonly df?: number;
  /** Mean of positives' eps for `'label-dependent'` (default -0.5: clicked items under-scored). */
  readonly positiveShift?: number;
  /** Scale of positives' eps for `'label-dependent'` (default 1.5). */
  readonly positiveScale?: number;
}

/** Retriever noise of the lab: one level for training lists, one for validation and test. */
export interface LabRetrieverNoise {
  /** Logit-noise std on training lists (default 0.75: the retriever has seen these users' data). */
  readonly train?: number;
  /** Logit-noise std on validation and test lists (default 1.5). */
  readonly eval?: number;
  /** Noise shape (default `'gaussian'`). */
  readonly shape?: LabNoiseShape;
  /** See {@link LabNoiseSpec}. */
  readonly df?: number;
  readonly positiveShift?: number;
  readonly positiveScale?: number;
}

/** Configuration of {@link generateLabDataset}; every field except `seed` has a default. */
export interface LabConfig {
  /** Seed of every random draw (required). */
  readonly seed: number | string;
  /** Users (default 300). */
  readonly numUsers?: number;
  /** Items (default 400; with 4000 training lists of 50, each item appears ~500 times in training). */
  readonly numItems?: number;
  /** Latent factor dimension d (default 8). */
  readonly factorDim?: number;
  /** Training lists (default 4000). */
  readonly trainLists?: number;
  /** Validation lists (default 500). */
  readonly validationLists?: number;
  /** Test lists (default 500). */
  readonly testLists?: number;
  /** Candidates per list (default 50, as in the paper). */
  readonly listSize?: number;
  /** Padded history length H (default 20). */
  readonly historyLength?: number;
  /** Shortest history (default min(5, historyLength)); counts are uniform in [minHistoryLength, historyLength]. */
  readonly minHistoryLength?: number;
  /** Target mean click probability over all (user, item) pairs (default 0.15). */
  readonly clickRate?: number;
  /** Weight a of the normalized affinity `<u_f, i_f> / sqrt(d)` in the click logit (default 2). */
  readonly affinityScale?: number;
  /** Std of the item bias b_i (default 0.5). */
  readonly itemBiasStd?: number;
  /** User side-feature dimension (default 16). */
  readonly userFeatureDim?: number;
  /** Item side-feature dimension (default 16). */
  readonly itemFeatureDim?: number;
  /** Feature noise std relative to unit signal std (default 0.25; 0 = exact linear views). */
  readonly featureNoise?: number;
  /** Retriever noise (defaults: train 0.75, eval 1.5, gaussian). */
  readonly retrieverNoise?: LabRetrieverNoise;
  /** Minimum positives per list (default 1); lists with fewer are redrawn. */
  readonly minPositives?: number;
  /** Redraws allowed per list before giving up with an error (default 1000). */
  readonly maxResample?: number;
}

/** The fully resolved configuration (recorded in `meta.config`). */
export type ResolvedLabConfig = Required<Omit<LabConfig, 'retrieverNoise'>> & {
  readonly retrieverNoise: Required<LabRetrieverNoise>;
};

/** Ground truth of the lab world (for oracle rows, ideal augmentation and diagnostics). */
export interface LabTruth {
  readonly factorDim: number;
  /** User factors [numUsers * d]. */
  readonly userFactors: Float32Array;
  /** Item factors [numItems * d]. */
  readonly itemFactors: Float32Array;
  /** Item biases b_i [numItems]. */
  readonly itemBias: Float32Array;
  /** a in the click logit. */
  readonly affinityScale: number;
  /** c in the click logit (solved to hit `clickRate`). */
  readonly clickBias: number;
}

/** A lab dataset: the RerankDataset contract with truth, features and the resolved config. */
export interface LabDataset extends RerankDataset {
  /** True click probabilities [n * listSize], aligned with `items`. */
  readonly trueProbs: Float32Array;
  /** [numUsers * userFeatureDim]. */
  readonly userFeatures: Float32Array;
  readonly userFeatureDim: number;
  /** [(numItems + 1) * itemFeatureDim], padding row of zeros last. */
  readonly itemFeatures: Float32Array;
  readonly itemFeatureDim: number;
  readonly truth: LabTruth;
  readonly config: ResolvedLabConfig;
}

/** The defaults of {@link LabConfig} (seed excluded). */
export const LAB_DEFAULTS: Readonly<Omit<ResolvedLabConfig, 'seed'>> = Object.freeze({
  numUsers: 300,
  numItems: 400,
  factorDim: 8,
  trainLists: 4000,
  validationLists: 500,
  testLists: 500,
  listSize: 50,
  historyLength: 20,
  minHistoryLength: 5,
  clickRate: 0.15,
  affinityScale: 2,
  itemBiasStd: 0.5,
  userFeatureDim: 16,
  itemFeatureDim: 16,
  featureNoise: 0.25,
  retrieverNoise: Object.freeze({
    train: 0.75,
    eval: 1.5,
    shape: 'gaussian' as LabNoiseShape,
    df: 3,
    positiveShift: -0.5,
    positiveScale: 1.5,
  }),
  minPositives: 1,
  maxResample: 1000,
});

function resolveConfig(config: LabConfig): ResolvedLabConfig {
  const d = LAB_DEFAULTS;
  if (config.seed === undefined)
    throw new RangeError('generateLabDataset: config.seed is required');
  const rn: Required<LabRetrieverNoise> = { ...d.retrieverNoise, ...config.retrieverNoise };
  const c: ResolvedLabConfig = {
    ...d,
    ...Object.fromEntries(Object.entries(config).filter(([, v]) => v !== undefined)),
    seed: config.seed,
    retrieverNoise: rn,
  } as ResolvedLabConfig;
  if (config.minHistoryLength === undefined) {
    (c as { minHistoryLength: number }).minHistoryLength = Math.min(
      d.minHistoryLength,
      c.historyLength,
    );
  }
  const posInt = (name: keyof ResolvedLabConfig, min = 1): void => {
    const v = c[name] as number;
    if (!Number.isInteger(v) || v < min) {
      throw new RangeError(`LabConfig.${name} must be an integer >= ${min}, got ${String(v)}`);
    }
  };
  posInt('numUsers');
  posInt('numItems');
  posInt('factorDim');
  posInt('trainLists', 0);
  posInt('validationLists', 0);
  posInt('testLists', 0);
  posInt('listSize');
  posInt('historyLength', 0);
  posInt('minHistoryLength', 0);
  posInt('userFeatureDim');
  posInt('itemFeatureDim');
  posInt('minPositives', 0);
  posInt('maxResample', 1);
  if (c.listSize > c.numItems) {
    throw new RangeError(`LabConfig.listSize ${c.listSize} exceeds numItems ${c.numItems}`);
  }
  if (c.minPositives > c.listSize) {
    throw new RangeError(`LabConfig.minPositives ${c.minPositives} exceeds listSize ${c.listSize}`);
  }
  if (c.minHistoryLength > c.historyLength) {
    throw new RangeError(
      `LabConfig.minHistoryLength ${c.minHistoryLength} exceeds historyLength ${c.historyLength}`,
    );
  }
  if (!(c.clickRate > 0 && c.clickRate < 1)) {
    throw new RangeError(`LabConfig.clickRate must be in (0, 1), got ${c.clickRate}`);
  }
  const nonNeg = (name: string, v: number): void => {
    if (!(Number.isFinite(v) && v >= 0)) {
      throw new RangeError(`LabConfig.${name} must be a finite number >= 0, got ${v}`);
    }
  };
  nonNeg('affinityScale', c.affinityScale);
  nonNeg('itemBiasStd', c.itemBiasStd);
  nonNeg('featureNoise', c.featureNoise);
  nonNeg('retrieverNoise.train', rn.train);
  nonNeg('retrieverNoise.eval', rn.eval);
  checkNoise({ std: rn.train, ...rn }, 'LabConfig.retrieverNoise');
  return c;
}

function checkNoise(spec: LabNoiseSpec, where: string): void {
  const shape = spec.shape ?? 'gaussian';
  if (shape !== 'gaussian' && shape !== 'student-t' && shape !== 'label-dependent') {
    throw new RangeError(
      `${where}.shape must be gaussian, student-t or label-dependent, got ${String(shape)}`,
    );
  }
  if (!(Number.isFinite(spec.std) && spec.std >= 0)) {
    throw new RangeError(`${where}.std must be a finite number >= 0, got ${spec.std}`);
  }
  if (spec.df !== undefined && !(Number.isFinite(spec.df) && spec.df > 0)) {
    throw new RangeError(`${where}.df must be > 0, got ${spec.df}`);
  }
  for (const k of ['positiveShift', 'positiveScale'] as const) {
    const v = spec[k];
    if (v !== undefined && !Number.isFinite(v)) {
      throw new RangeError(`${where}.${k} must be finite, got ${v}`);
    }
  }
}

const sigmoid = (z: number): number => 1 / (1 + Math.exp(-z));

/** Gamma(shape, 1) by Marsaglia-Tsang (shape < 1 via the u^(1/shape) boost). */
function gamma(shape: number, rng: Rng): number {
  if (shape < 1) {
    const u = rng.next();
    return gamma(shape + 1, rng) * Math.pow(u === 0 ? Number.MIN_VALUE : u, 1 / shape);
  }
  const d = shape - 1 / 3;
  const c = 1 / Math.sqrt(9 * d);
  for (;;) {
    const x = rng.normal();
    const t = 1 + c * x;
    if (t <= 0) continue;
    const v = t * t * t;
    const u = rng.next();
    if (u < 1 - 0.0331 * x * x * x * x) return d * v;
    if (Math.log(u) < 0.5 * x * x + d * (1 - v + Math.log(v))) return d * v;
  }
}

/**
 * Draws retriever scores from the lab's noise model: `x = sigmoid(logit(p) + std * eps)` with `eps`
 * shaped by `spec` (see {@link LabNoiseSpec}); `p` is clamped to [1e-7, 1 - 1e-7] before the logit.
 * The lab generator uses this very function, so calling it on a training list's `trueProbs` and
 * `labels` gives an "ideal augmentation" (x̂ from the true noise distribution).
 *
 * @param trueProbs Float32Array [m] of click probabilities.
 * @param labels Uint8Array [m] of 0/1 labels (used by `'label-dependent'` only).
 * @param out optional Float32Array [m] to write into (returned).
 * @returns Float32Array [m] of scores in (0, 1).
 */
export function sampleLabScores(
  trueProbs: Float32Array,
  labels: Uint8Array,
  spec: LabNoiseSpec,
  rng: Rng,
  out: Float32Array = new Float32Array(trueProbs.length),
): Float32Array {
  checkNoise(spec, 'sampleLabScores: spec');
  if (labels.length !== trueProbs.length) {
    throw new RangeError(
      `sampleLabScores: labels length ${labels.length} != trueProbs length ${trueProbs.length}`,
    );
  }
  const shape = spec.shape ?? 'gaussian';
  const df = spec.df ?? 3;
  const tScale = df > 2 ? Math.sqrt((df - 2) / df) : 1;
  const shift = spec.positiveShift ?? -0.5;
  const scale = spec.positiveScale ?? 1.5;
  if (out.length !== trueProbs.length) {
    throw new RangeError(
      `sampleLabScores: out length ${out.length} != trueProbs length ${trueProbs.length}`,
    );
  }
  for (let k = 0; k < trueProbs.length; k++) {
    const p = Math.min(1 - 1e-7, Math.max(1e-7, trueProbs[k]!));
    let eps: number;
    if (shape === 'gaussian') {
      eps = rng.normal();
    } else if (shape === 'student-t') {
      eps = (rng.normal() / Math.sqrt((2 * gamma(df / 2, rng)) / df)) * tScale;
    } else {
      const z = rng.normal();
      eps = labels[k] ? shift + scale * z : z;
    }
    out[k] = sigmoid(Math.log(p / (1 - p)) + spec.std * eps);
  }
  return out;
}

/** Scratch arrays of one candidate list: its candidates, labels, probabilities and fresh scores. */
interface ListScratch {
  readonly items: Int32Array;
  readonly labels: Uint8Array;
  readonly probs: Float32Array;
  readonly scores: Float32Array;
  readonly perm: Int32Array;
}

function listScratch(L: number): ListScratch {
  return {
    items: new Int32Array(L),
    labels: new Uint8Array(L),
    probs: new Float32Array(L),
    scores: new Float32Array(L),
    perm: new Int32Array(L),
  };
}

/**
 * Writes the scratch list into row `off` of the dataset arrays ordered by score, descending (ties
 * keep the scratch order).
 */
function writeSortedList(
  t: ListScratch,
  off: number,
  out: { items: Int32Array; labels: Uint8Array; trueProbs: Float32Array; scores: Float32Array },
): void {
  const L = t.perm.length;
  for (let g = 0; g < L; g++) t.perm[g] = g;
  t.perm.sort((a, b) => t.scores[b]! - t.scores[a]! || a - b);
  for (let g = 0; g < L; g++) {
    const q = t.perm[g]!;
    out.items[off + g] = t.items[q]!;
    out.labels[off + g] = t.labels[q]!;
    out.trueProbs[off + g] = t.probs[q]!;
    out.scores[off + g] = t.scores[q]!;
  }
}

/**
 * Generates the lab dataset (see the module documentation for the model and
 * `packages/data/docs-lab.md` for the parameters and why they are set so). Lists are laid out train,
 * then validation, then test. Deterministic for a given config (including `seed`). With the
 * defaults: 5000 lists x 50 candidates, ~15 % clicked, generated in well under a second.
 *
 * @returns a {@link LabDataset}: RerankDataset arrays (items/scores/labels/trueProbs [n * listSize],
 *   history [n * historyLength], user/historyCount/split [n]), side features, truth and the resolved
 *   config. `meta` holds `{ source: 'lab', config, clickBias, clickRate: {train, validation, test},
 *   resampledLists }`.
 */
export function generateLabDataset(config: LabConfig): LabDataset {
  const cfg = resolveConfig(config);
  const { numUsers: U, numItems: I, factorDim: d, listSize: L, historyLength: H } = cfg;
  const root = createRng(cfg.seed);

  // 1. Latent factors and item biases.
  const frng = root.fork('factors');
  const userFactors = new Float32Array(U * d);
  const itemFactors = new Float32Array(I * d);
  const biasZ = new Float64Array(I);
  const itemBias = new Float32Array(I);
  for (let k = 0; k < userFactors.length; k++) userFactors[k] = frng.normal();
  for (let k = 0; k < itemFactors.length; k++) itemFactors[k] = frng.normal();
  for (let i = 0; i < I; i++) {
    biasZ[i] = frng.normal();
    itemBias[i] = cfg.itemBiasStd * biasZ[i]!;
  }
  const aScaled = cfg.affinityScale / Math.sqrt(d);
  const rawLogit = (u: number, i: number): number => {
    let s = 0;
    const uo = u * d;
    const io = i * d;
    for (let k = 0; k < d; k++) s += userFactors[uo + k]! * itemFactors[io + k]!;
    return aScaled * s + itemBias[i]!;
  };

  // 2. Solve c so that mean p over (user, item) pairs = clickRate (all pairs, or 200k sampled).
  const maxPairs = 200_000;
  const pairs = Math.min(U * I, maxPairs);
  const base = new Float64Array(pairs);
  if (U * I <= maxPairs) {
    for (let u = 0, k = 0; u < U; u++) for (let i = 0; i < I; i++) base[k++] = rawLogit(u, i);
  } else {
    const crng = root.fork('calibration');
    for (let k = 0; k < pairs; k++) base[k] = rawLogit(crng.int(U), crng.int(I));
  }
  // Safeguarded Newton on f(c) = mean sigmoid(base + c) - clickRate (f is increasing in c).
  let lo = -40;
  let hi = 40;
  let mean = 0;
  for (let k = 0; k < pairs; k++) mean += base[k]!;
  let clickBias = Math.log(cfg.clickRate / (1 - cfg.clickRate)) - mean / pairs;
  for (let iter = 0; iter < 100; iter++) {
    let f = 0;
    let df = 0;
    for (let k = 0; k < pairs; k++) {
      const p = sigmoid(base[k]! + clickBias);
      f += p;
      df += p * (1 - p);
    }
    f = f / pairs - cfg.clickRate;
    df /= pairs;
    if (Math.abs(f) < 1e-9) break;
    if (f < 0) lo = clickBias;
    else hi = clickBias;
    const next = df > 0 ? clickBias - f / df : Number.NaN;
    clickBias = next > lo && next < hi ? next : (lo + hi) / 2;
  }
  const cBias = clickBias;
  // Click probabilities of every (user, item) pair when that fits in 16 MB, else computed on demand.
  const pm = U * I <= 4_000_000 ? new Float32Array(U * I) : undefined;
  if (pm)
    for (let u = 0, k = 0; u < U; u++)
      for (let i = 0; i < I; i++, k++) pm[k] = sigmoid(rawLogit(u, i) + cBias);
  const probOf = (u: number, i: number): number =>
    pm ? pm[u * I + i]! : sigmoid(rawLogit(u, i) + cBias);

  // 3. Side features: random linear views of the truth plus noise.
  const grng = root.fork('features');
  const Du = cfg.userFeatureDim;
  const Di = cfg.itemFeatureDim;
  const A = new Float64Array(Du * d);
  const B = new Float64Array(Di * (d + 1));
  for (let k = 0; k < A.length; k++) A[k] = grng.normal();
  for (let k = 0; k < B.length; k++) B[k] = grng.normal();
  const userFeatures = new Float32Array(U * Du);
  const itemFeatures = new Float32Array((I + 1) * Di);
  const su = 1 / Math.sqrt(d);
  const si = 1 / Math.sqrt(d + 1);
  for (let u = 0; u < U; u++) {
    for (let j = 0; j < Du; j++) {
      let s = 0;
      for (let k = 0; k < d; k++) s += A[j * d + k]! * userFactors[u * d + k]!;
      userFeatures[u * Du + j] = s * su + cfg.featureNoise * grng.normal();
    }
  }
  for (let i = 0; i < I; i++) {
    for (let j = 0; j < Di; j++) {
      let s = 0;
      for (let k = 0; k < d; k++) s += B[j * (d + 1) + k]! * itemFactors[i * d + k]!;
      s += B[j * (d + 1) + d]! * biasZ[i]!;
      itemFeatures[i * Di + j] = s * si + cfg.featureNoise * grng.normal();
    }
  }

  // 4. Lists.
  const counts = [cfg.trainLists, cfg.validationLists, cfg.testLists] as const;
  const n = counts[0] + counts[1] + counts[2];
  const user = new Int32Array(n);
  const split = new Uint8Array(n);
  const items = new Int32Array(n * L);
  const labels = new Uint8Array(n * L);
  const trueProbs = new Float32Array(n * L);
  const scores = new Float32Array(n * L);
  const history = new Int32Array(n * H).fill(I);
  const historyCount = new Int32Array(n);
  const lrng = root.fork('lists');
  const hrng = root.fork('histories');
  const srng = root.fork('retriever');
  const catalog = new Int32Array(I);
  for (let i = 0; i < I; i++) catalog[i] = i;
  const hseen = new Int32Array(I);
  const userOrder = new Int32Array(U);
  const t = listScratch(L);
  const tmpItems = t.items;
  const tmpLabels = t.labels;
  const tmpProbs = t.probs;
  const rawScore = t.scores;
  let resampled = 0;
  const positivesPerSplit = [0, 0, 0];
  let row = 0;
  for (let s = 0; s < 3; s++) {
    for (let u = 0; u < U; u++) userOrder[u] = u;
    for (let u = U - 1; u > 0; u--) {
      const j = lrng.int(u + 1);
      const t = userOrder[u]!;
      userOrder[u] = userOrder[j]!;
      userOrder[j] = t;
    }
    const noise: LabNoiseSpec = {
      std: s === 0 ? cfg.retrieverNoise.train : cfg.retrieverNoise.eval,
      shape: cfg.retrieverNoise.shape,
      df: cfg.retrieverNoise.df,
      positiveShift: cfg.retrieverNoise.positiveShift,
      positiveScale: cfg.retrieverNoise.positiveScale,
    };
    for (let j = 0; j < counts[s]!; j++, row++) {
      const u = userOrder[j % U]!;
      user[row] = u;
      split[row] = s;
      const off = row * L;
      // Candidates and labels (redrawn until minPositives).
      let tries = 0;
      for (;;) {
        let pos = 0;
        for (let g = 0; g < L; g++) {
          const k = g + lrng.int(I - g);
          const it = catalog[k]!;
          catalog[k] = catalog[g]!;
          catalog[g] = it;
          const p = probOf(u, it);
          const y = lrng.next() < p ? 1 : 0;
          tmpItems[g] = it;
          tmpProbs[g] = p;
          tmpLabels[g] = y;
          pos += y;
        }
        if (pos >= cfg.minPositives) {
          positivesPerSplit[s]! += pos;
          break;
        }
        if (++tries > cfg.maxResample) {
          throw new RangeError(
            `generateLabDataset: list ${row} (user ${u}) had < ${cfg.minPositives} positives after ` +
              `${cfg.maxResample} redraws; raise clickRate or lower minPositives`,
          );
        }
        resampled++;
      }
      // Retriever scores from the true noise model, then order by score.
      sampleLabScores(tmpProbs, tmpLabels, noise, srng, rawScore);
      writeSortedList(t, off, { items, labels, trueProbs, scores });
      // History: distinct clicked items of u, by rejection from the click model.
      const want = cfg.minHistoryLength + hrng.int(H - cfg.minHistoryLength + 1);
      const mark = row + 1;
      let c = 0;
      const maxTries = 100 * I;
      const hoff = row * H;
      for (let t = 0; c < want && t < maxTries; t++) {
        const it = hrng.int(I);
        if (hseen[it] === mark) continue;
        if (hrng.next() < probOf(u, it)) {
          hseen[it] = mark;
          history[hoff + H - want + c] = it;
          c++;
        }
      }
      if (c < want) {
        // Very unlikely (user with near-zero click probabilities): shift the real items right.
        history.copyWithin(hoff + H - c, hoff + H - want, hoff + H - want + c);
        history.fill(I, hoff, hoff + H - c);
      }
      historyCount[row] = c;
    }
  }

  const rate = (s: number): number => (counts[s]! ? positivesPerSplit[s]! / (counts[s]! * L) : 0);
  return {
    numUsers: U,
    numItems: I,
    listSize: L,
    historyLength: H,
    user,
    history,
    historyCount,
    items,
    scores,
    labels,
    split,
    trueProbs,
    userFeatures,
    userFeatureDim: Du,
    itemFeatures,
    itemFeatureDim: Di,
    truth: {
      factorDim: d,
      userFactors,
      itemFactors,
      itemBias,
      affinityScale: cfg.affinityScale,
      clickBias,
    },
    config: cfg,
    meta: {
      source: 'lab',
      config: { ...cfg, retrieverNoise: { ...cfg.retrieverNoise } },
      clickBias,
      clickRate: { train: rate(0), validation: rate(1), test: rate(2) },
      resampledLists: resampled,
    },
  };
}

/**
 * The "ideal augmentation" reference of protocol 0b.7: appends `copies` synthetic copies of every
 * training list whose retriever scores are redrawn from the lab's true noise model at the
 * validation/test noise level (`retrieverNoise.eval`, the noise the reranker meets at test time),
 * each copy re-sorted by its new scores. Training a score-reading reranker on the result is what
 * any score augmentation (DNR included) can at best approximate: if it does not beat plain
 * training, no learned generator can. Validation and test lists are untouched; lists keep the
 * train, validation, test layout. Deterministic for a given `seed`.
 *
 * @param ds a lab dataset from {@link generateLabDataset}.
 * @param copies synthetic copies per training list (an integer >= 0; 0 returns `ds`).
 * @param seed seed of the redrawn noise.
 * @returns a new lab dataset with `(1 + copies)` times the training lists; `meta.idealAugmentation`
 *   records `{ copies, seed, std }`.
 */
export function idealAugmentLab(ds: LabDataset, copies: number, seed: number): LabDataset {
  if (!Number.isInteger(copies) || copies < 0) {
    throw new RangeError(`idealAugmentLab: copies must be an integer >= 0, got ${copies}`);
  }
  if (copies === 0) return ds;
  const { listSize: L, historyLength: H } = ds;
  const n = ds.split.length;
  const trainRows: number[] = [];
  for (let r = 0; r < n; r++) if (ds.split[r] === 0) trainRows.push(r);
  const firstEval = n === 0 ? 0 : ds.split.findIndex((s) => s !== 0);
  if (firstEval !== -1 && trainRows.some((r) => r > firstEval)) {
    throw new RangeError(
      'idealAugmentLab: training lists must come first (train, validation, test)',
    );
  }
  const extra = trainRows.length * copies;
  const m = n + extra;
  const user = new Int32Array(m);
  const split = new Uint8Array(m);
  const historyCount = new Int32Array(m);
  const history = new Int32Array(m * H);
  const items = new Int32Array(m * L);
  const labels = new Uint8Array(m * L);
  const trueProbs = new Float32Array(m * L);
  const scores = new Float32Array(m * L);
  const copyRow = (from: number, to: number): void => {
    user[to] = ds.user[from]!;
    split[to] = ds.split[from]!;
    historyCount[to] = ds.historyCount[from]!;
    history.set(ds.history.subarray(from * H, from * H + H), to * H);
    items.set(ds.items.subarray(from * L, from * L + L), to * L);
    labels.set(ds.labels.subarray(from * L, from * L + L), to * L);
    trueProbs.set(ds.trueProbs.subarray(from * L, from * L + L), to * L);
    scores.set(ds.scores.subarray(from * L, from * L + L), to * L);
  };
  const nTrain = trainRows.length;
  for (let r = 0; r < nTrain; r++) copyRow(r, r);
  const rn = ds.config.retrieverNoise;
  const spec: LabNoiseSpec = {
    std: rn.eval,
    shape: rn.shape,
    df: rn.df,
    positiveShift: rn.positiveShift,
    positiveScale: rn.positiveScale,
  };
  const rng = createRng(seed).fork('ideal-augmentation');
  const t = listScratch(L);
  let row = nTrain;
  for (let c = 0; c < copies; c++) {
    for (let r = 0; r < nTrain; r++, row++) {
      copyRow(r, row);
      const off = row * L;
      t.items.set(items.subarray(off, off + L));
      t.labels.set(labels.subarray(off, off + L));
      t.probs.set(trueProbs.subarray(off, off + L));
      sampleLabScores(t.probs, t.labels, spec, rng, t.scores);
      writeSortedList(t, off, { items, labels, trueProbs, scores });
    }
  }
  for (let r = nTrain; r < n; r++) copyRow(r, r + extra);
  return {
    ...ds,
    user,
    split,
    historyCount,
    history,
    items,
    labels,
    trueProbs,
    scores,
    meta: { ...ds.meta, idealAugmentation: { copies, seed, std: rn.eval } },
  };
}

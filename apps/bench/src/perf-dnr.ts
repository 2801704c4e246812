/**
 * The cost of DNR training against plain PRM training (`dnr-bench perf --sections dnr`,
 * protocol 0b.4): the same synthetic lists, the same PRM, the same batch size, one process.
 *
 * @module
 */
import * as tf from '@tensorflow/tfjs-core';
import { Prm, disposeBatch, toBatchTensors, type PrmConfig } from '@dnr/backbones';
import { createRng } from '@dnr/data';
import {
  DNR_TIMING_PHASES,
  createMethodObjective,
  methodConfig,
  type DnrAugmentation,
  type DnrObjective,
  type DnrTimingPhase,
  type TrainBatch,
  type TrainingObjective,
} from '@dnr/objectives';

/** Options of {@link measureDnrCost}. */
export interface DnrPerfOptions {
  /** Training lists of one epoch (default 512). */
  readonly lists?: number;
  /** Lists per step (default 256, the trainer's default). */
  readonly batchSize?: number;
  /** Timed epochs of each method, after one untimed warm-up step of each (default 3). */
  readonly repeats?: number;
  /** DNR's generator step on every k-th batch of an epoch (default 1 = Algorithm 1). */
  readonly generatorEvery?: number;
  /**
   * DNR's `augmentation` (default `'double'`, Algorithm 1: real and synthetic pass over every
   * list; `'replace'`: one pass, a λ-weighted share of the lists carries x̂).
   */
  readonly augmentation?: DnrAugmentation;
  /** Candidates per list (default 50). */
  readonly listSize?: number;
  /** History items per list (default 50). */
  readonly historyLength?: number;
  readonly numItems?: number;
  readonly numUsers?: number;
  /** PRM settings beyond the defaults (both models get the same). */
  readonly prm?: Partial<PrmConfig>;
  /** Seed of the data, the models and the noise (default 7). */
  readonly seed?: number;
}

/** Phases of the DNR breakdown: the objective's step phases plus the per-epoch diagnostics. */
export type DnrBreakdownPhase = DnrTimingPhase | 'epochDiagnostics';

/** What {@link measureDnrCost} returns (milliseconds). */
export interface DnrPerf {
  readonly lists: number;
  readonly batchSize: number;
  readonly repeats: number;
  readonly generatorEvery: number;
  readonly augmentation: DnrAugmentation;
  /** Median wall time of a plain PRM epoch (BCE on real scores). */
  readonly prmEpochMs: number;
  /** Median wall time of a DNR-B epoch after τ (learned generator active). */
  readonly dnrEpochMs: number;
  /** `dnrEpochMs / prmEpochMs`. */
  readonly dnrOverPrmEpochTime: number;
  /** The same ratio from the process's CPU time (less sensitive to other jobs on the machine). */
  readonly dnrOverPrmEpochCpu: number;
  /** Every timed epoch, in run order. */
  readonly prmEpochsMs: readonly number[];
  readonly dnrEpochsMs: readonly number[];
  /** Mean time per DNR epoch of each phase (`DnrStepTimings` plus `epochDiagnostics`). */
  readonly dnrBreakdown: Readonly<Record<DnrBreakdownPhase, number>>;
  /** Generator steps per DNR epoch. */
  readonly generatorStepsPerEpoch: number;
}

function median(values: readonly number[]): number {
  const s = [...values].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 === 1 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

function positiveInt(name: string, v: number, max: number): number {
  if (!Number.isInteger(v) || v < 1 || v > max) {
    throw new RangeError(`measureDnrCost: ${name} must be an integer in [1, ${max}], got ${v}`);
  }
  return v;
}

/**
 * Synthetic training batches: random users, histories (up to half padding) and candidates; labels
 * Bernoulli(0.12); retriever scores `u + 0.4·y` (u uniform, so the classes overlap), candidates
 * sorted by score as in a real dataset. The caller disposes the tensors.
 */
export function syntheticTrainBatches(
  lists: number,
  batchSize: number,
  options: {
    listSize: number;
    historyLength: number;
    numItems: number;
    numUsers: number;
    seed: number;
  },
): TrainBatch[] {
  const { listSize: L, historyLength: H, numItems, numUsers } = options;
  const rng = createRng(options.seed);
  const out: TrainBatch[] = [];
  for (let start = 0; start < lists; start += batchSize) {
    const b = Math.min(batchSize, lists - start);
    const user = new Int32Array(b);
    const history = new Int32Array(b * H);
    const historyCount = new Int32Array(b);
    const items = new Int32Array(b * L);
    const scores = new Float32Array(b * L);
    const labels = new Float32Array(b * L);
    const pairs: Array<[number, number]> = [];
    for (let i = 0; i < b; i++) {
      user[i] = rng.int(numUsers);
      const pad = rng.int(Math.floor(H / 2) + 1);
      historyCount[i] = H - pad;
      for (let j = 0; j < H; j++) history[i * H + j] = j < pad ? numItems : rng.int(numItems);
      pairs.length = 0;
      for (let j = 0; j < L; j++) {
        const y = rng.next() < 0.12 ? 1 : 0;
        pairs.push([rng.next() + 0.4 * y, y]);
      }
      pairs.sort((p, q) => q[0] - p[0]);
      for (let j = 0; j < L; j++) {
        items[i * L + j] = rng.int(numItems);
        scores[i * L + j] = pairs[j]![0];
        labels[i * L + j] = pairs[j]![1];
      }
    }
    const index = Int32Array.from({ length: b }, (_, i) => start + i);
    const arrays = { size: b, index, user, history, historyCount, items, scores, labels };
    out.push({
      tensors: toBatchTensors(arrays, { numItems, numUsers }),
      labels: tf.tensor2d(labels, [b, L], 'float32'),
      arrays,
    });
  }
  return out;
}

function cpuMs(): number {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
}

/**
 * Times a DNR-B epoch with the learned generator active (τ = 0, so every epoch is after the
 * warm-up; `generatorEvery` and `augmentation` as given) against a plain PRM epoch (`BceObjective`) on the same
 * synthetic lists, both on a default PRM with `scoreUsage: 'concat'` (what DNR trains; the plain
 * method's `'none'` differs by one broadcast add), same seed, same batch size, on the active tfjs
 * backend. An epoch is what the trainer does per epoch minus data loading: `setRandomEpoch`,
 * `onEpochStart`, one `step` per batch, and DNR's `diagnostics`. One untimed step of each method
 * first (kernel compilation, optimizer moments), then `repeats` epochs of each, alternating which
 * method goes first; epoch times are medians, the DNR breakdown is the mean per epoch of
 * `DnrObjective.timings()`.
 */
export function measureDnrCost(options: DnrPerfOptions = {}): DnrPerf {
  const lists = positiveInt('lists', options.lists ?? 512, 1_000_000);
  const batchSize = positiveInt('batchSize', options.batchSize ?? 256, 100_000);
  const repeats = positiveInt('repeats', options.repeats ?? 3, 1000);
  const generatorEvery = positiveInt('generatorEvery', options.generatorEvery ?? 1, 100_000);
  const augmentation = options.augmentation ?? 'double';
  const listSize = options.listSize ?? 50;
  const historyLength = options.historyLength ?? 50;
  const numItems = options.numItems ?? 3000;
  const numUsers = options.numUsers ?? 6000;
  const seed = options.seed ?? 7;
  const batches = syntheticTrainBatches(lists, batchSize, {
    listSize,
    historyLength,
    numItems,
    numUsers,
    seed,
  });
  const config: PrmConfig = {
    ...options.prm,
    numItems,
    numUsers,
    maxListSize: Math.max(listSize, options.prm?.maxListSize ?? 0),
    historyLength: Math.max(historyLength, options.prm?.historyLength ?? 0),
    scoreUsage: 'concat',
    seed,
  };
  const prmModel = new Prm(config);
  const dnrModel = new Prm(config);
  let prm: TrainingObjective | undefined;
  let dnr: DnrObjective | undefined;
  try {
    prm = createMethodObjective(prmModel, methodConfig('prm', { scoreUsage: 'concat' }), { seed });
    const method = methodConfig('dnr-b', { tau: 0, generatorEvery });
    dnr = createMethodObjective(dnrModel, method, { seed, dnr: { augmentation } }) as DnrObjective;
    const dnrObjective = dnr;
    const prmObjective = prm;
    let epochDiagnostics = 0;
    const runEpoch = (which: 'prm' | 'dnr', epoch: number, steps = batches.length) => {
      const model = which === 'prm' ? prmModel : dnrModel;
      const objective = which === 'prm' ? prmObjective : dnrObjective;
      const t0 = performance.now();
      const c0 = cpuMs();
      model.setRandomEpoch(epoch);
      objective.onEpochStart?.(epoch);
      for (let step = 0; step < steps; step++) objective.step(batches[step]!, { epoch, step });
      if (which === 'dnr') {
        const t = performance.now();
        dnrObjective.diagnostics(epoch);
        epochDiagnostics += performance.now() - t;
      }
      return { ms: performance.now() - t0, cpu: cpuMs() - c0 };
    };
    runEpoch('prm', 1, 1);
    runEpoch('dnr', 1, 1);
    dnrObjective.resetTimings();
    epochDiagnostics = 0;
    const prmMs: number[] = [];
    const dnrMs: number[] = [];
    const prmCpu: number[] = [];
    const dnrCpu: number[] = [];
    for (let r = 0; r < repeats; r++) {
      const epoch = r + 2;
      const order: Array<'prm' | 'dnr'> = r % 2 === 0 ? ['prm', 'dnr'] : ['dnr', 'prm'];
      for (const which of order) {
        const e = runEpoch(which, epoch);
        (which === 'prm' ? prmMs : dnrMs).push(e.ms);
        (which === 'prm' ? prmCpu : dnrCpu).push(e.cpu);
      }
    }
    const timings = dnrObjective.timings();
    const breakdown = {} as Record<DnrBreakdownPhase, number>;
    for (const phase of DNR_TIMING_PHASES) breakdown[phase] = timings[phase] / repeats;
    breakdown.epochDiagnostics = epochDiagnostics / repeats;
    const prmEpochMs = median(prmMs);
    const dnrEpochMs = median(dnrMs);
    return {
      lists,
      batchSize,
      repeats,
      generatorEvery,
      augmentation,
      prmEpochMs,
      dnrEpochMs,
      dnrOverPrmEpochTime: dnrEpochMs / prmEpochMs,
      dnrOverPrmEpochCpu: median(dnrCpu) / median(prmCpu),
      prmEpochsMs: prmMs,
      dnrEpochsMs: dnrMs,
      dnrBreakdown: breakdown,
      generatorStepsPerEpoch: timings.generatorSteps / repeats,
    };
  } finally {
    prm?.dispose();
    dnr?.dispose();
    prmModel.dispose();
    dnrModel.dispose();
    for (const b of batches) {
      disposeBatch(b.tensors);
      b.labels.dispose();
    }
  }
}

/** Groups of the breakdown for the human-readable table (label, phases). */
export const DNR_BREAKDOWN_GROUPS: ReadonlyArray<readonly [string, readonly DnrBreakdownPhase[]]> =
  [
    ['noise + synthetic scores', ['synthesis']],
    ['ranks of synthetic scores', ['ranks']],
    ['AUC / density capture', ['diagnostics', 'epochDiagnostics']],
    ['user state (shared)', ['userState']],
    ['real pass (forward)', ['realPass']],
    ['synthetic pass (forward)', ['syntheticPass']],
    ['reranker backward', ['rerankerBackward']],
    ['reranker Adam + decay', ['rerankerUpdate']],
    ['generator: user state', ['generatorUserState']],
    ['generator: sample + ranks', ['generatorSample']],
    ['generator: reranker forward', ['generatorForward']],
    ['generator: L_x', ['generatorLx']],
    ['generator: backward', ['generatorBackward']],
    ['generator: Adam', ['generatorUpdate']],
  ];

/** The breakdown as text lines: ms per epoch, share of the DNR epoch, and in PRM epochs. */
export function formatDnrBreakdown(p: DnrPerf): string[] {
  const lines = [
    `dnr: PRM epoch ${p.prmEpochMs.toFixed(0)} ms, DNR-B epoch ${p.dnrEpochMs.toFixed(0)} ms ` +
      `(median of ${p.repeats}; ${p.lists} lists, batch ${p.batchSize}, generator step every ` +
      `${p.generatorEvery}, augmentation ${p.augmentation}): ratio ${p.dnrOverPrmEpochTime.toFixed(2)} (CPU time ` +
      `${p.dnrOverPrmEpochCpu.toFixed(2)})`,
    `dnr: where a DNR-B epoch goes (mean ms per epoch, share, in PRM epochs):`,
  ];
  const meanDnr = p.dnrEpochsMs.reduce((s, v) => s + v, 0) / p.dnrEpochsMs.length;
  let accounted = 0;
  for (const [label, phases] of DNR_BREAKDOWN_GROUPS) {
    const ms = phases.reduce((s, k) => s + p.dnrBreakdown[k], 0);
    accounted += ms;
    lines.push(
      `  ${label.padEnd(30)} ${ms.toFixed(0).padStart(8)} ms ${((100 * ms) / meanDnr).toFixed(1).padStart(5)} % ` +
        `${(ms / p.prmEpochMs).toFixed(2).padStart(5)}`,
    );
  }
  const rest = meanDnr - accounted;
  lines.push(
    `  ${'other (loop, epoch setup)'.padEnd(30)} ${rest.toFixed(0).padStart(8)} ms ${((100 * rest) / meanDnr).toFixed(1).padStart(5)} %`,
  );
  return lines;
}

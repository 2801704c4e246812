/**
 * What one optimization step does, behind one small interface, so every training method (plain
 * BCE, DNR's reranker-then-generator step, ...) plugs into the same trainer ({@link trainReranker}).
 *
 * @module
 */
import * as tf from '@tensorflow/tfjs-core';
import type { Optimizer, Scalar, Tensor2D, Variable } from '@tensorflow/tfjs-core';
import type { RerankBatchTensors, Reranker } from '@dnr/backbones';
import type { Batch } from '@dnr/data';
import { bceWithLogits } from './losses';

/**
 * One training mini-batch: the tensors a reranker reads, the labels as a tensor, and the raw
 * typed arrays (for objectives that need JavaScript-side work, e.g. sampling noise per list).
 * The trainer owns (creates and disposes) every tensor of it.
 */
export interface TrainBatch {
  /** user int32 `[B]`, history int32 `[B, H]`, items int32 `[B, L]`, scores float32 `[B, L]`. */
  readonly tensors: RerankBatchTensors;
  /** float32 `[B, L]`: 0/1 labels. */
  readonly labels: Tensor2D;
  /** The same batch as typed arrays (from `@dnr/data` `iterateBatches`, float32 labels). */
  readonly arrays: Batch<Float32Array>;
}

/** Where a step sits in training (1-based epoch; 0-based step within the epoch). */
export interface StepContext {
  /** Epoch, 1-based. */
  readonly epoch: number;
  /** Step within the epoch, 0-based. */
  readonly step: number;
}

/**
 * Checkpointable state of an objective: named float32 arrays (optimizer moments, generator
 * weights...) and plain JSON (counters, optimizer settings). Array names must be unique.
 */
export interface ObjectiveState {
  readonly arrays: ReadonlyArray<{
    readonly name: string;
    readonly shape: readonly number[];
    readonly data: Float32Array;
  }>;
  readonly json: { readonly [key: string]: unknown };
}

/**
 * One training method. The trainer calls {@link TrainingObjective.step} once per mini-batch;
 * the objective computes its losses and applies its optimizer(s) to the reranker (and to any
 * parameters of its own, such as DNR's noise generator).
 */
export interface TrainingObjective {
  /** Short name, e.g. `'bce'` or `'dnr'` (recorded in checkpoints). */
  readonly name: string;
  /**
   * Every setting that changes what a step computes (JSON values only). Part of the trainer's
   * checkpoint config hash: resuming with different settings is refused.
   */
  readonly config: { readonly [key: string]: unknown };
  /**
   * Called once at the start of every epoch (1-based) before its first step, also on resume.
   * Optional; objectives with their own random streams should re-derive them from `epoch`
   * here, so a resumed run draws exactly what an uninterrupted one draws.
   */
  onEpochStart?(epoch: number): void;
  /**
   * One training step on a batch: computes the losses, applies the optimizer(s).
   * Must not leak tensors (wrap the work in `tf.tidy`).
   *
   * @returns named loss values as numbers; by convention `loss` is the total the reranker
   *   minimizes. The trainer averages every key over the epoch (weighted by lists).
   */
  step(batch: TrainBatch, ctx: StepContext): Record<string, number>;
  /**
   * Optional per-epoch diagnostics (plain JSON: numbers, strings, arrays, objects), called once
   * after the last step of every epoch (1-based), before validation. The trainer stores the
   * result as `diagnostics` in the epoch's `log.jsonl` record. Must be deterministic given the
   * objective's state, so that a resumed run logs what an uninterrupted one logs.
   */
  diagnostics?(epoch: number): { readonly [key: string]: unknown };
  /** Optimizer (and other) state for checkpoints. */
  getState(): Promise<ObjectiveState>;
  /** Restores {@link TrainingObjective.getState}'s output (on an objective built with the same config). */
  setState(state: ObjectiveState): Promise<void>;
  /** Frees the optimizer(s) and any tensors the objective owns (not the reranker). */
  dispose(): void;
}

/** Options of {@link BceObjective}. */
export interface BceObjectiveOptions {
  /** Adam learning rate (default 1e-3). */
  lr?: number;
  /**
   * Decoupled (AdamW-style) weight decay (default 0): after every Adam step each trainable
   * variable `w` of the reranker becomes `w - lr * weightDecay * w`.
   */
  weightDecay?: number;
  /** Adam beta1 (default 0.9). */
  beta1?: number;
  /** Adam beta2 (default 0.999). */
  beta2?: number;
  /** Adam epsilon (default 1e-7, tfjs's float32 default). */
  epsilon?: number;
}

/** The defaults of {@link BceObjectiveOptions}. */
export const BCE_OBJECTIVE_DEFAULTS: Readonly<Required<BceObjectiveOptions>> = Object.freeze({
  lr: 1e-3,
  weightDecay: 0,
  beta1: 0.9,
  beta2: 0.999,
  epsilon: 1e-7,
});

interface AdamInternals {
  accBeta1?: Variable;
  accBeta2?: Variable;
}

/**
 * The Adam state of a tfjs optimizer as named float32 arrays, in the optimizer's order:
 * `iterations` first, then every first moment, then every second moment. Also the running
 * bias-correction powers `accBeta1`/`accBeta2` when the optimizer has them: tfjs's
 * `setWeights` recomputes them with `pow`, which is not bit-identical to the repeated
 * multiplication of an uninterrupted run, so they are stored and restored exactly.
 *
 * @param prefix prepended to every array name (e.g. `'adam.'`).
 */
export async function optimizerState(
  optimizer: Optimizer,
  prefix: string,
): Promise<ObjectiveState['arrays']> {
  const weights = await optimizer.getWeights();
  const out: Array<{ name: string; shape: number[]; data: Float32Array }> = [];
  weights.forEach((w, i) => {
    out.push({
      name: `${prefix}${i}`,
      shape: [...w.tensor.shape],
      data: Float32Array.from(w.tensor.dataSync()),
    });
  });
  // saveIterations() creates a fresh scalar that getWeights' caller owns.
  if (weights[0]) weights[0].tensor.dispose();
  const adam = optimizer as unknown as AdamInternals;
  if (adam.accBeta1 && adam.accBeta2) {
    out.push({
      name: `${prefix}accBeta1`,
      shape: [],
      data: Float32Array.from(adam.accBeta1.dataSync()),
    });
    out.push({
      name: `${prefix}accBeta2`,
      shape: [],
      data: Float32Array.from(adam.accBeta2.dataSync()),
    });
  }
  return out;
}

/**
 * Restores {@link optimizerState}'s arrays (with the same prefix) into a freshly built optimizer
 * of the same kind. The moments are matched to variables by position, so the optimizer must be
 * used with the same variable list in the same order (as the objectives of this package do).
 */
export async function setOptimizerState(
  optimizer: Optimizer,
  arrays: ObjectiveState['arrays'],
  prefix: string,
): Promise<void> {
  const byName = new Map(arrays.map((a) => [a.name, a]));
  const named: Parameters<Optimizer['setWeights']>[0] = [];
  for (let i = 0; byName.has(`${prefix}${i}`); i++) {
    const a = byName.get(`${prefix}${i}`)!;
    named.push({
      name: i === 0 ? 'iter' : `${prefix}${i}`,
      tensor:
        i === 0 ? tf.scalar(Math.round(a.data[0] ?? 0), 'int32') : tf.tensor(a.data, [...a.shape]),
    });
  }
  if (named.length === 0) throw new Error(`optimizer state '${prefix}*' is missing`);
  try {
    await optimizer.setWeights(named);
  } finally {
    // setWeights wraps each tensor in a new variable (sharing the data); ours can go.
    tf.dispose(named.map((n) => n.tensor));
  }
  const adam = optimizer as unknown as AdamInternals;
  const b1 = byName.get(`${prefix}accBeta1`);
  const b2 = byName.get(`${prefix}accBeta2`);
  if (adam.accBeta1 && adam.accBeta2 && b1 && b2) {
    tf.tidy(() => {
      adam.accBeta1!.assign(tf.scalar(b1.data[0] ?? 0));
      adam.accBeta2!.assign(tf.scalar(b2.data[0] ?? 0));
    });
  }
}

/**
 * Fills the defaults of {@link BceObjectiveOptions} and validates them (the Adam settings every
 * objective of this package shares). Errors start with `owner`.
 */
export function resolveAdamOptions(
  options: BceObjectiveOptions,
  owner = 'BceObjective',
): Readonly<Required<BceObjectiveOptions>> {
  const c = { ...BCE_OBJECTIVE_DEFAULTS, ...options };
  const checkNumber = (name: string, v: number, lo: number, hi: number, loOpen = false): void => {
    if (typeof v !== 'number' || !Number.isFinite(v) || (loOpen ? v <= lo : v < lo) || v > hi) {
      throw new RangeError(
        `${owner}: ${name} must be a number in ${loOpen ? '(' : '['}${lo}, ${hi}], got ${String(v)}`,
      );
    }
  };
  checkNumber('lr', c.lr, 0, 10, true);
  checkNumber('weightDecay', c.weightDecay, 0, 1);
  checkNumber('beta1', c.beta1, 0, 1);
  checkNumber('beta2', c.beta2, 0, 1);
  checkNumber('epsilon', c.epsilon, 0, 1, true);
  if (c.beta1 >= 1 || c.beta2 >= 1) throw new RangeError(`${owner}: beta1 and beta2 must be < 1`);
  return Object.freeze({
    lr: c.lr,
    weightDecay: c.weightDecay,
    beta1: c.beta1,
    beta2: c.beta2,
    epsilon: c.epsilon,
  });
}

/**
 * Decoupled (AdamW-style) weight decay, applied after an Adam step: every variable `w` becomes
 * `w - lr * weightDecay * w`. A no-op when `lr * weightDecay` is 0. Allocates only inside
 * `tf.tidy`.
 */
export function applyDecoupledWeightDecay(
  variables: readonly Variable[],
  lr: number,
  weightDecay: number,
): void {
  const decay = lr * weightDecay;
  if (!(decay > 0)) return;
  tf.tidy(() => {
    for (const v of variables) v.assign(tf.mul(v, 1 - decay));
  });
}

/**
 * Plain supervised training of a reranker: `L_BCE` (mean binary cross-entropy of the logits on
 * the real retriever scores, `bceWithLogits`), minimized with Adam (`tf.train.adam`), with
 * optional decoupled weight decay (AdamW-style, applied to every trainable variable of the
 * reranker after each Adam step; chosen over an L2 term in the loss because it does not
 * interact with Adam's per-parameter scaling). The reranker runs in training mode (dropout on).
 *
 * `step` returns `{ loss }`.
 */
export class BceObjective implements TrainingObjective {
  readonly name = 'bce';
  readonly config: Readonly<Required<BceObjectiveOptions>>;
  private readonly optimizer: Optimizer;
  private variables?: Variable[];
  private disposed = false;

  constructor(
    private readonly model: Reranker,
    options: BceObjectiveOptions = {},
  ) {
    const c = resolveAdamOptions(options, 'BceObjective');
    this.config = c;
    this.optimizer = tf.train.adam(c.lr, c.beta1, c.beta2, c.epsilon);
  }

  /** One Adam step on `L_BCE` (+ decoupled weight decay). @returns `{ loss }` (before the step). */
  step(batch: TrainBatch, _ctx: StepContext): Record<string, number> {
    if (this.disposed) throw new Error('this BceObjective was disposed');
    const vars = (this.variables ??= this.model.trainableVariables());
    let loss = NaN;
    tf.tidy(() => {
      const cost = this.optimizer.minimize(
        () =>
          bceWithLogits(
            this.model.score(batch.tensors, { training: true }),
            batch.labels,
          ) as Scalar,
        true,
        vars,
      );
      loss = (cost as Scalar).dataSync()[0] as number;
      applyDecoupledWeightDecay(vars, this.config.lr, this.config.weightDecay);
    });
    return { loss };
  }

  /** Adam's iterations, moments and bias-correction powers (see {@link optimizerState}). */
  async getState(): Promise<ObjectiveState> {
    return { arrays: await optimizerState(this.optimizer, 'adam.'), json: { ...this.config } };
  }

  /** Restores {@link BceObjective.getState}'s output. */
  async setState(state: ObjectiveState): Promise<void> {
    await setOptimizerState(this.optimizer, state.arrays, 'adam.');
  }

  /** Frees Adam's variables (not the reranker). Idempotent. */
  dispose(): void {
    if (this.disposed) return;
    this.optimizer.dispose();
    this.disposed = true;
  }
}

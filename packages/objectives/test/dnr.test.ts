import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs-core';
import type { Tensor, Tensor2D, Variable } from '@tensorflow/tfjs-core';
import {
  Pier,
  type Prm,
  ranksFromScoresArray,
  toBatchTensors,
  type NamedWeight,
  type RerankBatchTensors,
  type Reranker,
} from '@dnr/backbones';
import { generateLabDataset, iterateBatches, type RerankDataset } from '@dnr/data';
import {
  BetaNoise,
  GaussianNoise,
  LearnedNoiseGenerator,
  type NoiseGenerator,
  type NoiseSupport,
} from '@dnr/noise';
import {
  DNR_TIMING_PHASES,
  DnrObjective,
  RUN_FILES,
  bceWithLogits,
  loadCheckpoint,
  trainReranker,
  type DnrDiagnostics,
  type DnrObjectiveOptions,
  type TrainBatch,
} from '../src/index';
import { tinyLab, tinyPrm, useCpu } from './trainer-fixtures';

beforeAll(useCpu);

/** A generator that always returns the same noise values (tiled over the batch). */
class FixedNoise implements NoiseGenerator {
  readonly type = 'fixed';
  private calls = 0;
  constructor(private readonly values: readonly number[]) {}
  get position(): number {
    return this.calls;
  }
  sample(labels: Tensor2D): Tensor2D {
    this.calls++;
    const [b, l] = labels.shape;
    const v = new Float32Array(b * l);
    for (let i = 0; i < v.length; i++) v[i] = this.values[i % this.values.length] as number;
    return tf.tensor2d(v, [b, l]);
  }
  getConfig() {
    return { type: 'fixed', values: [...this.values] };
  }
  trainableVariables(): Variable[] {
    return [];
  }
  support(): NoiseSupport {
    return { positive: [-Infinity, Infinity], negative: [-Infinity, Infinity] };
  }
  seek(position: number): void {
    this.calls = position;
  }
  dispose(): void {}
}

interface Call {
  via: 'score' | 'scoreWithState';
  scores: number[];
  ranks: number[] | null;
}

/**
 * logit = w·score + b (w = 1, b = 0 at start), with a shareable (dummy) user state; records the
 * scores and ranks of every pass and counts encodeUser calls.
 */
class LinearScoreModel implements Reranker {
  readonly name = 'linear-score';
  readonly config = { scoreUsage: 'concat' };
  readonly w = tf.variable(tf.scalar(1));
  readonly b = tf.variable(tf.scalar(0));
  calls: Call[] = [];
  encodeCalls = 0;
  private record(batch: RerankBatchTensors, via: Call['via']): void {
    this.calls.push({
      via,
      scores: Array.from(batch.scores.dataSync()),
      ranks: batch.ranks ? Array.from(batch.ranks.dataSync()) : null,
    });
  }
  private logits(batch: RerankBatchTensors): Tensor2D {
    return tf.add(tf.mul(batch.scores, this.w), this.b) as Tensor2D;
  }
  score(batch: RerankBatchTensors): Tensor2D {
    this.record(batch, 'score');
    return tf.tidy(() => this.logits(batch));
  }
  encodeUser(batch: Pick<RerankBatchTensors, 'user'>): Tensor {
    this.encodeCalls++;
    return tf.zeros([batch.user.shape[0], 1]);
  }
  scoreWithState(batch: RerankBatchTensors, state: Tensor): Tensor2D {
    this.record(batch, 'scoreWithState');
    return tf.tidy(() => tf.add(this.logits(batch), tf.mul(state, 0)) as Tensor2D);
  }
  trainableVariables(): Variable[] {
    return [this.w, this.b];
  }
  getWeights(): NamedWeight[] {
    return [
      { name: 'w', shape: [], data: Float32Array.from(this.w.dataSync()) },
      { name: 'b', shape: [], data: Float32Array.from(this.b.dataSync()) },
    ];
  }
  setWeights(): void {
    throw new Error('not used');
  }
  countParams(): number {
    return 2;
  }
  dispose(): void {
    this.w.dispose();
    this.b.dispose();
  }
}

// B = 2 lists of L = 3 candidates.
const Y = [1, 0, 0, 0, 1, 0];
const X = [0.9, 0.5, 0.1, 0.8, 0.6, 0.2];
const EPS = [0.2, 0.9, 0.4, -0.5, 0.1, 1.5];

function handBatch(): TrainBatch {
  const arrays = {
    size: 2,
    index: Int32Array.of(0, 1),
    user: Int32Array.of(0, 1),
    history: Int32Array.of(3, 3),
    historyCount: Int32Array.of(0, 0),
    items: Int32Array.of(0, 1, 2, 0, 1, 2),
    scores: Float32Array.from(X),
    labels: Float32Array.from(Y),
  };
  return {
    tensors: toBatchTensors(arrays),
    labels: tf.tensor2d(arrays.labels, [2, 3]),
    arrays,
  };
}

function disposeTrainBatch(batch: TrainBatch): void {
  const t = batch.tensors;
  tf.dispose([t.user, t.history, t.items, t.scores, batch.labels]);
}

/** The first `size` training lists of `ds` as a TrainBatch. */
function labBatch(ds: RerankDataset, size: number): TrainBatch {
  const it = iterateBatches(ds, { split: 'train', batchSize: size, labelDtype: 'float32' });
  const arrays = it.next().value!;
  return {
    tensors: toBatchTensors(arrays, { numItems: ds.numItems, numUsers: ds.numUsers }),
    labels: tf.tensor2d(arrays.labels, [arrays.size, ds.listSize]),
    arrays,
  };
}

const snapshot = (vars: readonly Variable[]): Float32Array[] =>
  vars.map((v) => Float32Array.from(v.dataSync()));

/** Records the scores and ranks of every list batch that reaches `model.scoreWithState`. */
function spyScoreWithState(model: Prm): Array<{ scores: Float32Array; ranks: Int32Array | null }> {
  const seen: Array<{ scores: Float32Array; ranks: Int32Array | null }> = [];
  const original = model.scoreWithState.bind(model);
  model.scoreWithState = (batch, state, options) => {
    seen.push({
      scores: Float32Array.from(batch.scores.dataSync()),
      ranks: batch.ranks ? Int32Array.from(batch.ranks.dataSync()) : null,
    });
    return original(batch, state, options);
  };
  return seen;
}

describe('DnrObjective: reranker step', () => {
  it('computes L_D = BCE(real) + λ·BCE(synthetic) by hand and takes one AdamW step on θ', () => {
    const model = new LinearScoreModel();
    const objective = new DnrObjective(model, {
      heuristic: new FixedNoise(EPS),
      alpha: 0.4,
      lambda: 0.4,
      lr: 0.01,
      weightDecay: 0.1,
    });
    const batch = handBatch();
    const out = objective.step(batch, { epoch: 1, step: 0 });
    // x̂ = 0.6·y + 0.4·ε = [0.68, 0.36, 0.16, -0.2, 0.64, 0.6]
    // BCE(z, y) = mean(log(1 + e^z) - z·y): real 0.744393, synthetic 0.689099
    expect(out.lBce).toBeCloseTo(0.7443925, 6);
    expect(out.lZ).toBeCloseTo(0.689099, 6);
    expect(out.lD).toBeCloseTo(0.7443925 + 0.4 * 0.689099, 6);
    expect(out.loss).toBe(out.lD);
    // dL/dw = 0.1019 > 0, dL/db = 0.3935 > 0: Adam's first step moves each by -lr, then the
    // decoupled decay multiplies by (1 - lr·wd) = 0.999.
    expect(model.w.dataSync()[0]).toBeCloseTo((1 - 0.01) * 0.999, 6);
    expect(model.b.dataSync()[0]).toBeCloseTo(-0.01 * 0.999, 6);
    // one shared user state, real pass then synthetic pass with x̂'s rank positions
    expect(model.encodeCalls).toBe(1);
    expect(model.calls.map((c) => c.via)).toEqual(['scoreWithState', 'scoreWithState']);
    const [real, synthetic] = model.calls;
    expect(real!.scores).toEqual(Array.from(Float32Array.from(X)));
    expect(real!.ranks).toBeNull();
    const xHat = [0.68, 0.36, 0.16, -0.2, 0.64, 0.6];
    synthetic!.scores.forEach((v, i) => expect(v).toBeCloseTo(xHat[i]!, 6));
    // row 2: x̂ = [-0.2, 0.64, 0.6] ranks [2, 0, 1], not the retriever order [0, 1, 2]
    expect(synthetic!.ranks).toEqual([0, 1, 2, 2, 0, 1]);
    disposeTrainBatch(batch);
    objective.dispose();
    model.dispose();
  });

  it('without shared state scores twice with model.score; syntheticRanks: false keeps the real order', () => {
    const model = new LinearScoreModel();
    const objective = new DnrObjective(model, {
      heuristic: new FixedNoise(EPS),
      alpha: 0.4,
      lambda: 0.4,
      shareUserState: false,
      syntheticRanks: false,
    });
    const batch = handBatch();
    const out = objective.step(batch, { epoch: 1, step: 0 });
    expect(out.lD).toBeCloseTo(0.7443925 + 0.4 * 0.689099, 6);
    expect(model.encodeCalls).toBe(0);
    expect(model.calls.map((c) => [c.via, c.ranks])).toEqual([
      ['score', null],
      ['score', null],
    ]);
    disposeTrainBatch(batch);
    objective.dispose();
    model.dispose();
  });

  it("augmentation 'replace': one pass, the first m lists carry x̂ and its ranks (by hand)", () => {
    const model = new LinearScoreModel();
    // list 0: x̂ = 0.6·y + 0.4·ε = [0.4, 0.36, 0.6] (ranks [1, 2, 0]); list 1 keeps x
    const objective = new DnrObjective(model, {
      heuristic: new FixedNoise([-0.5, 0.9, 1.5, 0.2, 0.9, 0.4]),
      alpha: 0.4,
      lambda: 0.4,
      lr: 0.01,
      augmentation: 'replace',
    });
    // B = 2, w = λ/(1+λ) = 0.286: m = round(0.57) = 1 list replaced
    expect(objective.replacedLists(2)).toBe(1);
    const batch = handBatch();
    const out = objective.step(batch, { epoch: 1, step: 0 });
    // BCE(z, y) = mean(log(1 + e^z) - z·y): L_z on list 0's x̂, L_BCE on list 1's x
    expect(out.lZ).toBeCloseTo(0.8132546, 6);
    expect(out.lBce).toBeCloseTo(0.8022425, 6);
    expect(out.lD).toBeCloseTo(0.8022425 + 0.4 * 0.8132546, 6);
    // dL/dw = 0.208 > 0, dL/db = 0.406 > 0: Adam's first step moves each by -lr
    expect(model.w.dataSync()[0]).toBeCloseTo(0.99, 6);
    expect(model.b.dataSync()[0]).toBeCloseTo(-0.01, 6);
    expect(model.encodeCalls).toBe(1);
    expect(model.calls).toHaveLength(1);
    const [pass] = model.calls;
    expect(pass!.via).toBe('scoreWithState');
    [0.4, 0.36, 0.6, 0.8, 0.6, 0.2].forEach((v, i) => expect(pass!.scores[i]).toBeCloseTo(v, 6));
    expect(pass!.ranks).toEqual([1, 2, 0, 0, 1, 2]);
    disposeTrainBatch(batch);
    objective.dispose();
    model.dispose();
  });

  it("augmentation 'replace': m from λ and the form, config and validation", () => {
    const build = (options: Partial<DnrObjectiveOptions>) =>
      new DnrObjective(new LinearScoreModel(), {
        heuristic: new FixedNoise([0]),
        alpha: 0.4,
        lambda: 0.4,
        ...options,
      });
    const additive = build({ augmentation: 'replace' });
    // 256 · 0.4/1.4 = 73.1; a batch of one list is scored twice (no list to hold L_BCE)
    expect([256, 10, 2, 1].map((b) => additive.replacedLists(b))).toEqual([73, 3, 1, 0]);
    expect(additive.config.augmentation).toBe('replace');
    const convex = build({ augmentation: 'replace', form: 'convex', lambda: 1 });
    // w = λ = 1 would replace every list: clamped to B - 1
    expect([256, 2].map((b) => convex.replacedLists(b))).toEqual([255, 1]);
    expect(build({ augmentation: 'replace', form: 'convex' }).replacedLists(256)).toBe(102);
    // the default is left out of the config, so the checkpoint hash of existing runs is unchanged
    const double = build({});
    expect('augmentation' in double.config).toBe(false);
    expect(double.replacedLists(256)).toBe(0);
    expect(() => build({ augmentation: 'replace', lambda: 0 })).toThrow(/needs lambda > 0/);
    expect(() => build({ augmentation: 'half' as never })).toThrow(/augmentation must be/);
  });

  it("augmentation 'replace' on PRM: one scoreWithState per step, x̂ ranks on the replaced lists, no leak", () => {
    const ds = tinyLab();
    const model = tinyPrm(ds, { scoreUsage: 'concat' });
    const seen = spyScoreWithState(model);
    const objective = new DnrObjective(model, {
      heuristic: new GaussianNoise({ seed: 5 }),
      alpha: 0.4,
      lambda: 0.4,
      augmentation: 'replace',
    });
    const batch = labBatch(ds, 8); // m = round(8 · 0.4/1.4) = 2
    objective.step(batch, { epoch: 1, step: 0 });
    const before = tf.memory().numTensors;
    const out = objective.step(batch, { epoch: 1, step: 1 });
    expect(tf.memory().numTensors).toBe(before);
    expect(seen).toHaveLength(2);
    const L = ds.listSize;
    const pass = seen[1]!;
    const cut = 2 * L;
    // replaced lists: Gaussian x̂ and its own rank order; the rest: real scores, ranks 0..L-1
    expect(Array.from(pass.ranks!.subarray(0, cut))).toEqual(
      Array.from(ranksFromScoresArray(pass.scores.subarray(0, cut), L)),
    );
    expect(Array.from(pass.scores.subarray(cut))).toEqual(
      Array.from(batch.arrays.scores.subarray(cut)),
    );
    expect(Array.from(pass.ranks!.subarray(cut))).toEqual(
      Array.from({ length: 6 * L }, (_, i) => i % L),
    );
    expect(Array.from(pass.scores.subarray(0, cut))).not.toEqual(
      Array.from(batch.arrays.scores.subarray(0, cut)),
    );
    expect(out.lD).toBeCloseTo(out.lBce! + 0.4 * out.lZ!, 5);
    disposeTrainBatch(batch);
    objective.dispose();
    model.dispose();
  });

  it('feeds PRM the ranks of x̂ in the synthetic pass (spy on scoreWithState)', () => {
    const ds = tinyLab();
    const model = tinyPrm(ds, { scoreUsage: 'concat' });
    const seen = spyScoreWithState(model);
    const objective = new DnrObjective(model, {
      heuristic: new GaussianNoise({ seed: 5 }),
      alpha: 0.4,
      lambda: 0.4,
    });
    const batch = labBatch(ds, 8);
    objective.step(batch, { epoch: 1, step: 0 });
    expect(seen).toHaveLength(2);
    expect(seen[0]!.ranks).toBeNull();
    const synthetic = seen[1]!;
    expect(Array.from(synthetic.ranks!)).toEqual(
      Array.from(ranksFromScoresArray(synthetic.scores, ds.listSize)),
    );
    // Gaussian x̂ reorders the lists: the ranks are not the retriever order 0..L-1
    const identity = Array.from({ length: synthetic.ranks!.length }, (_, i) => i % ds.listSize);
    expect(Array.from(synthetic.ranks!)).not.toEqual(identity);
    disposeTrainBatch(batch);
    objective.dispose();
    model.dispose();
  });
});

describe('DnrObjective: generator step', () => {
  const ds = tinyLab();

  function setup(options: { betaX?: number; generatorLr?: number; tau?: number } = {}) {
    const model = tinyPrm(ds, { scoreUsage: 'concat', dropout: 0 });
    const learned = new LearnedNoiseGenerator({ seed: 11, hiddenUnits: 16, latentDim: 4 });
    const objective = new DnrObjective(model, {
      heuristic: new BetaNoise({ seed: 3 }),
      learned,
      alpha: 0.4,
      lambda: 0.4,
      tau: options.tau ?? 1,
      betaX: options.betaX ?? 1,
      generatorLr: options.generatorLr ?? 1e-3,
      lr: 3e-3,
    });
    return { model, learned, objective };
  }

  /** The frozen reranker's BCE on x̂_φ drawn at stream `position` (inference mode). */
  function bceOnGenerated(
    model: Reranker,
    learned: NoiseGenerator,
    batch: TrainBatch,
    position: number,
  ): number {
    learned.seek(position);
    return tf.tidy(() => {
      const eps = learned.sample(batch.labels, { training: true });
      const xHat = tf.add(tf.mul(batch.labels, 0.6), tf.mul(eps, 0.4)) as Tensor2D;
      const ranks = tf.tensor2d(
        ranksFromScoresArray(xHat.dataSync(), ds.listSize),
        xHat.shape,
        'int32',
      );
      const logits = model.score({ ...batch.tensors, scores: xHat, ranks }, { training: false });
      return bceWithLogits(logits, batch.labels).dataSync()[0]!;
    });
  }

  it('the adversarial step increases the frozen reranker BCE on generated scores (fixed z)', () => {
    const { model, learned, objective } = setup({ betaX: 0, generatorLr: 0.05 });
    const batch = labBatch(ds, 32);
    const position = 7;
    const before = bceOnGenerated(model, learned, batch, position);
    learned.seek(position);
    const out = objective.generatorStep(batch, { epoch: 2, step: 0 });
    expect(out.lX).toBeUndefined();
    expect(out.lAdv).toBeLessThan(0);
    const after = bceOnGenerated(model, learned, batch, position);
    expect(after).toBeGreaterThan(before);
    disposeTrainBatch(batch);
    objective.dispose();
    model.dispose();
  });

  it('each step updates only its own variables (the other side bit for bit)', () => {
    const { model, learned, objective } = setup();
    const batch = labBatch(ds, 16);
    const theta = model.trainableVariables();
    const phi = learned.trainableVariables();

    const theta0 = snapshot(theta);
    const phi0 = snapshot(phi);
    objective.rerankerStep(batch, { epoch: 2, step: 0 }); // learned phase: ε from f_φ, detached
    const theta1 = snapshot(theta);
    expect(snapshot(phi)).toEqual(phi0);
    expect(theta1.some((v, i) => v.some((x, j) => x !== theta0[i]![j]))).toBe(true);

    const out = objective.generatorStep(batch, { epoch: 2, step: 0 });
    expect(Object.keys(out).sort()).toEqual(['lAdv', 'lG', 'lX']);
    expect(out.lG).toBeCloseTo(out.lAdv! + out.lX!, 5);
    expect(snapshot(theta)).toEqual(theta1);
    const phi2 = snapshot(phi);
    phi2.forEach((v, i) =>
      expect(
        v.some((x, j) => x !== phi0[i]![j]),
        `phi ${i}`,
      ).toBe(true),
    );
    disposeTrainBatch(batch);
    objective.dispose();
    model.dispose();
  });

  it('computes the user state once, outside the tape, with the same result as score() (bit for bit)', () => {
    // Transformer user encoder with dropout: the encoder's dropout draws must be the same too.
    const run = (shareUserState: boolean) => {
      const model = tinyPrm(ds, { scoreUsage: 'concat', userEncoder: 'transformer' });
      const encodes: number[] = [];
      const encode = model.encodeUser.bind(model);
      model.encodeUser = (b, options) => {
        // gradientDepth > 0 while tfjs records a gradient tape
        encodes.push(
          (tf.engine() as unknown as { state: { gradientDepth: number } }).state.gradientDepth,
        );
        return encode(b, options);
      };
      const learned = new LearnedNoiseGenerator({ seed: 11, hiddenUnits: 16, latentDim: 4 });
      const objective = new DnrObjective(model, {
        heuristic: new BetaNoise({ seed: 3 }),
        learned,
        alpha: 0.4,
        lambda: 0.4,
        tau: 0,
        generatorLr: 0.01,
        shareUserState,
      });
      const batch = labBatch(ds, 16);
      const out = objective.generatorStep(batch, { epoch: 1, step: 0 });
      const phi = snapshot(learned.trainableVariables());
      disposeTrainBatch(batch);
      objective.dispose();
      model.dispose();
      return { out, phi, encodes };
    };
    const shared = run(true);
    const unshared = run(false);
    expect(shared.encodes).toEqual([0]); // one encodeUser, no tape recording it
    expect(unshared.encodes).toHaveLength(1); // inside score(), under the tape
    expect(unshared.encodes[0]).toBeGreaterThan(0);
    expect(shared.out).toEqual(unshared.out);
    expect(shared.phi).toEqual(unshared.phi);
  });

  it('times every phase of a step: timings() sums them, resetTimings() zeroes them', () => {
    const { model, objective } = setup();
    const batch = labBatch(ds, 16);
    expect(objective.timings().steps).toBe(0);
    const t0 = performance.now();
    objective.step(batch, { epoch: 2, step: 0 }); // learned phase: reranker + generator step
    const wall = performance.now() - t0;
    const t = objective.timings();
    expect(t.steps).toBe(1);
    expect(t.generatorSteps).toBe(1);
    expect(Object.keys(t).sort()).toEqual([...DNR_TIMING_PHASES, 'steps', 'generatorSteps'].sort());
    for (const phase of DNR_TIMING_PHASES) expect(t[phase], phase).toBeGreaterThanOrEqual(0);
    for (const phase of [
      'userState',
      'realPass',
      'syntheticPass',
      'rerankerBackward',
      'generatorForward',
      'generatorBackward',
    ] as const) {
      expect(t[phase], phase).toBeGreaterThan(0);
    }
    const sum = DNR_TIMING_PHASES.reduce((s, phase) => s + t[phase], 0);
    expect(sum).toBeLessThanOrEqual(wall);
    expect(sum).toBeGreaterThan(0.5 * wall);
    // a copy: the caller cannot change the objective's counters
    t.steps = 99;
    expect(objective.timings().steps).toBe(1);
    objective.resetTimings();
    const zero = objective.timings();
    expect(zero.steps).toBe(0);
    for (const phase of DNR_TIMING_PHASES) expect(zero[phase]).toBe(0);
    // a warm-up step (epoch τ = 1): no generator step, nothing billed to its phases
    objective.step(batch, { epoch: 1, step: 1 });
    const warm = objective.timings();
    expect([warm.steps, warm.generatorSteps]).toEqual([1, 0]);
    expect(warm.generatorForward + warm.generatorBackward + warm.generatorUserState).toBe(0);
    disposeTrainBatch(batch);
    objective.dispose();
    model.dispose();
  });

  it('trains Pier too: shared user state, and the adversary reaches φ through its score input', () => {
    const pier = new Pier({
      numItems: ds.numItems,
      numUsers: ds.numUsers,
      dim: 16,
      heads: 2,
      ffnDim: 32,
      mlpDim: 16,
      maxListSize: ds.listSize,
      historyLength: ds.historyLength,
      scoreUsage: 'concat',
      userEncoder: 'mean',
      seed: 4,
    });
    let encodes = 0;
    const encode = pier.encodeUser.bind(pier);
    pier.encodeUser = (batch, options) => {
      encodes++;
      return encode(batch, options);
    };
    const learned = new LearnedNoiseGenerator({ seed: 11, hiddenUnits: 8, latentDim: 2 });
    const objective = new DnrObjective(pier, {
      heuristic: new BetaNoise({ seed: 3 }),
      learned,
      alpha: 0.4,
      lambda: 0.4,
      tau: 0,
      betaX: 0,
    });
    const batch = labBatch(ds, 8);
    const theta0 = snapshot(pier.trainableVariables());
    const phi0 = snapshot(learned.trainableVariables());
    objective.rerankerStep(batch, { epoch: 1, step: 0 });
    expect(encodes).toBe(1); // one user state for the real and the synthetic pass
    const out = objective.generatorStep(batch, { epoch: 1, step: 0 });
    expect(Number.isFinite(out.lAdv!)).toBe(true);
    const theta1 = snapshot(pier.trainableVariables());
    expect(theta1.some((v, i) => v.some((x, j) => x !== theta0[i]![j]))).toBe(true);
    const phi1 = snapshot(learned.trainableVariables());
    phi1.forEach((v, i) =>
      expect(
        v.some((x, j) => x !== phi0[i]![j]),
        `phi ${i}`,
      ).toBe(true),
    );
    disposeTrainBatch(batch);
    objective.dispose();
    pier.dispose();
  });

  it('step() runs the generator only after τ and every generatorEvery batches', () => {
    const model = tinyPrm(ds, { scoreUsage: 'concat' });
    const objective = new DnrObjective(model, {
      heuristic: new BetaNoise({ seed: 3 }),
      learned: new LearnedNoiseGenerator({ seed: 11, hiddenUnits: 8, latentDim: 2 }),
      alpha: 0.4,
      lambda: 0.4,
      tau: 2,
      generatorEvery: 2,
    });
    const batch = labBatch(ds, 8);
    const keys = (epoch: number, step: number): string[] =>
      Object.keys(objective.step(batch, { epoch, step })).sort();
    const rerankerOnly = ['lBce', 'lD', 'lZ', 'loss'];
    expect(keys(2, 0)).toEqual(rerankerOnly); // epoch τ is still warm-up (1-based)
    expect(objective.phase(2)).toBe('heuristic');
    expect(objective.phase(3)).toBe('learned');
    expect(keys(3, 0)).toEqual(['lAdv', 'lG', 'lX', ...rerankerOnly].sort());
    expect(keys(3, 1)).toEqual(rerankerOnly);
    expect(keys(3, 2)).toContain('lG');
    disposeTrainBatch(batch);
    objective.dispose();
    model.dispose();
  });

  it('leaks no tensors over full steps, diagnostics and a state round trip', async () => {
    const model = tinyPrm(ds, { scoreUsage: 'concat' });
    const batch = labBatch(ds, 16);
    const before = tf.memory().numTensors;
    const build = (): DnrObjective =>
      new DnrObjective(model, {
        heuristic: new BetaNoise({ seed: 3 }),
        learned: new LearnedNoiseGenerator({ seed: 11, hiddenUnits: 8, latentDim: 2 }),
        alpha: 0.4,
        lambda: 0.4,
        tau: 1,
        divergence: 'mmd',
      });
    const objective = build();
    objective.onEpochStart(1);
    objective.step(batch, { epoch: 1, step: 0 });
    objective.step(batch, { epoch: 2, step: 0 }); // creates the generator's Adam moments
    const warm = tf.memory().numTensors;
    for (let s = 1; s < 4; s++) objective.step(batch, { epoch: 2, step: s });
    objective.diagnostics(2);
    const state = await objective.getState();
    expect(tf.memory().numTensors).toBe(warm);
    objective.dispose();
    expect(tf.memory().numTensors).toBe(before);
    // restoring into a fresh objective (the trainer's resume path) holds exactly what it held
    const restored = build();
    await restored.setState(state);
    expect(tf.memory().numTensors).toBe(warm);
    restored.step(batch, { epoch: 2, step: 4 });
    expect(tf.memory().numTensors).toBe(warm);
    restored.dispose();
    expect(tf.memory().numTensors).toBe(before);
    disposeTrainBatch(batch);
    model.dispose();
  });
});

describe('DnrObjective: class-conditional L_x', () => {
  const ds = tinyLab();

  it("passes the batch's labels to 'classMoments' and leaks nothing", () => {
    const model = tinyPrm(ds, { scoreUsage: 'concat' });
    const batch = labBatch(ds, 16);
    const objective = new DnrObjective(model, {
      heuristic: new BetaNoise({ seed: 3 }),
      learned: new LearnedNoiseGenerator({ seed: 11, hiddenUnits: 8, latentDim: 2 }),
      alpha: 0.4,
      lambda: 0.4,
      tau: 0,
      divergence: 'classMoments',
    });
    objective.onEpochStart(1);
    const first = objective.step(batch, { epoch: 1, step: 0 });
    expect(first.lX).toBeGreaterThan(0);
    const warm = tf.memory().numTensors;
    objective.step(batch, { epoch: 1, step: 1 });
    expect(tf.memory().numTensors).toBe(warm);
    objective.dispose();
    disposeTrainBatch(batch);
    model.dispose();
  });
});

describe('DnrObjective: validation', () => {
  const ds = tinyLab();

  it('refuses a learned adversary when the score reaches the model only through ranks', () => {
    const model = tinyPrm(ds); // scoreUsage 'none'
    const learned = new LearnedNoiseGenerator({ seed: 1, hiddenUnits: 4 });
    expect(
      () =>
        new DnrObjective(model, {
          heuristic: new BetaNoise({ seed: 1 }),
          learned,
          alpha: 0.4,
          lambda: 0.4,
        }),
    ).toThrow(/scoreUsage 'none'.*no gradient path/);
    // L_x alone needs no path through the model
    const ok = new DnrObjective(model, {
      heuristic: new BetaNoise({ seed: 1 }),
      learned,
      alpha: 0.4,
      lambda: 0.4,
      betaAdv: 0,
    });
    ok.dispose();
    model.dispose();
  });

  it('names the bad option', () => {
    const model = tinyPrm(ds, { scoreUsage: 'concat' });
    const base = { heuristic: new BetaNoise({ seed: 1 }), alpha: 0.4, lambda: 0.4 };
    expect(() => new DnrObjective(model, { ...base, alpha: 1.2 })).toThrow(/alpha/);
    expect(() => new DnrObjective(model, { ...base, lambda: -1 })).toThrow(/lambda/);
    expect(() => new DnrObjective(model, { ...base, tau: 1.5 })).toThrow(/tau/);
    expect(() => new DnrObjective(model, { ...base, generatorEvery: 0 })).toThrow(/generatorEvery/);
    expect(() => new DnrObjective(model, { ...base, lr: 0 })).toThrow(/DnrObjective: lr/);
    const learned = new LearnedNoiseGenerator({ seed: 1, hiddenUnits: 4 });
    expect(() => new DnrObjective(model, { ...base, learned, betaAdv: 0, betaX: 0 })).toThrow(
      /never trains/,
    );
    learned.dispose();
    expect(() =>
      new DnrObjective(model, { ...base }).generatorStep(labBatch(ds, 2), { epoch: 9, step: 0 }),
    ).toThrow(/no learned generator/);
    model.dispose();
  });
});

describe('DnrObjective in the trainer', () => {
  // 120 training lists (3 batches of 40): small enough for two trained runs per test
  const ds = generateLabDataset({
    seed: 7,
    numUsers: 50,
    numItems: 80,
    trainLists: 120,
    validationLists: 40,
    testLists: 40,
    listSize: 20,
    historyLength: 10,
  });
  const config = { batchSize: 40, seed: 5, patience: 10 };
  const tempDir = (): string => mkdtempSync(join(tmpdir(), 'dnr-objective-'));

  function dnrB(model: Reranker, generatorEvery = 1): DnrObjective {
    return new DnrObjective(model, {
      heuristic: new BetaNoise({ seed: 21 }),
      learned: new LearnedNoiseGenerator({ seed: 22, hiddenUnits: 16, latentDim: 4 }),
      alpha: 0.4,
      lambda: 0.4,
      tau: 1,
      lr: 3e-3,
      weightDecay: 1e-2,
      generatorEvery,
      densityLists: 32,
    });
  }

  it('resume equivalence for dnr-b across τ: 3 epochs straight == crash after 2, resume', async () => {
    const straightDir = tempDir();
    const m1 = tinyPrm(ds, { scoreUsage: 'concat' });
    const o1 = dnrB(m1);
    const straight = await trainReranker({
      model: m1,
      objective: o1,
      dataset: ds,
      config: { ...config, epochs: 3 },
      runDir: straightDir,
    });
    o1.dispose();
    m1.dispose();

    const resumedDir = tempDir();
    const m2 = tinyPrm(ds, { scoreUsage: 'concat' });
    const o2 = dnrB(m2);
    await expect(
      trainReranker({
        model: m2,
        objective: o2,
        dataset: ds,
        config: { ...config, epochs: 3 },
        runDir: resumedDir,
        onEpochEnd: (r) => {
          if (r.epoch === 2) throw new Error('crash');
        },
      }),
    ).rejects.toThrow('crash');
    o2.dispose();
    m2.dispose();
    const m3 = tinyPrm(ds, { scoreUsage: 'concat' });
    const o3 = dnrB(m3);
    const resumed = await trainReranker({
      model: m3,
      objective: o3,
      dataset: ds,
      config: { ...config, epochs: 3 },
      runDir: resumedDir,
    });
    o3.dispose();
    m3.dispose();

    expect(resumed.resumedFromEpoch).toBe(2);
    const a = loadCheckpoint(join(straightDir, RUN_FILES.checkpoint));
    const b = loadCheckpoint(join(resumedDir, RUN_FILES.checkpoint));
    a.modelWeights.forEach((w, i) => expect(b.modelWeights[i]!.data, w.name).toEqual(w.data));
    // both Adams, the generator's weights, the stream positions
    expect(b.objective.arrays.map((x) => x.name)).toEqual(a.objective.arrays.map((x) => x.name));
    expect(a.objective.arrays.some((x) => x.name.startsWith('generatorAdam.'))).toBe(true);
    expect(a.objective.arrays.some((x) => x.name === 'generator.0')).toBe(true);
    a.objective.arrays.forEach((x, i) =>
      expect(b.objective.arrays[i]!.data, x.name).toEqual(x.data),
    );
    expect(b.objective.json).toEqual(a.objective.json);
    expect(resumed.test).toEqual(straight.test);
    expect(resumed.history.map((r) => [r.losses, r.validation, r.diagnostics])).toEqual(
      straight.history.map((r) => [r.losses, r.validation, r.diagnostics]),
    );
    // the epochs on either side of τ = 1
    const phases = straight.history.map((r) => (r.diagnostics as DnrDiagnostics).phase);
    expect(phases).toEqual(['heuristic', 'learned', 'learned']);
    expect(Object.keys(straight.history[0]!.losses)).not.toContain('lG');
    expect(Object.keys(straight.history[1]!.losses)).toContain('lG');
  });

  it('logs diagnostics per epoch: AUC, generator terms (per generator step), densities', async () => {
    const model = tinyPrm(ds, { scoreUsage: 'concat' });
    const objective = dnrB(model, 2);
    const result = await trainReranker({
      model,
      objective,
      dataset: ds,
      config: { ...config, epochs: 2 },
    });
    objective.dispose();
    model.dispose();
    const [d1, d2] = result.history.map((r) => r.diagnostics as DnrDiagnostics);
    // unsigned Beta(0.5, 0.5) with the linear mix at α = 0.4 separates the classes (0b.2)
    expect(d1!.phase).toBe('heuristic');
    expect(d1!.separatesClasses).toBe(true);
    expect(d1!.auc.synthetic).toBe(1);
    expect(d1!.auc.real).toBeGreaterThan(0.5);
    expect(d1!.auc.real).toBeLessThan(1);
    expect(d1!.generator).toBeNull();
    // epoch 2: learned (sigmoid) generator, 3 batches of 40 -> generator steps at 0 and 2
    expect(d2!.phase).toBe('learned');
    expect(d2!.generatorEvery).toBe(2);
    expect(d2!.generator!.steps).toBe(2);
    expect(d2!.totalGeneratorSteps).toBe(2);
    // the trainer averages a term over the steps that returned it (equal batch sizes here)
    expect(result.history[1]!.losses.lG).toBeCloseTo(d2!.generator!.lG, 5);
    expect(result.history[1]!.losses.lAdv).toBeCloseTo(d2!.generator!.lAdv!, 5);
    const density = d2!.density!;
    expect(density.bins).toBe(40);
    expect(density.lists).toBe(32);
    expect(density.centers).toHaveLength(40);
    const width = (density.range[1] - density.range[0]) / density.bins;
    for (const key of ['observed', 'heuristic', 'learned'] as const) {
      const values = density[key]!;
      expect(values).toHaveLength(40);
      expect(values.reduce((s, v) => s + v * width, 0)).toBeCloseTo(1, 3);
    }
    // sigmoid noise lies in (0, 1): no mass in the bins below 0
    const firstPositiveBin = density.centers.findIndex((c) => c > 0);
    expect(density.learned!.slice(0, firstPositiveBin - 1).every((v) => v === 0)).toBe(true);
    // the JSON stays compact
    expect(JSON.stringify(d2).length).toBeLessThan(4000);
  });
});

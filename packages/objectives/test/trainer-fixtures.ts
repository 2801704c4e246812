// Shared fixtures of the trainer, objective and checkpoint tests.
import '@tensorflow/tfjs';
import * as tf from '@tensorflow/tfjs-core';
import type { Tensor2D, Variable } from '@tensorflow/tfjs-core';
import { Prm, type NamedWeight, type PrmConfig, type Reranker } from '@dnr/backbones';
import { generateLabDataset, type RerankDataset } from '@dnr/data';
import type { ObjectiveState, StepContext, TrainBatch, TrainingObjective } from '../src/index';

/** Switches to the pure-JS cpu backend (bit-reproducible) and waits until it is ready. */
export async function useCpu(): Promise<void> {
  await tf.setBackend('cpu');
  await tf.ready();
}

/** A tiny lab dataset: 50 users, 80 items, 300/60/60 lists of 20 candidates, history 10. */
export function tinyLab(seed = 7): RerankDataset {
  return generateLabDataset({
    seed,
    numUsers: 50,
    numItems: 80,
    trainLists: 300,
    validationLists: 60,
    testLists: 60,
    listSize: 20,
    historyLength: 10,
  });
}

/** A small PRM for `ds` (d = 16, 1 block, dropout on so the random state matters). */
export function tinyPrm(ds: RerankDataset, extra: Partial<PrmConfig> = {}): Prm {
  return new Prm({
    numItems: ds.numItems,
    numUsers: ds.numUsers,
    dim: 16,
    blocks: 1,
    heads: 2,
    ffnDim: 32,
    dropout: 0.1,
    maxListSize: ds.listSize,
    historyLength: ds.historyLength,
    userEncoder: 'mean',
    seed: 3,
    ...extra,
  });
}

/**
 * A hand-made dataset for early-stopping arithmetic: every list holds items 0..7 (one user, a
 * history of padding), item 0 is the only positive. 4 train, 2 validation, 2 test lists.
 */
export function rankDataset(): RerankDataset {
  const L = 8;
  const n = 8;
  const items = new Int32Array(n * L);
  const labels = new Uint8Array(n * L);
  const scores = new Float32Array(n * L);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < L; j++) {
      items[i * L + j] = j;
      labels[i * L + j] = j === 0 ? 1 : 0;
      scores[i * L + j] = 1 - j / L;
    }
  }
  return {
    numUsers: 1,
    numItems: L,
    listSize: L,
    historyLength: 1,
    user: new Int32Array(n),
    history: new Int32Array(n).fill(L),
    historyCount: new Int32Array(n),
    items,
    scores,
    labels,
    split: Uint8Array.from([0, 0, 0, 0, 1, 1, 2, 2]),
    meta: { name: 'rank-fixture' },
  };
}

/** NDCG@6 of a list whose only positive sits at 1-based rank r. */
export const ndcgAtRank = (r: number): number => (r <= 6 ? 1 / Math.log2(r + 1) : 0);

/**
 * A reranker with one weight per item: score(list) = w[items]. Records `setRandomEpoch` calls.
 */
export class ItemScoreModel implements Reranker {
  readonly name = 'item-score';
  readonly config = { numItems: 8 };
  readonly w: Variable;
  readonly randomEpochs: number[] = [];
  constructor() {
    this.w = tf.variable(tf.zeros([8]), true);
  }
  score(batch: TrainBatch['tensors']): Tensor2D {
    return tf.tidy(() => tf.reshape(tf.gather(this.w, batch.items), batch.items.shape) as Tensor2D);
  }
  trainableVariables(): Variable[] {
    return [this.w];
  }
  getWeights(): NamedWeight[] {
    return [{ name: 'w', shape: [8], data: Float32Array.from(this.w.dataSync()) }];
  }
  setWeights(weights: readonly NamedWeight[]): void {
    const w = weights.find((x) => x.name === 'w');
    if (!w || weights.length !== 1) throw new Error('expected exactly the weight w');
    this.w.assign(tf.tensor1d(w.data));
  }
  countParams(): number {
    return 8;
  }
  setRandomEpoch(epoch: number): void {
    this.randomEpochs.push(epoch);
  }
  dispose(): void {
    this.w.dispose();
  }
}

/**
 * Weights that put the positive (item 0) at 1-based rank `r` among items 0..7; item 7's
 * weight carries a tiny epoch tag (3 - 0.01 * epoch) that does not change the order.
 */
export function weightsForRank(r: number, epoch: number): Float32Array {
  const w = new Float32Array(8);
  for (let j = 1; j < 8; j++) w[j] = 10 - j;
  w[7] = 3 - 0.01 * epoch;
  w[0] = 10 - r + 0.5;
  return w;
}

/**
 * An objective that ignores the data: at epoch e it sets the model's weights so the positive
 * sits at rank `ranks[e - 1]`. Each step returns `{ loss: e, step }`.
 */
export class ScheduleObjective implements TrainingObjective {
  readonly name = 'schedule';
  readonly config: { ranks: number[] };
  steps = 0;
  constructor(
    private readonly model: ItemScoreModel,
    ranks: number[],
  ) {
    this.config = { ranks };
  }
  step(_batch: TrainBatch, ctx: StepContext): Record<string, number> {
    const r = this.config.ranks[ctx.epoch - 1] ?? 8;
    tf.tidy(() => this.model.w.assign(tf.tensor1d(weightsForRank(r, ctx.epoch))));
    this.steps++;
    return { loss: ctx.epoch, step: ctx.step };
  }
  async getState(): Promise<ObjectiveState> {
    return { arrays: [{ name: 'steps', shape: [1], data: Float32Array.of(this.steps) }], json: {} };
  }
  async setState(state: ObjectiveState): Promise<void> {
    this.steps = state.arrays[0]?.data[0] ?? 0;
  }
  dispose(): void {}
}

import * as tf from '@tensorflow/tfjs-core';
import type { Tensor2D } from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { iterateBatches, type RerankDataset } from '@dnr/data';
import { toBatchTensors, disposeBatch } from '@dnr/backbones';
import { BceObjective, type TrainBatch } from '../src/index';
import { ItemScoreModel, rankDataset, tinyLab, tinyPrm, useCpu } from './trainer-fixtures';

beforeAll(useCpu);

/** The first training batch of `ds` as a TrainBatch (caller disposes with `free`). */
function firstBatch(ds: RerankDataset, batchSize: number): { batch: TrainBatch; free: () => void } {
  const arrays = iterateBatches(ds, { split: 'train', batchSize, labelDtype: 'float32' }).next()
    .value!;
  const tensors = toBatchTensors(arrays, { numItems: ds.numItems, numUsers: ds.numUsers });
  const labels = tf.tensor2d(arrays.labels, [arrays.size, ds.listSize]);
  return {
    batch: { tensors, labels, arrays },
    free: () => {
      disposeBatch(tensors);
      labels.dispose();
    },
  };
}

/** An item-score model whose logits are w[items] * 0: every gradient is exactly zero. */
class ZeroGradientModel extends ItemScoreModel {
  override score(batch: TrainBatch['tensors']): Tensor2D {
    return tf.tidy(() => tf.mul(super.score(batch), 0) as Tensor2D);
  }
}

describe('BceObjective', () => {
  it('decreases L_BCE on a tiny lab batch', () => {
    const ds = tinyLab();
    const model = tinyPrm(ds, { dropout: 0 });
    const objective = new BceObjective(model, { lr: 1e-2 });
    const { batch, free } = firstBatch(ds, 64);
    const losses: number[] = [];
    for (let i = 0; i < 15; i++) losses.push(objective.step(batch, { epoch: 1, step: i }).loss!);
    free();
    objective.dispose();
    model.dispose();
    expect(losses[0]).toBeGreaterThan(0.3); // about log 2 at the start
    expect(losses[14]).toBeLessThan(0.8 * losses[0]!);
  });

  it('applies decoupled weight decay w <- w (1 - lr wd) (zero gradients: Adam moves nothing)', () => {
    const model = new ZeroGradientModel();
    model.w.assign(tf.tensor1d([2, -4, 0, 0, 0, 0, 0, 1]));
    const objective = new BceObjective(model, { lr: 0.1, weightDecay: 0.5 });
    const { batch, free } = firstBatch(rankDataset(), 2);
    objective.step(batch, { epoch: 1, step: 0 });
    const f = Math.fround;
    const factor = f(1 - 0.1 * 0.5); // 0.95
    expect([...model.w.dataSync()]).toEqual([f(2 * factor), f(-4 * factor), 0, 0, 0, 0, 0, factor]);
    objective.step(batch, { epoch: 1, step: 1 });
    expect(model.w.dataSync()[0]).toBe(f(f(2 * factor) * factor)); // 1.805
    free();
    objective.dispose();
    // without weight decay the weights stay put
    const plain = new BceObjective(model, { lr: 0.1 });
    const again = firstBatch(rankDataset(), 2);
    const w0 = [...model.w.dataSync()];
    plain.step(again.batch, { epoch: 1, step: 0 });
    expect([...model.w.dataSync()]).toEqual(w0);
    again.free();
    plain.dispose();
    model.dispose();
  });

  it('getState/setState continue Adam bit for bit (moments, iterations, bias corrections)', async () => {
    const ds = tinyLab();
    const { batch, free } = firstBatch(ds, 32);
    const a = tinyPrm(ds, { dropout: 0 });
    const oa = new BceObjective(a, { lr: 5e-3 });
    // 5 steps: tfjs's own setWeights would recompute beta2^6 with pow, which differs in the
    // last bit from the product the optimizer accumulated
    for (let i = 0; i < 5; i++) oa.step(batch, { epoch: 1, step: i });
    const state = await oa.getState();
    expect(state.arrays[0]).toMatchObject({ name: 'adam.0', data: Float32Array.of(5) });
    expect(state.arrays.map((x) => x.name)).toContain('adam.accBeta2');
    expect(state.json).toMatchObject({ lr: 5e-3, weightDecay: 0 });

    const b = tinyPrm(ds, { dropout: 0 });
    b.setWeights(a.getWeights());
    const ob = new BceObjective(b, { lr: 5e-3 });
    await ob.setState(state);
    for (let i = 5; i < 7; i++) {
      expect(ob.step(batch, { epoch: 1, step: i })).toEqual(oa.step(batch, { epoch: 1, step: i }));
    }
    const wa = a.getWeights();
    const wb = b.getWeights();
    for (let i = 0; i < wa.length; i++) expect(wb[i]!.data, wa[i]!.name).toEqual(wa[i]!.data);
    free();
    for (const x of [oa, ob, a, b]) x.dispose();
  });

  it('validates its options and refuses to step after dispose', () => {
    const model = new ItemScoreModel();
    expect(() => new BceObjective(model, { lr: 0 })).toThrow(/lr must be a number in \(0/);
    expect(() => new BceObjective(model, { weightDecay: -1 })).toThrow(/weightDecay/);
    expect(() => new BceObjective(model, { beta1: 1 })).toThrow(/beta1 and beta2 must be < 1/);
    const objective = new BceObjective(model);
    expect(objective.config).toEqual({
      lr: 1e-3,
      weightDecay: 0,
      beta1: 0.9,
      beta2: 0.999,
      epsilon: 1e-7,
    });
    objective.dispose();
    objective.dispose(); // idempotent
    const { batch, free } = firstBatch(rankDataset(), 2);
    expect(() => objective.step(batch, { epoch: 1, step: 0 })).toThrow(/disposed/);
    free();
    model.dispose();
  });
});

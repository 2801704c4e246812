import * as tf from '@tensorflow/tfjs-core';
import type { Tensor, Tensor1D, Tensor2D } from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  Pier,
  Prm,
  dense,
  disposeBatch,
  embeddingLookup,
  layerNorm,
  syntheticBatch,
  toBatchTensors,
  withFrozenWeights,
  type RerankBatchTensors,
  type Reranker,
} from '../src/index';
import { randomData, useBackend } from './helpers';

beforeAll(async () => {
  await useBackend('cpu');
});

const t2 = (rows: number, cols: number, seed: number): Tensor2D =>
  tf.tensor2d(randomData(rows * cols, seed), [rows, cols]);

/** Gradients of `f` with respect to each input, as plain arrays. */
function gradsOf(f: (...xs: Tensor[]) => Tensor, inputs: Tensor[]): number[][] {
  return tf.tidy(() =>
    tf
      .grads(f)(inputs)
      .map((g) => Array.from(g.dataSync())),
  );
}

describe('withFrozenWeights', () => {
  it('zeroes the weight gradients of dense and keeps the input gradient exact', () => {
    const x = t2(5, 3, 1);
    const w = t2(3, 4, 2);
    const b = tf.tensor1d(randomData(4, 3));
    for (const activation of ['linear', 'relu'] as const) {
      const f = (xi: Tensor, wi: Tensor, bi: Tensor) =>
        tf.sum(tf.square(dense(xi as Tensor2D, wi as Tensor2D, bi as Tensor1D, activation)));
      const free = gradsOf(f, [x, w, b]);
      // the frozen set holds the tensors the layer receives (here the same objects tf.grads passes)
      const frozen = withFrozenWeights([w, b], () => gradsOf(f, [x, w, b]));
      expect(frozen[0]).toEqual(free[0]);
      expect(frozen[1]).toEqual(new Array(12).fill(0));
      expect(frozen[2]).toEqual(new Array(4).fill(0));
      expect(free[1]!.some((v) => v !== 0)).toBe(true);
    }
    const noBias = (xi: Tensor, wi: Tensor) =>
      tf.sum(tf.square(dense(xi as Tensor2D, wi as Tensor2D)));
    const free = gradsOf(noBias, [x, w]);
    const frozen = withFrozenWeights([w], () => gradsOf(noBias, [x, w]));
    expect(frozen[0]).toEqual(free[0]);
    expect(frozen[1]).toEqual(new Array(12).fill(0));
    tf.dispose([x, w, b]);
  });

  it('freezes only the listed weights, only inside the scope, and nests', () => {
    const x = t2(5, 3, 4);
    const w = t2(3, 4, 5);
    const other = t2(3, 4, 6);
    const f = (xi: Tensor, wi: Tensor) => tf.sum(tf.square(dense(xi as Tensor2D, wi as Tensor2D)));
    const free = gradsOf(f, [x, w]);
    expect(withFrozenWeights([other], () => gradsOf(f, [x, w]))).toEqual(free);
    const nested = withFrozenWeights([other], () =>
      withFrozenWeights([w], () => gradsOf(f, [x, w])),
    );
    expect(nested[1]).toEqual(new Array(12).fill(0));
    expect(gradsOf(f, [x, w])).toEqual(free);
    // a throwing body leaves nothing frozen behind
    expect(() =>
      withFrozenWeights([w], () => {
        throw new Error('boom');
      }),
    ).toThrow('boom');
    expect(gradsOf(f, [x, w])).toEqual(free);
    tf.dispose([x, w, other]);
  });

  it('zeroes the gamma/beta gradients of layerNorm and the table gradient of embeddingLookup', () => {
    const x = t2(4, 6, 7);
    const gamma = tf.tensor1d(randomData(6, 8));
    const beta = tf.tensor1d(randomData(6, 9));
    const ln = (xi: Tensor, g: Tensor, bt: Tensor) =>
      tf.sum(tf.square(layerNorm(xi as Tensor2D, g as Tensor1D, bt as Tensor1D)));
    const free = gradsOf(ln, [x, gamma, beta]);
    const frozen = withFrozenWeights([gamma, beta], () => gradsOf(ln, [x, gamma, beta]));
    expect(frozen[0]).toEqual(free[0]);
    expect(frozen[1]).toEqual(new Array(6).fill(0));
    expect(frozen[2]).toEqual(new Array(6).fill(0));

    const table = t2(5, 3, 10);
    const ids = tf.tensor1d([0, 2, 2, 4], 'int32');
    const emb = (tb: Tensor) => tf.sum(tf.square(embeddingLookup(tb as Tensor2D, ids)));
    expect(gradsOf(emb, [table])[0]!.some((v) => v !== 0)).toBe(true);
    expect(withFrozenWeights([table], () => gradsOf(emb, [table]))[0]).toEqual(
      new Array(15).fill(0),
    );
    tf.dispose([x, gamma, beta, table, ids]);
  });

  /** d(sum(logits * proj)) / d(scores) for a model whose weights are (or are not) frozen. */
  function scoreGradient(model: Reranker, batch: RerankBatchTensors, freeze: boolean): number[] {
    const proj = tf.tensor2d(
      randomData(batch.scores.size, 12),
      batch.scores.shape as [number, number],
    );
    const f = (scores: Tensor) =>
      tf.sum(
        tf.mul(model.score({ ...batch, scores: scores as Tensor2D }, { training: false }), proj),
      );
    const run = () => tf.tidy(() => Array.from(tf.grad(f)(batch.scores).dataSync()));
    const out = freeze ? withFrozenWeights(model.trainableVariables(), run) : run();
    proj.dispose();
    return out;
  }

  it('gives PRM and Pier the same gradient into their score input with frozen weights', () => {
    const config = {
      numItems: 30,
      numUsers: 7,
      dim: 8,
      heads: 2,
      ffnDim: 16,
      blocks: 1,
      maxListSize: 8,
      historyLength: 6,
      scoreUsage: 'concat' as const,
    };
    for (const model of [new Prm(config), new Pier(config)]) {
      const batch = toBatchTensors(syntheticBatch(4, 8, 6, 30, 7, 3));
      const free = scoreGradient(model, batch, false);
      expect(free.some((v) => v !== 0)).toBe(true);
      expect(scoreGradient(model, batch, true)).toEqual(free);
      // and the freezing took effect: the engine's layers report zero weight gradients
      const vars = model.trainableVariables();
      const nonZero = withFrozenWeights(vars, () =>
        tf.tidy(() => {
          const { grads } = tf.variableGrads(
            () => tf.sum(model.score(batch, { training: false })),
            vars,
          );
          return vars
            .filter((v) => grads[v.name]!.abs().max().dataSync()[0]! > 0)
            .map((v) => v.name);
        }),
      );
      // (a few small weights, e.g. the user-id embedding, go through plain tfjs ops and keep theirs)
      expect(nonZero.length).toBeLessThan(vars.length / 4);
      disposeBatch(batch);
      model.dispose();
    }
  });
});

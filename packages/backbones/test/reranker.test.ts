import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  Prm,
  createReranker,
  decodeReranker,
  defaultRanks,
  disposeBatch,
  encodeReranker,
  listRerankers,
  loadReranker,
  ranksFromScores,
  ranksFromScoresArray,
  registerReranker,
  serializeReranker,
  syntheticBatch,
  toBatchTensors,
} from '../src/index';
import { expectClose, useBackend } from './helpers';

beforeAll(async () => {
  await useBackend('cpu');
});

const tiny = {
  numItems: 20,
  numUsers: 5,
  dim: 8,
  heads: 2,
  ffnDim: 16,
  blocks: 1,
  maxListSize: 6,
  historyLength: 4,
};

describe('ranksFromScores', () => {
  it('ranks by descending score, ties to the lower index, NaN last (hand-computed)', () => {
    // list 0: 0.3, 0.9, 0.3, NaN, 1.0 -> order 4, 1, 0, 2, 3
    // list 1: 5, 4, 3, 2, 1 (already sorted) -> 0..4
    const r = ranksFromScoresArray([0.3, 0.9, 0.3, NaN, 1.0, 5, 4, 3, 2, 1], 5);
    expect(Array.from(r)).toEqual([2, 1, 3, 4, 0, 0, 1, 2, 3, 4]);
    expect(Array.from(ranksFromScoresArray([1, 1, 1], 3))).toEqual([0, 1, 2]);
    expect(Array.from(ranksFromScoresArray([-Infinity, NaN, 0], 3))).toEqual([1, 2, 0]);
    expect(() => ranksFromScoresArray([1, 2, 3], 2)).toThrow(/multiple/);
  });

  it('works on tensors and returns int32 [B, L]', () => {
    const r = ranksFromScores(
      tf.tensor2d([
        [0.1, 0.7, 0.4],
        [2, 2, 3],
      ]),
    );
    expect(r.dtype).toBe('int32');
    expect(r.shape).toEqual([2, 3]);
    expect(r.arraySync()).toEqual([
      [2, 0, 1],
      [1, 2, 0],
    ]);
    expect(defaultRanks(2, 3).arraySync()).toEqual([
      [0, 1, 2],
      [0, 1, 2],
    ]);
  });
});

describe('toBatchTensors', () => {
  it('builds tensors of the right shapes and dtypes', () => {
    const b = toBatchTensors(syntheticBatch(3, 6, 4, 20, 5, 1), { numItems: 20, numUsers: 5 });
    expect(b.user.shape).toEqual([3]);
    expect(b.history.shape).toEqual([3, 4]);
    expect(b.items.shape).toEqual([3, 6]);
    expect(b.scores.dtype).toBe('float32');
    expect(b.items.dtype).toBe('int32');
    disposeBatch(b);
  });

  it('rejects bad sizes and out-of-range indices', () => {
    const a = syntheticBatch(2, 3, 2, 10, 4, 1);
    expect(() => toBatchTensors({ ...a, scores: new Float32Array(5) })).toThrow(/scores.length/);
    expect(() =>
      toBatchTensors(
        { ...a, items: Int32Array.from([0, 1, 2, 3, 4, 10]) },
        { numItems: 10, numUsers: 4 },
      ),
    ).toThrow(/items\[5\] = 10/);
    expect(() => toBatchTensors({ ...a, ranks: Int32Array.from([0, 1, 3, 0, 1, 2]) })).toThrow(
      /ranks\[2\]/,
    );
  });
});

describe('registry', () => {
  it('lists prm, creates it, and rejects unknown or duplicate names', () => {
    expect(listRerankers()).toContain('prm');
    const m = createReranker('prm', tiny);
    expect(m).toBeInstanceOf(Prm);
    expect(m.name).toBe('prm');
    m.dispose();
    expect(() => createReranker('nope', {})).toThrow(/unknown reranker 'nope'.*prm/);
    expect(() => registerReranker('prm', (c) => new Prm(c))).toThrow(/already registered/);
    registerReranker('prm-copy', (c) => new Prm(c as typeof tiny));
    expect(listRerankers()).toContain('prm-copy');
    expect(() => createReranker('prm', { ...tiny, dimm: 3 } as never)).toThrow(
      /unknown PRM config key 'dimm'/,
    );
  });
});

describe('save / load', () => {
  it('round-trips through the binary format with identical outputs', () => {
    const model = new Prm({ ...tiny, scoreUsage: 'concat', seed: 9 });
    const batch = toBatchTensors(syntheticBatch(3, 6, 4, 20, 5, 2));
    const before = model.score(batch, { training: false }).dataSync();
    const bytes = encodeReranker(serializeReranker(model));
    expect(Array.from(bytes.subarray(0, 4))).toEqual([0x44, 0x4e, 0x52, 0x52]);
    const decoded = decodeReranker(bytes);
    expect(decoded.name).toBe('prm');
    expect(decoded.config).toEqual(model.config);
    const loaded = loadReranker(decoded);
    const after = loaded.score(batch, { training: false }).dataSync();
    expectClose(after, before, 0, 'outputs');
    // a different seed gives a different model until the weights are loaded
    const other = new Prm({ ...tiny, scoreUsage: 'concat', seed: 10 });
    expect(Array.from(other.score(batch, { training: false }).dataSync())).not.toEqual(
      Array.from(before),
    );
    other.setWeights(model.getWeights());
    expectClose(other.score(batch, { training: false }).dataSync(), before, 0, 'setWeights');
    [model, loaded, other].forEach((m) => m.dispose());
    disposeBatch(batch);
  });

  it('names the weight and both shapes when the config does not match', () => {
    const model = new Prm(tiny);
    const data = serializeReranker(model);
    expect(() => loadReranker({ ...data, config: { ...data.config, ffnDim: 12 } })).toThrow(
      /weight 'user_encoder\/block0\/ffn\/w1' has shape \[8,16\] but the model built from the config expects \[8,12\]/,
    );
    expect(() => loadReranker({ ...data, weights: data.weights.slice(1) })).toThrow(
      /missing weights: item/,
    );
    const renamed = data.weights.map((w, i) => (i === 0 ? { ...w, name: 'itemz' } : w));
    expect(() => loadReranker({ ...data, weights: renamed })).toThrow(/'itemz' is not a parameter/);
    model.dispose();
  });

  it('rejects corrupt files', () => {
    const model = new Prm(tiny);
    const bytes = encodeReranker(serializeReranker(model));
    const bad = bytes.slice();
    bad[0] = 0x58;
    expect(() => decodeReranker(bad)).toThrow(/bad magic/);
    const v2 = bytes.slice();
    new DataView(v2.buffer).setUint32(4, 2, true);
    expect(() => decodeReranker(v2)).toThrow(/unsupported version 2/);
    expect(() => decodeReranker(bytes.slice(0, bytes.length - 8))).toThrow(/runs past the end/);
    expect(() => decodeReranker(new Uint8Array(5))).toThrow(/too short/);
    model.dispose();
  });
});

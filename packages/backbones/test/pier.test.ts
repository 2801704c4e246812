import * as tf from '@tensorflow/tfjs-core';
import type { Scalar, Tensor2D, Tensor3D, Tensor4D } from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  ParamStore,
  Pier,
  candidatePermutations,
  createReranker,
  createTransformerBlockParams,
  decodeReranker,
  disposeBatch,
  distanceBias,
  encodeReranker,
  hammingSimilarity,
  interestEmbedding,
  listRerankers,
  loadReranker,
  multiHeadSelfAttention,
  mulberry32,
  omnidirectionalAttentionWithProbs,
  permutationEmbedding,
  positionWeight,
  ranksFromScores,
  resolvePierConfig,
  selectBySimHash,
  serializeReranker,
  simHash,
  simHashPlanes,
  targetAttention,
  toBatchTensors,
  type PierConfig,
  type ScoreUsage,
} from '../src/index';
import { expectClose, randomData, useBackend, PLANTED, plantedTask, trainSteps } from './helpers';

beforeAll(async () => {
  await useBackend('cpu');
});

const { numItems: NUM_ITEMS, numUsers: NUM_USERS, batch: B, listSize: L, history: H } = PLANTED;
const small: PierConfig = {
  numItems: NUM_ITEMS,
  numUsers: NUM_USERS,
  dim: 16,
  heads: 2,
  ffnDim: 32,
  mlpDim: 16,
  blocks: 1,
  maxListSize: L,
  historyLength: H,
  seed: 3,
};

const inference = { training: false };

describe('Pier config', () => {
  it('fills defaults and rejects bad values with clear errors', () => {
    const c = resolvePierConfig({ numItems: 10, numUsers: 2 });
    expect(c).toMatchObject({
      dim: 128,
      heads: 4,
      blocks: 1,
      ffnDim: 256,
      scoreUsage: 'none',
      maxListSize: 50,
      permutationLength: 6,
      numPermutations: 20,
      keepPermutations: 5,
      distanceBias: true,
      rankEmbedding: true,
    });
    const bad = (extra: Record<string, unknown>) => () =>
      resolvePierConfig({ numItems: 10, numUsers: 2, ...extra } as PierConfig);
    expect(bad({ dim: 10, heads: 4 })).toThrow(/divisible/);
    expect(bad({ seed: 0 })).toThrow(/non-zero/);
    expect(bad({ scoreUsage: 'mul' as ScoreUsage })).toThrow(/scoreUsage/);
    expect(bad({ blocks: -1 })).toThrow(/'blocks'/);
    expect(bad({ keepPermutations: 0 })).toThrow(/'keepPermutations'/);
    expect(bad({ permutationLength: 60 })).toThrow(/exceeds maxListSize/);
    expect(bad({ dropout: 1 })).toThrow(/'dropout'/);
    expect(bad({ distanceBias: 'yes' })).toThrow(/boolean/);
    expect(bad({ numItem: 3 })).toThrow(/unknown Pier config key 'numItem'/);
  });
});

describe('Pier scoring', () => {
  it('scores [B, L]; score == scoreWithState(encodeUser); the state is [B, 1 + 2H, d]', () => {
    const m = new Pier(small);
    const batch = toBatchTensors(plantedTask(1).arrays);
    const y = m.score(batch, inference);
    expect(y.shape).toEqual([B, L]);
    expect(y.dtype).toBe('float32');
    const state = m.encodeUser(batch, inference);
    expect(state.shape).toEqual([B, 1 + 2 * H, 16]);
    expectClose(m.scoreWithState(batch, state, inference).dataSync(), y.dataSync(), 1e-6, 'state');
    expect(() => m.scoreWithState(batch, tf.zeros([B, 16]), inference)).toThrow(
      /state must be \[16,13,16\]/,
    );
    const withDefaultRanks = m.score(
      {
        ...batch,
        ranks: tf.tensor2d(
          Int32Array.from({ length: B * L }, (_, i) => i % L),
          [B, L],
          'int32',
        ),
      },
      inference,
    );
    expectClose(withDefaultRanks.dataSync(), y.dataSync(), 1e-6, 'explicit default ranks');
    m.dispose();
    expect(() => m.score(batch, inference)).toThrow(/disposed/);
    disposeBatch(batch);
  });

  it('is permutation-equivariant given the ranks: reordering the tensor with its ranks permutes the logits', () => {
    const m = new Pier({ ...small, scoreUsage: 'concat', blocks: 2 });
    // the distance bias starts at 0: give it values so that the distance path matters here
    m.setWeights(
      m
        .getWeights()
        .map((w) =>
          w.name === 'distance_bias' ? { ...w, data: randomData(w.data.length, 3) } : w,
        ),
    );
    const { arrays } = plantedTask(2);
    const ranks = new Int32Array(B * L);
    for (let i = 0; i < B * L; i++) ranks[i] = (3 * (i % L) + 1) % L; // a permutation of 0..9
    const perm = [4, 2, 9, 0, 7, 1, 8, 3, 6, 5]; // new position j holds old position perm[j]
    const reorder = <T extends Int32Array | Float32Array>(a: T): T => {
      const out = a.slice() as T;
      for (let b = 0; b < B; b++) {
        for (let j = 0; j < L; j++) out[b * L + j] = a[b * L + (perm[j] as number)] as number;
      }
      return out;
    };
    const b1 = toBatchTensors({ ...arrays, ranks });
    const b2 = toBatchTensors({
      ...arrays,
      items: reorder(arrays.items),
      scores: reorder(arrays.scores),
      ranks: reorder(ranks),
    });
    const y1 = m.score(b1, inference).dataSync();
    const y2 = m.score(b2, inference).dataSync();
    expectClose(y2, reorder(Float32Array.from(y1)), 1e-5, 'equivariance');
    // the same content with other ranks scores differently (ranks reach the model)
    const b3 = toBatchTensors(arrays);
    expect(Array.from(m.score(b3, inference).dataSync())).not.toEqual(Array.from(y1));
    m.dispose();
    [b1, b2, b3].forEach(disposeBatch);
  });

  it('scoreUsage concat/add/weight make the output depend on the scores; none does not', () => {
    const { arrays } = plantedTask(3);
    for (const usage of ['none', 'concat', 'add', 'weight'] as const) {
      const m = new Pier({ ...small, scoreUsage: usage });
      const b1 = toBatchTensors(arrays);
      const b2 = toBatchTensors({ ...arrays, scores: arrays.scores.map((v) => v * 2 + 1) });
      const same =
        Array.from(m.score(b1, inference).dataSync()).join() ===
        Array.from(m.score(b2, inference).dataSync()).join();
      expect(same, usage).toBe(usage === 'none');
      m.dispose();
      disposeBatch(b1);
      disposeBatch(b2);
    }
  });

  it('dropout: training outputs differ from inference and are reproducible for a seed', () => {
    const batch = toBatchTensors(plantedTask(2).arrays);
    const a = new Pier({ ...small, dropout: 0.3 });
    const b = new Pier({ ...small, dropout: 0.3 });
    const ta = a.score(batch, { training: true }).dataSync();
    expect(Array.from(b.score(batch, { training: true }).dataSync())).toEqual(Array.from(ta));
    expect(Array.from(a.score(batch, inference).dataSync())).not.toEqual(Array.from(ta));
    a.dispose();
    b.dispose();
    disposeBatch(batch);
  });

  it('setRandomEpoch re-derives the dropout masks from (seed, epoch), for resumable training', () => {
    const batch = toBatchTensors(plantedTask(2).arrays);
    const m = new Pier({ ...small, dropout: 0.3 });
    const draw = (epoch: number) => {
      m.setRandomEpoch(epoch);
      const out = m.score(batch, { training: true });
      const values = Array.from(out.dataSync());
      out.dispose();
      return values;
    };
    const e3 = draw(3);
    draw(4);
    expect(draw(3)).toEqual(e3);
    expect(draw(4)).not.toEqual(e3);
    m.dispose();
    disposeBatch(batch);
  });

  it.each(['none', 'concat', 'add', 'weight'] as const)(
    'learns a planted task within 30 Adam steps (scoreUsage %s)',
    (scoreUsage) => {
      const m = new Pier({ ...small, scoreUsage, dropout: 0 });
      const losses = trainSteps(m, 30);
      const first = losses[0] ?? NaN;
      const last = losses.slice(-3).reduce((a, b) => a + b, 0) / 3;
      expect(first).toBeGreaterThan(0.5);
      expect(last).toBeLessThan(0.6 * first);
      m.dispose();
    },
  );

  it('a training step leaks no tensors (and dispose frees everything)', () => {
    const start = tf.memory().numTensors;
    const m = new Pier({ ...small, scoreUsage: 'add' });
    const { arrays, labels } = plantedTask(4);
    const batch = toBatchTensors(arrays);
    batch.ranks = ranksFromScores(batch.scores);
    const y = tf.tensor2d(labels, [B, L]);
    const opt = tf.train.adam(0.01);
    const step = () => {
      tf.tidy(() => {
        opt.minimize(
          () => {
            const state = m.encodeUser(batch, { training: true });
            const real = m.scoreWithState(batch, state, { training: true });
            return tf.losses.sigmoidCrossEntropy(y, real) as Scalar;
          },
          false,
          m.trainableVariables(),
        );
      });
    };
    step(); // creates Adam's slots
    const before = tf.memory().numTensors;
    step();
    step();
    expect(tf.memory().numTensors).toBe(before);
    m.dispose();
    opt.dispose();
    y.dispose();
    disposeBatch(batch);
    expect(tf.memory().numTensors).toBe(start);
  });
  it('gives the same output on wasm as on cpu, trains on wasm, and learns the distance bias', async () => {
    const run = () => {
      const m = new Pier({ ...small, scoreUsage: 'add', blocks: 2 });
      const batch = toBatchTensors(plantedTask(6).arrays);
      batch.ranks = ranksFromScores(batch.scores);
      const out = m.score(batch, inference).dataSync();
      m.dispose();
      disposeBatch(batch);
      return out;
    };
    const a = run();
    await useBackend('wasm');
    try {
      const b = run();
      expectClose(b, a, 1e-4, 'wasm vs cpu');
      const m = new Pier({ ...small, dropout: 0 });
      const losses = trainSteps(m, 3);
      expect(losses.every(Number.isFinite)).toBe(true);
      // the distance-bias table starts at 0 and gets gradients through the rank distances
      const table = m.getWeights().find((w) => w.name === 'distance_bias');
      expect(table?.shape).toEqual([L, 2]);
      expect(Math.max(...Array.from(table?.data ?? []).map(Math.abs))).toBeGreaterThan(1e-3);
      m.dispose();
    } finally {
      await useBackend('cpu');
    }
  });
});

describe('Pier save / load and registry', () => {
  it('round-trips through the binary format with identical outputs; shape mismatches are named', () => {
    const model = new Pier({ ...small, scoreUsage: 'weight', seed: 9 });
    const batch = toBatchTensors(plantedTask(6).arrays);
    const before = model.score(batch, inference).dataSync();
    const data = decodeReranker(encodeReranker(serializeReranker(model)));
    expect(data.name).toBe('pier');
    const loaded = loadReranker(data);
    expect(loaded).toBeInstanceOf(Pier);
    expect(loaded.countParams()).toBe(model.countParams());
    expect(Array.from(loaded.score(batch, inference).dataSync())).toEqual(Array.from(before));
    expect(() => loadReranker({ ...data, config: { ...data.config, heads: 4 } })).toThrow(
      /weight 'distance_bias' has shape \[10,2\] but the model built from the config expects \[10,4\]/,
    );
    model.dispose();
    loaded.dispose();
    disposeBatch(batch);
  });

  it("createReranker('pier', config) builds a Pier", () => {
    expect(listRerankers()).toContain('pier');
    const m = createReranker('pier', small);
    expect(m).toBeInstanceOf(Pier);
    expect(m.name).toBe('pier');
    expect(m.config).toMatchObject({ dim: 16, permutationLength: 6 });
    m.dispose();
    expect(() => createReranker('pier', { ...small, dimm: 3 } as never)).toThrow(
      /unknown Pier config key 'dimm'/,
    );
  });
});

describe('omnidirectional (distance-aware) attention', () => {
  const d = 8;
  const heads = 2;
  const l = 4;

  it('with all-zero content the weights are a softmax of the distance bias only (hand-computed)', () => {
    const store = new ParamStore(5);
    const p = createTransformerBlockParams(store, 'b', d, 16).attention; // zero biases
    // table[dist, h] = -(h + 1) * dist / 2
    const tableData = new Float32Array(l * heads);
    for (let t = 0; t < l; t++)
      for (let h = 0; h < heads; h++) tableData[t * heads + h] = (-(h + 1) * t) / 2;
    const positions = [
      [0, 1, 2, 3],
      [3, 0, 2, 1],
    ];
    tf.tidy(() => {
      const table = tf.tensor2d(tableData, [l, heads]);
      const pos = tf.tensor2d(positions.flat(), [2, l], 'int32');
      const bias = distanceBias(table, l, pos);
      expect(bias.shape).toEqual([2, heads, l, l]);
      const { probs } = omnidirectionalAttentionWithProbs(
        tf.zeros([2 * l, d]),
        p,
        { batch: 2, length: l, heads, training: false, dropout: 0 },
        bias,
      );
      const got = probs.arraySync();
      for (let b = 0; b < 2; b++) {
        const r = positions[b] as number[];
        for (let h = 0; h < heads; h++) {
          for (let i = 0; i < l; i++) {
            const w = r.map((rj) => Math.exp((-(h + 1) * Math.abs((r[i] as number) - rj)) / 2));
            const z = w.reduce((a, v) => a + v, 0);
            for (let j = 0; j < l; j++) {
              const pij = got[b]?.[h]?.[i]?.[j] as number;
              expect(pij).toBeCloseTo((w[j] as number) / z, 6);
              // symmetric in i <-> j up to each row's normalisation
              const pji = got[b]?.[h]?.[j]?.[i] as number;
              const pii = got[b]?.[h]?.[i]?.[i] as number;
              const pjj = got[b]?.[h]?.[j]?.[j] as number;
              expect(pij / pii).toBeCloseTo(pji / pjj, 6);
            }
          }
        }
      }
      // omitted positions = tensor order 0..L-1, shared by the batch
      const shared = distanceBias(table, l);
      expect(shared.shape).toEqual([1, heads, l, l]);
      expectClose(
        shared.dataSync(),
        (tf.slice(bias, [0, 0, 0, 0], [1, heads, l, l]) as Tensor4D).dataSync(),
        0,
        'default positions',
      );
    });
    store.dispose();
  });

  it("with a zero bias it equals the engine's multi-head self-attention", () => {
    const store = new ParamStore(6);
    const p = createTransformerBlockParams(store, 'b', d, 16).attention;
    tf.tidy(() => {
      const x = tf.tensor2d(randomData(3 * l * d, 11), [3 * l, d]);
      const ctx = { batch: 3, length: l, heads, training: false, dropout: 0 };
      const bias = distanceBias(tf.zeros([l, heads]) as Tensor2D, l);
      const ours = omnidirectionalAttentionWithProbs(x, p, ctx, bias).output;
      expectClose(ours.dataSync(), multiHeadSelfAttention(x, p, ctx).dataSync(), 1e-5, 'mhsa');
    });
    store.dispose();
  });

  it('target attention: one real history item gets all the weight; an all-padding history gives bo', () => {
    tf.tidy(() => {
      const hl = 3;
      const wq = tf.tensor2d(randomData(d * d, 1), [d, d]);
      const bq = tf.tensor1d(randomData(d, 2));
      const wo = tf.tensor2d(randomData(d * d, 3), [d, d]);
      const bo = tf.tensor1d(randomData(d, 4));
      const query = tf.tensor2d(randomData(2 * l * d, 5), [2 * l, d]);
      const keys = tf.tensor3d(randomData(2 * hl * d, 6), [2, hl, d]);
      const values = tf.tensor3d(randomData(2 * hl * d, 7), [2, hl, d]);
      const valid = tf.tensor2d([0, 1, 0, 0, 0, 0], [2, hl]);
      const out = targetAttention(
        query,
        keys,
        values,
        valid,
        { wq, bq, wo, bo },
        {
          batch: 2,
          length: l,
          heads,
        },
      ).arraySync();
      const v1 = tf.slice(values, [0, 1, 0], [1, 1, d]).reshape([1, d]) as Tensor2D;
      const expected0 = tf.add(tf.matMul(v1, wo), bo).dataSync();
      const bias = bo.dataSync();
      for (let i = 0; i < l; i++) {
        expectClose(out[i] as number[], expected0, 1e-5, `list 0, item ${i}`);
        expectClose(out[l + i] as number[], bias, 1e-6, `list 1 (no history), item ${i}`);
      }
      expect((keys as Tensor3D).shape).toEqual([2, hl, d]);
    });
  });
});

describe('FPSM helpers', () => {
  it('position weights and permutation embeddings are 1/log2(pos + 2)-weighted sums', () => {
    expect(positionWeight(0)).toBe(1);
    expect(positionWeight(1)).toBeCloseTo(1 / Math.log2(3), 12);
    expect(positionWeight(2)).toBe(0.5);
    // 4 candidates with 2-d embeddings (c, 10 c)
    const emb = Float32Array.from([0, 0, 1, 10, 2, 20, 3, 30]);
    const v = permutationEmbedding([3, 1, 2], emb, 2);
    const w1 = 1 / Math.log2(3);
    expect(v[0]).toBeCloseTo(3 + w1 * 1 + 0.5 * 2, 6);
    expect(v[1]).toBeCloseTo(30 + w1 * 10 + 0.5 * 20, 5);
  });

  it('SimHash: bit i = [plane_i · v > 0]; Hamming similarity counts equal bits; selection keeps ties in order', () => {
    const planes = Float64Array.from([1, 0, 0, 1, 1, 1, 1, -1]); // 4 planes in 2-d
    expect(Array.from(simHash([2, -1], planes, 4))).toEqual([1, 0, 1, 1]);
    expect(Array.from(simHash([0, 0], planes, 4))).toEqual([0, 0, 0, 0]);
    expect(hammingSimilarity(Uint8Array.from([1, 0, 1, 1]), Uint8Array.from([1, 1, 0, 1]))).toBe(2);
    const sigs = [
      [0, 0, 0, 0],
      [1, 0, 1, 1],
      [1, 0, 1, 0],
      [1, 0, 0, 1],
    ].map((s) => Uint8Array.from(s));
    expect(selectBySimHash(sigs, Uint8Array.from([1, 0, 1, 1]), 3)).toEqual([1, 2, 3]);
    expect(selectBySimHash(sigs, Uint8Array.from([0, 0, 0, 0]), 2)).toEqual([0, 2]);
    const a = simHashPlanes(8, 4, 3);
    expect(a.length).toBe(32);
    expect(Array.from(simHashPlanes(8, 4, 3))).toEqual(Array.from(a));
    expect(Array.from(simHashPlanes(8, 4, 4))).not.toEqual(Array.from(a));
  });

  it('candidate permutations: the base first, then distinct one-swap variants from the rest', () => {
    const order = [7, 3, 9, 0, 1, 2, 4, 5, 6, 8];
    const perms = candidatePermutations(order, 4, 12, mulberry32(42));
    expect(perms.length).toBe(13);
    expect(Array.from(perms[0] as Int32Array)).toEqual([7, 3, 9, 0]);
    const keys = new Set(perms.map((p) => p.join(',')));
    expect(keys.size).toBe(13);
    for (const p of perms.slice(1)) {
      const diff = [...p].map((v, i) => (v === order[i] ? -1 : i)).filter((i) => i >= 0);
      expect(diff.length).toBe(1);
      expect(order.slice(4)).toContain(p[diff[0] as number]);
    }
    // only K * (L - K) = 2 variants exist for K = 2, L = 3
    expect(candidatePermutations([0, 1, 2], 2, 10, mulberry32(1)).length).toBe(3);
    expect(candidatePermutations([0, 1, 2], 3, 10, mulberry32(1)).length).toBe(1);
    expect(() => candidatePermutations([0, 1], 3, 1, mulberry32(1))).toThrow(/length 3/);
  });

  it('interest embedding: softmax(v · e_j / sqrt d)-weighted history; zero for an empty history', () => {
    const hist = [1, 0, 0, 1, 5, 5]; // 3 items in 2-d; the last is padding
    const v = interestEmbedding([2, 0], hist, [1, 1, 0]);
    const a = Math.exp(2 / Math.SQRT2);
    const z = a + 1;
    expect(v[0]).toBeCloseTo(a / z, 12);
    expect(v[1]).toBeCloseTo(1 / z, 12);
    expect(Array.from(interestEmbedding([2, 0], hist, [0, 0, 0]))).toEqual([0, 0]);
  });
});

describe('Pier.rerank (FPSM + OCPM)', () => {
  const topK = (scores: Float32Array, b: number, k: number) =>
    Array.from(scores.subarray(b * L, (b + 1) * L))
      .map((s, i) => [s, i] as const)
      .sort((x, y) => y[0] - x[0] || x[1] - y[1])
      .slice(0, k)
      .map(([, i]) => i);

  it('returns K distinct valid candidates per list; numPermutations = 0 gives the top-K by score', () => {
    const m = new Pier(small);
    const batch = toBatchTensors(plantedTask(8).arrays);
    batch.ranks = ranksFromScores(batch.scores);
    const start = tf.memory().numTensors;
    const res = m.rerank(batch);
    expect(tf.memory().numTensors).toBe(start);
    expect(res.permutation.length).toBe(B * 6);
    expect(res.scores.length).toBe(B * L);
    expectClose(res.scores, m.score(batch, inference).dataSync(), 1e-6, 'scores');
    for (let b = 0; b < B; b++) {
      const p = Array.from(res.permutation.subarray(b * 6, (b + 1) * 6));
      expect(new Set(p).size).toBe(6);
      expect(p.every((i) => Number.isInteger(i) && i >= 0 && i < L)).toBe(true);
      expect(res.reward[b]).toBeGreaterThan(0);
      expect(res.reward[b]).toBeLessThan(6);
    }
    const base = m.rerank(batch, { numPermutations: 0 });
    for (let b = 0; b < B; b++) {
      expect(Array.from(base.permutation.subarray(b * 6, (b + 1) * 6))).toEqual(
        topK(base.scores, b, 6),
      );
    }
    // evaluating every permutation (M = all) can only raise OCPM's reward over the base list
    const all = m.rerank(batch, { numPermutations: 8, keepPermutations: 9 });
    let improved = 0;
    for (let b = 0; b < B; b++) {
      expect(all.reward[b] as number).toBeGreaterThanOrEqual((base.reward[b] as number) - 1e-5);
      if ((all.reward[b] as number) > (base.reward[b] as number) + 1e-6) improved++;
    }
    expect(improved).toBeGreaterThan(0);
    // deterministic for a seed
    expect(Array.from(m.rerank(batch).permutation)).toEqual(Array.from(res.permutation));
    expect(() => m.rerank(batch, { permutationLength: L + 1 })).toThrow(/permutationLength/);
    m.dispose();
    disposeBatch(batch);
  });
});

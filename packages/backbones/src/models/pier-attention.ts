/**
 * Pier's attention layers, composed from the engine's primitives ({@link dense},
 * {@link batchedMatMul}, {@link layerNorm}, {@link feedForward}, {@link seededDropout}):
 *
 * - {@link omnidirectionalAttention}: bidirectional multi-head self-attention over a list with an
 *   additive, learned per-head bias indexed by the distance `|p_i - p_j|` between the list
 *   positions of the two items (OCPM's "omnidirectional, distance-aware" attention).
 * - {@link omnidirectionalBlock}: that attention inside a Transformer encoder block.
 * - {@link targetAttention}: each list item (query) attends to the user history (keys / values).
 *
 * The engine's `multiHeadSelfAttention` only takes a per-key mask `[B, L]`, not a pairwise bias
 * `[B, h, L, L]`, so the self-attention core is written here with the same layout (2-D dense
 * projections, one reshape + transpose per head split, SIMD batched matMuls).
 */
import * as tf from '@tensorflow/tfjs-core';
import type { Tensor, Tensor1D, Tensor2D, Tensor3D, Tensor4D } from '@tensorflow/tfjs-core';
import { dense } from '../engine/dense';
import { seededDropout } from '../engine/dropout';
import { embeddingLookup } from '../engine/embedding';
import { layerNorm } from '../engine/layer-norm';
import { batchedMatMul } from '../engine/simd-bmm';
import {
  feedForward,
  type AttentionContext,
  type AttentionParams,
  type NormPlacement,
  type TransformerBlockParams,
} from '../engine/transformer';

function dropoutIf(x: Tensor, rate: number, ctx: AttentionContext): Tensor {
  if (!ctx.training || rate === 0) return x;
  if (!ctx.seeds) throw new Error('dropout in training mode needs a SeedSequence (ctx.seeds)');
  return seededDropout(x, rate, ctx.seeds.next());
}

/**
 * The additive attention bias of every (query, key) pair from a learned table indexed by the
 * distance of their list positions: `bias[b, h, i, j] = table[min(|p_bi - p_bj|, D - 1), h]`.
 *
 * @param table float32 `[D, heads]` (one learned scalar per distance and head)
 * @param length list length L
 * @param positions optional int32 `[B, L]` position of each item in its list (e.g. its retriever
 *   rank); omitted: the tensor order `0..L-1` for every list (then one bias is shared by the batch)
 * @returns float32 `[B, heads, L, L]`, or `[1, heads, L, L]` when `positions` is omitted
 */
export function distanceBias(table: Tensor2D, length: number, positions?: Tensor2D): Tensor4D {
  const [maxDistance, heads] = table.shape;
  const l = length;
  if (!positions) {
    const ids = new Int32Array(l * l);
    for (let i = 0; i < l; i++) {
      for (let j = 0; j < l; j++) ids[i * l + j] = Math.min(Math.abs(i - j), maxDistance - 1);
    }
    const rows = embeddingLookup(table, tf.tensor1d(ids, 'int32')); // [L*L, h]
    return tf.reshape(tf.transpose(tf.reshape(rows, [l, l, heads]), [2, 0, 1]), [1, heads, l, l]);
  }
  if (positions.rank !== 2 || positions.shape[1] !== l) {
    throw new Error(`positions must be [B, ${l}], got [${positions.shape.join(',')}]`);
  }
  const b = positions.shape[0];
  const p = tf.cast(positions, 'float32');
  const dist = tf.abs(tf.sub(tf.reshape(p, [b, l, 1]), tf.reshape(p, [b, 1, l])));
  const ids = tf.cast(tf.minimum(dist, maxDistance - 1), 'int32');
  const rows = embeddingLookup(table, tf.reshape(ids, [b * l * l])); // [B*L*L, h]
  return tf.transpose(tf.reshape(rows, [b, l, l, heads]), [0, 3, 1, 2]);
}

/** Output and attention probabilities of {@link omnidirectionalAttentionWithProbs}. */
export interface AttentionResult {
  /** float32 `[B*L, d]` */
  output: Tensor2D;
  /** float32 `[B, heads, L, L]`: softmax over keys (before attention dropout) */
  probs: Tensor4D;
}

/**
 * {@link omnidirectionalAttention} that also returns the attention probabilities (for tests and
 * inspection).
 */
export function omnidirectionalAttentionWithProbs(
  x: Tensor2D,
  p: AttentionParams,
  ctx: AttentionContext,
  pairBias?: Tensor4D,
): AttentionResult {
  const { batch: b, length: l, heads: h } = ctx;
  const d = x.shape[1];
  if (x.shape[0] !== b * l) {
    throw new Error(`attention: x has ${x.shape[0]} rows, expected batch*length = ${b * l}`);
  }
  if (d % h !== 0) throw new Error(`attention: dim ${d} is not divisible by heads ${h}`);
  if (pairBias) {
    const [pb, ph, pl, pl2] = pairBias.shape;
    if ((pb !== b && pb !== 1) || ph !== h || pl !== l || pl2 !== l) {
      throw new Error(
        `attention: pairBias must be [${b} or 1, ${h}, ${l}, ${l}], got [${pairBias.shape.join(',')}]`,
      );
    }
  }
  const dk = d / h;
  const scale = 1 / Math.sqrt(dk);
  const toHeads = (t: Tensor2D): Tensor3D =>
    tf.reshape(tf.transpose(tf.reshape(t, [b, l, h, dk]), [0, 2, 1, 3]), [b * h, l, dk]);
  const q = toHeads(tf.mul(dense(x, p.wq as Tensor2D, p.bq as Tensor1D), scale));
  const k = toHeads(dense(x, p.wk as Tensor2D, p.bk as Tensor1D));
  const v = toHeads(dense(x, p.wv as Tensor2D, p.bv as Tensor1D));
  let scores: Tensor = tf.reshape(batchedMatMul(q, tf.transpose(k, [0, 2, 1])), [b, h, l, l]);
  if (pairBias) scores = tf.add(scores, pairBias);
  if (ctx.keyBias) scores = tf.add(scores, tf.reshape(ctx.keyBias, [b, 1, 1, l]));
  const probs = tf.softmax(scores) as Tensor4D;
  const dropped = dropoutIf(tf.reshape(probs, [b * h, l, l]), ctx.attentionDropout ?? 0, ctx);
  const o = batchedMatMul(dropped as Tensor3D, v); // [B*h, L, dk]
  const merged = tf.reshape(tf.transpose(tf.reshape(o, [b, h, l, dk]), [0, 2, 1, 3]), [b * l, d]);
  return { output: dense(merged as Tensor2D, p.wo as Tensor2D, p.bo as Tensor1D), probs };
}

/**
 * Omnidirectional (bidirectional, distance-aware) multi-head self-attention:
 * `softmax(Q Kᵀ / sqrt(dk) + pairBias [+ keyBias]) V`, then the output projection. Every item
 * attends to every item of its list (no causal mask); `pairBias` (e.g. {@link distanceBias}) makes
 * the weights depend on how far apart two items are in the list.
 *
 * @param x float32 `[B*L, d]`, list-major rows
 * @param p the layer's weights (same layout as the engine's attention)
 * @param ctx shapes, optional key mask and dropout
 * @param pairBias optional float32 `[B, heads, L, L]` or `[1, heads, L, L]`
 * @returns float32 `[B*L, d]`
 */
export function omnidirectionalAttention(
  x: Tensor2D,
  p: AttentionParams,
  ctx: AttentionContext,
  pairBias?: Tensor4D,
): Tensor2D {
  return omnidirectionalAttentionWithProbs(x, p, ctx, pairBias).output;
}

/**
 * A Transformer encoder block around {@link omnidirectionalAttention} (same structure and
 * parameter layout as the engine's `transformerBlock`). `post`:
 * `x = LN(x + Drop(MHA(x))); x = LN(x + Drop(FFN(x)))`; `pre`: `x = x + Drop(MHA(LN(x)))`, ...
 *
 * @param x float32 `[B*L, d]`
 * @param pairBias optional float32 `[B | 1, heads, L, L]`
 * @returns float32 `[B*L, d]`
 */
export function omnidirectionalBlock(
  x: Tensor2D,
  p: TransformerBlockParams,
  ctx: AttentionContext,
  pairBias: Tensor4D | undefined,
  norm: NormPlacement = 'post',
): Tensor2D {
  const ln1 = (t: Tensor2D) => layerNorm(t, p.norm1Gamma as Tensor1D, p.norm1Beta as Tensor1D);
  const ln2 = (t: Tensor2D) => layerNorm(t, p.norm2Gamma as Tensor1D, p.norm2Beta as Tensor1D);
  const attend = (t: Tensor2D) =>
    dropoutIf(omnidirectionalAttention(t, p.attention, ctx, pairBias), ctx.dropout, ctx);
  if (norm === 'pre') {
    const x1 = tf.add(x, attend(ln1(x))) as Tensor2D;
    return tf.add(x1, dropoutIf(feedForward(ln2(x1), p.ffn), ctx.dropout, ctx)) as Tensor2D;
  }
  const x1 = ln1(tf.add(x, attend(x)) as Tensor2D);
  return ln2(tf.add(x1, dropoutIf(feedForward(x1, p.ffn), ctx.dropout, ctx)) as Tensor2D);
}

/**
 * Multi-head target attention: every list item attends to its user's history.
 * `out_i = Wo · concat_h softmax_j(q_i · k_j / sqrt(dk) + mask_j) v_j + bo`, with
 * `q_i = query_i Wq + bq`. Keys and values are given already projected (computed once per user,
 * see `Pier.encodeUser`). Lists whose history is all padding get a zero attention result (the
 * output is then the bias `bo`).
 *
 * @param query float32 `[B*L, d]` (e.g. candidate item embeddings)
 * @param keys float32 `[B, H, d]` projected history keys
 * @param values float32 `[B, H, d]` projected history values
 * @param valid float32 `[B, H]`: 1 for real history items, 0 for padding
 * @param wq float32 `[d, d]`, bq `[d]`, wo `[d, d]`, bo `[d]`
 * @returns float32 `[B*L, d]`
 */
export function targetAttention(
  query: Tensor2D,
  keys: Tensor3D,
  values: Tensor3D,
  valid: Tensor2D,
  w: { wq: Tensor2D; bq: Tensor1D; wo: Tensor2D; bo: Tensor1D },
  ctx: { batch: number; length: number; heads: number },
): Tensor2D {
  const { batch: b, length: l, heads: h } = ctx;
  const d = query.shape[1];
  const hl = keys.shape[1];
  if (query.shape[0] !== b * l) {
    throw new Error(`target attention: query has ${query.shape[0]} rows, expected ${b * l}`);
  }
  if (keys.shape[0] !== b || values.shape[0] !== b || valid.shape[0] !== b) {
    throw new Error(`target attention: keys, values and valid need ${b} rows`);
  }
  const dk = d / h;
  const q = tf.reshape(
    tf.transpose(
      tf.reshape(tf.mul(dense(query, w.wq, w.bq), 1 / Math.sqrt(dk)), [b, l, h, dk]),
      [0, 2, 1, 3],
    ),
    [b * h, l, dk],
  ) as Tensor3D;
  const kT = tf.reshape(tf.transpose(tf.reshape(keys, [b, hl, h, dk]), [0, 2, 3, 1]), [
    b * h,
    dk,
    hl,
  ]) as Tensor3D;
  const v = tf.reshape(tf.transpose(tf.reshape(values, [b, hl, h, dk]), [0, 2, 1, 3]), [
    b * h,
    hl,
    dk,
  ]) as Tensor3D;
  const mask = tf.reshape(tf.mul(tf.sub(1, valid), -1e9), [b, 1, 1, hl]);
  const scores = tf.add(tf.reshape(batchedMatMul(q, kT), [b, h, l, hl]), mask);
  const probs = tf.reshape(tf.softmax(scores), [b * h, l, hl]) as Tensor3D;
  const o = batchedMatMul(probs, v); // [B*h, L, dk]
  const merged = tf.transpose(tf.reshape(o, [b, h, l, dk]), [0, 2, 1, 3]); // [B, L, h, dk]
  const hasHistory = tf.reshape(tf.cast(tf.greater(tf.sum(valid, 1), 0), 'float32'), [b, 1, 1, 1]);
  const gated = tf.reshape(tf.mul(merged, hasHistory), [b * l, d]) as Tensor2D;
  return dense(gated, w.wo, w.bo);
}

import * as tf from '@tensorflow/tfjs-core';
import type { Tensor, Tensor1D, Tensor2D, Tensor3D, Variable } from '@tensorflow/tfjs-core';
import { dense } from './dense';
import { seededDropout } from './dropout';
import { layerNorm } from './layer-norm';
import { batchedMatMul } from './simd-bmm';
import type { ParamStore } from './params';
import type { SeedSequence } from './random';

/** Weights of one multi-head self-attention layer (projections stored as `[in, out]`). */
export interface AttentionParams {
  wq: Variable;
  bq: Variable;
  wk: Variable;
  bk: Variable;
  wv: Variable;
  bv: Variable;
  wo: Variable;
  bo: Variable;
}

/** Weights of a position-wise feed-forward network `dense(relu(dense(x)))`. */
export interface FfnParams {
  w1: Variable;
  b1: Variable;
  w2: Variable;
  b2: Variable;
}

/** Weights of one Transformer encoder block. */
export interface TransformerBlockParams {
  attention: AttentionParams;
  ffn: FfnParams;
  norm1Gamma: Variable;
  norm1Beta: Variable;
  norm2Gamma: Variable;
  norm2Beta: Variable;
}

/** Creates the weights of one encoder block under `prefix` (Glorot-uniform matrices, zero biases). */
export function createTransformerBlockParams(
  store: ParamStore,
  prefix: string,
  dim: number,
  ffnDim: number,
): TransformerBlockParams {
  const g = { kind: 'glorotUniform' } as const;
  const z = { kind: 'zeros' } as const;
  const mk = (n: string, shape: number[], init: Parameters<ParamStore['create']>[2]) =>
    store.create(`${prefix}/${n}`, shape, init);
  return {
    attention: {
      wq: mk('attention/wq', [dim, dim], g),
      bq: mk('attention/bq', [dim], z),
      wk: mk('attention/wk', [dim, dim], g),
      bk: mk('attention/bk', [dim], z),
      wv: mk('attention/wv', [dim, dim], g),
      bv: mk('attention/bv', [dim], z),
      wo: mk('attention/wo', [dim, dim], g),
      bo: mk('attention/bo', [dim], z),
    },
    ffn: {
      w1: mk('ffn/w1', [dim, ffnDim], g),
      b1: mk('ffn/b1', [ffnDim], z),
      w2: mk('ffn/w2', [ffnDim, dim], g),
      b2: mk('ffn/b2', [dim], z),
    },
    norm1Gamma: mk('norm1/gamma', [dim], { kind: 'ones' }),
    norm1Beta: mk('norm1/beta', [dim], z),
    norm2Gamma: mk('norm2/gamma', [dim], { kind: 'ones' }),
    norm2Beta: mk('norm2/beta', [dim], z),
  };
}

/** Shapes and switches for one attention / encoder-block call. */
export interface AttentionContext {
  /** Number of sequences B. */
  batch: number;
  /** Sequence length L (rows of the 2-D input are `B * L`, sequence-major). */
  length: number;
  /** Number of heads h (must divide the model dimension). */
  heads: number;
  /**
   * Optional additive key mask, float32 `[B, L]`: 0 for keys that may be attended, a large negative
   * number (e.g. -1e9) for padding keys. See {@link keyPaddingBias}.
   */
  keyBias?: Tensor2D;
  /** Training mode switches dropout on. */
  training: boolean;
  /** Dropout rate on the attention-block and FFN outputs (residual branches). */
  dropout: number;
  /** Dropout rate on the attention probabilities (default 0). */
  attentionDropout?: number;
  /** Where dropout seeds come from (required when training with a non-zero rate). */
  seeds?: SeedSequence;
}

/**
 * Builds the additive key mask for {@link multiHeadSelfAttention} from a 0/1 validity mask.
 * @param valid float32 `[B, L]` with 1 for real positions and 0 for padding
 * @returns float32 `[B, L]`: 0 where valid, -1e9 where padding
 */
export function keyPaddingBias(valid: Tensor2D): Tensor2D {
  return tf.mul(tf.sub(1, valid), -1e9);
}

function dropoutIf(x: Tensor, rate: number, ctx: AttentionContext): Tensor {
  if (!ctx.training || rate === 0) return x;
  if (!ctx.seeds) throw new Error('dropout in training mode needs a SeedSequence (ctx.seeds)');
  return seededDropout(x, rate, ctx.seeds.next());
}

/**
 * Multi-head self-attention on sequence-major rows.
 *
 * Layout (chosen by measurement on the wasm backend, see README): the four projections run as fast
 * 2-D {@link dense} calls on `[B*L, d]`; heads are split with one reshape + 4-D transpose to
 * `[B*h, L, dk]`; scores `Q K^T / sqrt(dk)` and `P V` are the only batched matMuls (inherent to
 * attention). tfjs-wasm runs every batched matMul on a slow scalar path, so they go through
 * {@link batchedMatMul} (a WebAssembly SIMD kernel on cpu/wasm, ~4-8x faster there; `tf.matMul`
 * on other backends); softmax over keys; heads are merged back with one transpose.
 *
 * @param x float32 `[B*L, d]`
 * @param p the layer's weights
 * @param ctx shapes, optional key mask and dropout
 * @returns float32 `[B*L, d]`
 */
export function multiHeadSelfAttention(
  x: Tensor2D,
  p: AttentionParams,
  ctx: AttentionContext,
): Tensor2D {
  const { batch: b, length: l, heads: h } = ctx;
  const d = x.shape[1];
  if (x.shape[0] !== b * l) {
    throw new Error(`attention: x has ${x.shape[0]} rows, expected batch*length = ${b * l}`);
  }
  if (d % h !== 0) throw new Error(`attention: dim ${d} is not divisible by heads ${h}`);
  const dk = d / h;
  const scale = 1 / Math.sqrt(dk);
  const toHeads = (t: Tensor2D): Tensor3D =>
    tf.reshape(tf.transpose(tf.reshape(t, [b, l, h, dk]), [0, 2, 1, 3]), [b * h, l, dk]);
  const q = toHeads(tf.mul(dense(x, p.wq as Tensor2D, p.bq as Tensor1D), scale));
  const k = toHeads(dense(x, p.wk as Tensor2D, p.bk as Tensor1D));
  const v = toHeads(dense(x, p.wv as Tensor2D, p.bv as Tensor1D));
  let scores: Tensor = batchedMatMul(q, tf.transpose(k, [0, 2, 1])); // [B*h, L, L]
  if (ctx.keyBias) {
    scores = tf.reshape(
      tf.add(tf.reshape(scores, [b, h, l, l]), tf.reshape(ctx.keyBias, [b, 1, 1, l])),
      [b * h, l, l],
    );
  }
  let probs: Tensor = tf.softmax(scores);
  probs = dropoutIf(probs, ctx.attentionDropout ?? 0, ctx);
  const o = batchedMatMul(probs as Tensor3D, v); // [B*h, L, dk]
  const merged = tf.reshape(tf.transpose(tf.reshape(o, [b, h, l, dk]), [0, 2, 1, 3]), [b * l, d]);
  return dense(merged as Tensor2D, p.wo as Tensor2D, p.bo as Tensor1D);
}

/**
 * Position-wise feed-forward network `relu(x W1 + b1) W2 + b2` (relu fused into the first matMul).
 * @param x float32 `[N, d]`
 * @returns float32 `[N, d]`
 */
export function feedForward(x: Tensor2D, p: FfnParams): Tensor2D {
  const hidden = dense(x, p.w1 as Tensor2D, p.b1 as Tensor1D, 'relu');
  return dense(hidden, p.w2 as Tensor2D, p.b2 as Tensor1D);
}

/** Where the layer norms sit in an encoder block. */
export type NormPlacement = 'post' | 'pre';

/**
 * One Transformer encoder block (Vaswani et al. 2017) on sequence-major rows.
 * `post` (default, as the original Transformer and PyTorch's default):
 * `x = LN(x + Drop(MHA(x)))`, `x = LN(x + Drop(FFN(x)))`.
 * `pre`: `x = x + Drop(MHA(LN(x)))`, `x = x + Drop(FFN(LN(x)))`.
 *
 * @param x float32 `[B*L, d]`
 * @returns float32 `[B*L, d]`
 */
export function transformerBlock(
  x: Tensor2D,
  p: TransformerBlockParams,
  ctx: AttentionContext,
  norm: NormPlacement = 'post',
): Tensor2D {
  const ln1 = (t: Tensor2D) => layerNorm(t, p.norm1Gamma as Tensor1D, p.norm1Beta as Tensor1D);
  const ln2 = (t: Tensor2D) => layerNorm(t, p.norm2Gamma as Tensor1D, p.norm2Beta as Tensor1D);
  if (norm === 'pre') {
    const a = dropoutIf(multiHeadSelfAttention(ln1(x), p.attention, ctx), ctx.dropout, ctx);
    const x1 = tf.add(x, a) as Tensor2D;
    const f = dropoutIf(feedForward(ln2(x1), p.ffn), ctx.dropout, ctx);
    return tf.add(x1, f) as Tensor2D;
  }
  const a = dropoutIf(multiHeadSelfAttention(x, p.attention, ctx), ctx.dropout, ctx);
  const x1 = ln1(tf.add(x, a) as Tensor2D);
  const f = dropoutIf(feedForward(x1, p.ffn), ctx.dropout, ctx);
  return ln2(tf.add(x1, f) as Tensor2D);
}

/**
 * Reference multi-head self-attention written the plain way (tf.matMul with default gradients,
 * per-head slices), for tests. Same inputs and output as {@link multiHeadSelfAttention}, no dropout.
 */
export function multiHeadSelfAttentionReference(
  x: Tensor2D,
  p: AttentionParams,
  batch: number,
  length: number,
  heads: number,
  keyBias?: Tensor2D,
): Tensor2D {
  const d = x.shape[1];
  const dk = d / heads;
  const proj = (w: Variable, bias: Variable) =>
    tf.reshape(tf.add(tf.matMul(x, w), bias), [batch, length, d]);
  const q = proj(p.wq, p.bq);
  const k = proj(p.wk, p.bk);
  const v = proj(p.wv, p.bv);
  const outs: Tensor[] = [];
  for (let i = 0; i < heads; i++) {
    const sl = (t: Tensor) => tf.slice(t, [0, 0, i * dk], [batch, length, dk]) as Tensor3D;
    let s: Tensor = tf.div(tf.matMul(sl(q), sl(k), false, true), Math.sqrt(dk));
    if (keyBias) s = tf.add(s, tf.reshape(keyBias, [batch, 1, length]));
    outs.push(tf.matMul(tf.softmax(s) as Tensor3D, sl(v)));
  }
  const merged = tf.reshape(tf.concat(outs, 2), [batch * length, d]);
  return tf.add(tf.matMul(merged, p.wo), p.bo) as Tensor2D;
}

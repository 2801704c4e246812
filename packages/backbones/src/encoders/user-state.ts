import * as tf from '@tensorflow/tfjs-core';
import type { Tensor, Tensor1D, Tensor2D, Variable } from '@tensorflow/tfjs-core';
import { seededDropout } from '../engine/dropout';
import { embeddingLookup } from '../engine/embedding';
import type { ParamStore } from '../engine/params';
import type { SeedSequence } from '../engine/random';
import {
  createTransformerBlockParams,
  keyPaddingBias,
  transformerBlock,
  type NormPlacement,
  type TransformerBlockParams,
} from '../engine/transformer';

/** Maps item ids int32 `[N]` to their representations float32 `[N, d]` (e.g. an embedding lookup). */
export type ItemLookup = (ids: Tensor1D) => Tensor2D;

/** How the history is encoded into the user state. */
export type UserEncoderKind = 'transformer' | 'mean';

/** Settings of {@link UserStateEncoder} (all required here; models fill the defaults). */
export interface UserStateEncoderOptions {
  /** `'transformer'`: item + position embeddings -> 1 encoder block -> masked mean; `'mean'`: masked mean of item embeddings. */
  kind: UserEncoderKind;
  /** Model width d. */
  dim: number;
  /** Longest history H the positional table covers. */
  historyLength: number;
  /** Heads of the encoder block. */
  heads: number;
  /** Hidden width of the block's FFN. */
  ffnDim: number;
  /** Dropout on the block's inputs and residual branches. */
  dropout: number;
  /** Dropout on attention probabilities. */
  attentionDropout: number;
  /** Layer-norm placement of the block. */
  norm: NormPlacement;
  /** Add a learned user-ID embedding to the pooled history. */
  userEmbedding: boolean;
  /** Number of users (rows of the user table). */
  numUsers: number;
  /** Number of items; `numItems` is the history padding index. */
  numItems: number;
}

/**
 * Shared user-state encoder over the interaction history (protocol section 4): item embeddings
 * (shared table, or a lookup function such as a model's item representation, passed in) plus learned positional embeddings aligned to the most recent item,
 * one Transformer encoder block with padding keys masked, masked mean pooling over real positions,
 * plus (optionally) a user-ID embedding. Not causal: the state pools the whole history.
 * An all-padding history gives the pooled vector 0 (plus the user embedding).
 */
export class UserStateEncoder {
  private readonly position?: Variable;
  private readonly block?: TransformerBlockParams;
  private readonly userTable?: Variable;

  constructor(
    store: ParamStore,
    prefix: string,
    private readonly itemTable: Variable | ItemLookup,
    readonly options: UserStateEncoderOptions,
  ) {
    const { dim } = options;
    if (options.kind === 'transformer') {
      this.position = store.create(`${prefix}/position`, [options.historyLength, dim], {
        kind: 'normal',
        std: 0.05,
      });
      this.block = createTransformerBlockParams(store, `${prefix}/block0`, dim, options.ffnDim);
    }
    if (options.userEmbedding) {
      this.userTable = store.create(`${prefix}/user`, [options.numUsers, dim], {
        kind: 'normal',
        std: 0.05,
      });
    }
  }

  /**
   * @param user int32 `[B]`
   * @param history int32 `[B, H]`, H <= historyLength, padding index = numItems
   * @returns float32 `[B, d]`
   */
  encode(user: Tensor1D, history: Tensor2D, training: boolean, seeds: SeedSequence): Tensor2D {
    const [b, h] = history.shape;
    const { dim: d, numItems } = this.options;
    if (history.dtype !== 'int32') throw new Error(`history must be int32, got ${history.dtype}`);
    if (user.shape[0] !== b) throw new Error(`user has ${user.shape[0]} rows, history has ${b}`);
    if (h > this.options.historyLength) {
      throw new Error(
        `history length ${h} exceeds the configured historyLength ${this.options.historyLength}`,
      );
    }
    const valid = tf.cast(tf.notEqual(history, numItems), 'float32') as Tensor2D; // [B, H]
    const ids = tf.reshape(history, [b * h]) as Tensor1D;
    let x: Tensor =
      typeof this.itemTable === 'function'
        ? this.itemTable(ids)
        : embeddingLookup(this.itemTable as Tensor2D, ids);
    if (this.options.kind === 'transformer' && this.position && this.block) {
      const pos = tf.slice(this.position, [this.options.historyLength - h, 0], [h, d]);
      x = tf.reshape(tf.add(tf.reshape(x, [b, h, d]), pos), [b * h, d]);
      if (training && this.options.dropout > 0)
        x = seededDropout(x, this.options.dropout, seeds.next());
      x = transformerBlock(
        x as Tensor2D,
        this.block,
        {
          batch: b,
          length: h,
          heads: this.options.heads,
          keyBias: keyPaddingBias(valid),
          training,
          dropout: this.options.dropout,
          attentionDropout: this.options.attentionDropout,
          seeds,
        },
        this.options.norm,
      );
    }
    const summed = tf.sum(tf.mul(tf.reshape(x, [b, h, d]), tf.reshape(valid, [b, h, 1])), 1);
    const count = tf.maximum(tf.sum(valid, 1, true), 1);
    let state = tf.div(summed, count) as Tensor2D;
    if (this.userTable) state = tf.add(state, embeddingLookup(this.userTable as Tensor2D, user));
    return state;
  }
}

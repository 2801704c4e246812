/**
 * PRM — Personalized Re-ranking Model.
 * Pei, Zhang, Zhang, Sun, Lin, Jiang, Ou, Pei. "Personalized Re-ranking for Recommendation",
 * RecSys 2019 (arXiv:1904.06813). DNR's main backbone (protocol section 4.2).
 *
 * Per candidate i: input `[e_i ; u]` (item embedding ; user state) -> Linear -> d, plus a learned
 * embedding of the candidate's retriever rank; dropout; N Transformer encoder blocks over the
 * list; Linear -> one logit per candidate (sigmoid + BCE outside, as DNR trains it).
 *
 * Deviations from the paper (and why):
 * - The personalised vector `pv_i` is the shared user state `u` (our history encoder, see
 *   `UserStateEncoder`), not the hidden layer of a pretrained CTR model (none exists here). We
 *   concatenate `[e_i ; u]` rather than use `e_i * u`.
 * - The paper adds the position embedding to the input before the first linear map; we add a
 *   d-dimensional learned rank embedding after it. Both are learned, so the model class is the same
 *   (PE W is itself a learned per-rank vector).
 * - Output: one sigmoid logit per item trained with BCE (DNR), not the paper's list softmax.
 * - `scoreUsage` (protocol 4.5) adds the retriever score explicitly: `concat` = Linear([e_i ; u ;
 *   e_s(s_i)]), `add` = Linear([e_i ; u + e_s(s_i)]), `weight` = Linear([s_i e_i ; u]), with
 *   `e_s(s) = W_s s + b_s`. Because `e_s` is linear in the scalar s, `e_s(s) W` is computed as
 *   `s (W_s W) + b_s W`: the same function and parameters, without a [B*L, d] x [d, d] matMul.
 * - `u W_u` is computed once per list ([B, d]) and broadcast over the L candidates, which is
 *   mathematically the same as projecting the concatenation per candidate.
 * - Attention-probability dropout defaults to 0 (PyTorch's encoder layer uses the same rate as
 *   the residual dropout); set `attentionDropout` to match it.
 *
 * Optional side features (protocol 0b.7; not in the paper): the item representation used for
 * candidates and history is `[useIds ? E[i] : 0] + F_item[i] W_fi + b_fi`, and the user state gets
 * `F_user[u] W_fu + b_fu` added. The feature matrices are constants (not trained, not saved).
 *
 * Inference (training = false, no gradient tape) runs a dedicated forward in WebAssembly memory
 * with SIMD kernels (`prm-fast.ts`): the same function, 3-4x faster than the tfjs kernels for one
 * request.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { Tensor, Tensor1D, Tensor2D, Variable } from '@tensorflow/tfjs-core';
import { dense } from '../engine/dense';
import { tapeActive } from '../engine/tape';
import { PrmFast, prmFastInferenceEnabled, prmFastSupported } from './prm-fast';
import { seededDropout } from '../engine/dropout';
import { embeddingLookup } from '../engine/embedding';
import {
  createTransformerBlockParams,
  transformerBlock,
  type NormPlacement,
  type TransformerBlockParams,
} from '../engine/transformer';
import { UserStateEncoder, type UserEncoderKind } from '../encoders/user-state';
import type { RerankBatchTensors, Reranker, ScoreOptions } from '../reranker';
import {
  ListInput,
  ParamModel,
  checkSharedConfig,
  userEncoderOptions,
  withDefaults,
  type ScoreUsage,
} from './reranker-base';

export type { ScoreUsage } from './reranker-base';

/** PRM configuration; every field but `numItems` and `numUsers` has a default. */
export interface PrmConfig {
  /** Number of items; the item table has `numItems + 1` rows, the last one is padding. */
  numItems: number;
  /** Number of users (rows of the user-ID table). */
  numUsers: number;
  /** Model width d. Default 128. */
  dim?: number;
  /** Transformer encoder blocks over the list. Default 2. */
  blocks?: number;
  /** Attention heads (must divide `dim`). Default 4. */
  heads?: number;
  /** Hidden width of each block's FFN. Default 256. */
  ffnDim?: number;
  /** Dropout on the block inputs and residual branches (and the user encoder's). Default 0.1. */
  dropout?: number;
  /** Dropout on attention probabilities. Default 0. */
  attentionDropout?: number;
  /** Longest candidate list (rows of the rank embedding). Default 50. */
  maxListSize?: number;
  /** Longest history (rows of the history position embedding). Default 50. */
  historyLength?: number;
  /** How the retriever score is used: none (only through rank) | concat | add | weight. Default 'none'. */
  scoreUsage?: ScoreUsage;
  /** Embed each candidate's retriever rank. Default true. */
  rankEmbedding?: boolean;
  /** History encoder: 'transformer' (1 block) or 'mean' (masked mean). Default 'transformer'. */
  userEncoder?: UserEncoderKind;
  /** Add a user-ID embedding to the user state. Default true. */
  userIdEmbedding?: boolean;
  /** Layer-norm placement in every block. Default 'post'. */
  norm?: NormPlacement;
  /** Seed of the weight initialisation and the dropout masks (non-zero). Default 1. */
  seed?: number;
  /**
   * Width Fi of the item side features (0 = none). With Fi > 0 the model needs the matrix
   * `[(numItems + 1) * Fi]` through `setSideFeatures` (or the constructor); a learned `[Fi, d]`
   * projection (+ bias) is added to every item representation. Default 0.
   */
  itemFeatureDim?: number;
  /** Width Fu of the user side features (0 = none): `[numUsers * Fu]`, projected and added to the user state. Default 0. */
  userFeatureDim?: number;
  /** Learn an item-ID embedding. `false` = content-only (needs `itemFeatureDim > 0`). Default true. */
  useIds?: boolean;
}

/** Side-feature matrices of PRM (row-major float32; constants, not trained, not saved). */
export interface PrmSideFeatures {
  /** `[(numItems + 1) * itemFeatureDim]`: one row per item, the last row is the padding item. */
  item?: Float32Array;
  /** `[numUsers * userFeatureDim]`. */
  user?: Float32Array;
}

/** A PRM configuration with every default filled in. */
export type ResolvedPrmConfig = Required<PrmConfig>;

/** The defaults of {@link PrmConfig}. */
export const PRM_DEFAULTS: Omit<ResolvedPrmConfig, 'numItems' | 'numUsers'> = {
  dim: 128,
  blocks: 2,
  heads: 4,
  ffnDim: 256,
  dropout: 0.1,
  attentionDropout: 0,
  maxListSize: 50,
  historyLength: 50,
  scoreUsage: 'none',
  rankEmbedding: true,
  userEncoder: 'transformer',
  userIdEmbedding: true,
  norm: 'post',
  seed: 1,
  itemFeatureDim: 0,
  userFeatureDim: 0,
  useIds: true,
};

/** Fills defaults and validates a PRM config (unknown keys are errors, to catch typos). */
export function resolvePrmConfig(config: PrmConfig): ResolvedPrmConfig {
  const c = withDefaults<ResolvedPrmConfig>('PRM', config, PRM_DEFAULTS);
  const posInt = (k: keyof ResolvedPrmConfig) => {
    const v = c[k];
    if (typeof v !== 'number' || !Number.isInteger(v) || v <= 0) {
      throw new RangeError(`PRM config '${k}' must be a positive integer, got ${String(v)}`);
    }
  };
  (
    ['numItems', 'numUsers', 'dim', 'heads', 'ffnDim', 'maxListSize', 'historyLength'] as const
  ).forEach(posInt);
  if (!Number.isInteger(c.blocks) || c.blocks < 0)
    throw new RangeError(`PRM config 'blocks' must be >= 0`);
  checkSharedConfig('PRM', c);
  for (const k of ['itemFeatureDim', 'userFeatureDim'] as const) {
    if (!Number.isInteger(c[k]) || c[k] < 0)
      throw new RangeError(`PRM config '${k}' must be an integer >= 0, got ${String(c[k])}`);
  }
  if (typeof c.useIds !== 'boolean') throw new RangeError(`PRM config 'useIds' must be a boolean`);
  if (!c.useIds && c.itemFeatureDim === 0) {
    throw new RangeError(
      `PRM config useIds: false (content-only) needs item side features (itemFeatureDim > 0)`,
    );
  }
  return c;
}

/** PRM behind the {@link Reranker} contract. Create with `new Prm(config)` or `createReranker('prm', config)`. */
export class Prm extends ParamModel<ResolvedPrmConfig> implements Reranker {
  readonly name = 'prm';
  private readonly itemTable?: Variable;
  private readonly wItemFeat?: Variable;
  private readonly bItemFeat?: Variable;
  private readonly wUserFeat?: Variable;
  private readonly bUserFeat?: Variable;
  private itemFeatures?: Tensor2D;
  private userFeatures?: Tensor2D;
  private readonly featureArrays: { item?: Float32Array; user?: Float32Array; version: number } = {
    version: 0,
  };
  private fast?: PrmFast | null;
  private readonly userEncoder: UserStateEncoder;
  private readonly input: ListInput;
  private readonly blockParams: TransformerBlockParams[] = [];
  private readonly wOut: Variable;
  private readonly bOut: Variable;

  /**
   * @param config the (JSON-serializable) configuration
   * @param sideFeatures the side-feature matrices when `itemFeatureDim` / `userFeatureDim` > 0
   *   (same as calling {@link Prm.setSideFeatures} afterwards)
   */
  constructor(config: PrmConfig, sideFeatures?: PrmSideFeatures) {
    super(resolvePrmConfig(config), 'PRM', 'Prm');
    const c = this.config;
    const d = c.dim;
    const store = this.store;
    const g = { kind: 'glorotUniform' } as const;
    const z = { kind: 'zeros' } as const;
    if (c.useIds)
      this.itemTable = store.create('item', [c.numItems + 1, d], { kind: 'normal', std: 0.05 });
    if (c.itemFeatureDim > 0) {
      this.wItemFeat = store.create('features/w_item', [c.itemFeatureDim, d], g);
      this.bItemFeat = store.create('features/b_item', [d], z);
    }
    if (c.userFeatureDim > 0) {
      this.wUserFeat = store.create('features/w_user', [c.userFeatureDim, d], g);
      this.bUserFeat = store.create('features/b_user', [d], z);
    }
    const lookup = (ids: Tensor1D) => this.itemRepresentation(ids);
    this.userEncoder = new UserStateEncoder(store, 'user_encoder', lookup, userEncoderOptions(c));
    const rankTable = c.rankEmbedding
      ? store.create('rank', [c.maxListSize, d], { kind: 'normal', std: 0.05 })
      : undefined;
    this.input = new ListInput(store, d, c.scoreUsage, rankTable);
    for (let i = 0; i < c.blocks; i++) {
      this.blockParams.push(createTransformerBlockParams(store, `block${i}`, d, c.ffnDim));
    }
    this.wOut = store.create('output/w', [d, 1], g);
    this.bOut = store.create('output/b', [1], z);
    if (sideFeatures) this.setSideFeatures(sideFeatures);
  }

  /**
   * Supplies the side-feature matrices (copied; constants, not trainable, not part of
   * `getWeights()` / saved models: give them again after `loadReranker`). Either may be omitted
   * to keep the one set before. Lengths are validated against the config.
   */
  setSideFeatures(features: PrmSideFeatures): void {
    this.check();
    const c = this.config;
    const take = (
      key: 'item' | 'user',
      data: Float32Array | undefined,
      rows: number,
      width: number,
      dimKey: string,
    ): Float32Array | undefined => {
      if (data === undefined) return undefined;
      if (!(data instanceof Float32Array))
        throw new TypeError(`PRM side features '${key}' must be a Float32Array`);
      if (width === 0) {
        throw new Error(`PRM got ${key} side features but its config has ${dimKey} = 0`);
      }
      if (data.length !== rows * width) {
        throw new RangeError(
          `PRM ${key} side features have length ${data.length}, expected ${rows} rows x ${dimKey} ${width} = ${rows * width}`,
        );
      }
      for (let i = 0; i < data.length; i++) {
        if (!Number.isFinite(data[i])) {
          throw new RangeError(`PRM ${key} side features: value ${i} is ${String(data[i])}`);
        }
      }
      return Float32Array.from(data);
    };
    const item = take('item', features.item, c.numItems + 1, c.itemFeatureDim, 'itemFeatureDim');
    const user = take('user', features.user, c.numUsers, c.userFeatureDim, 'userFeatureDim');
    if (item) {
      this.itemFeatures?.dispose();
      this.itemFeatures = tf.tensor2d(item, [c.numItems + 1, c.itemFeatureDim]);
      this.featureArrays.item = item;
    }
    if (user) {
      this.userFeatures?.dispose();
      this.userFeatures = tf.tensor2d(user, [c.numUsers, c.userFeatureDim]);
      this.featureArrays.user = user;
    }
    this.featureArrays.version++;
  }

  private checkFeatures(): void {
    const c = this.config;
    if (c.itemFeatureDim > 0 && !this.itemFeatures) {
      throw new Error(
        `PRM has itemFeatureDim = ${c.itemFeatureDim} but no item features: call setSideFeatures({ item }) (side features are not saved with the weights)`,
      );
    }
    if (c.userFeatureDim > 0 && !this.userFeatures) {
      throw new Error(
        `PRM has userFeatureDim = ${c.userFeatureDim} but no user features: call setSideFeatures({ user }) (side features are not saved with the weights)`,
      );
    }
  }

  /** `[useIds ? E[ids] : 0] + F_item[ids] W_fi + b_fi`, float32 `[N, d]`. */
  private itemRepresentation(ids: Tensor1D): Tensor2D {
    const n = ids.shape[0];
    let e: Tensor2D | undefined = this.itemTable
      ? embeddingLookup(this.itemTable as Tensor2D, ids)
      : undefined;
    if (this.itemFeatures && this.wItemFeat && this.bItemFeat) {
      const f = tf.gatherND(this.itemFeatures, tf.reshape(ids, [n, 1])) as Tensor2D;
      const p = dense(f, this.wItemFeat as Tensor2D, this.bItemFeat as Tensor1D);
      e = e ? (tf.add(e, p) as Tensor2D) : p;
    }
    if (!e) throw new Error('PRM: no item representation (useIds false without item features)');
    return e;
  }

  private validateLists(batch: RerankBatchTensors): void {
    const [b, l] = batch.items.shape;
    if (batch.items.dtype !== 'int32')
      throw new Error(`items must be int32, got ${batch.items.dtype}`);
    if (batch.scores.shape[0] !== b || batch.scores.shape[1] !== l) {
      throw new Error(
        `scores shape [${batch.scores.shape.join(',')}] differs from items [${b},${l}]`,
      );
    }
    if (l > this.config.maxListSize)
      throw new Error(`list size ${l} exceeds maxListSize ${this.config.maxListSize}`);
    if (batch.ranks && (batch.ranks.shape[0] !== b || batch.ranks.shape[1] !== l)) {
      throw new Error(
        `ranks shape [${batch.ranks.shape.join(',')}] differs from items [${b},${l}]`,
      );
    }
  }

  /** The fast inference path, when it applies to this call (see `prm-fast.ts`). */
  private fastPath(training: boolean, batchSize: number): PrmFast | null {
    if (training || !prmFastInferenceEnabled() || tapeActive()) return null;
    const be = tf.getBackend();
    if (be !== 'wasm' && be !== 'cpu' && batchSize > 4) return null;
    if (this.fast === undefined) {
      this.fast = prmFastSupported(this.config) ? new PrmFast(this.config, this.store) : null;
    }
    if (!this.fast) return null;
    this.checkFeatures();
    this.fast.sync(this.featureArrays);
    return this.fast;
  }

  private fastEncode(fast: PrmFast, batch: Pick<RerankBatchTensors, 'user' | 'history'>) {
    const [b, h] = batch.history.shape;
    if (batch.history.dtype !== 'int32')
      throw new Error(`history must be int32, got ${batch.history.dtype}`);
    if (batch.user.shape[0] !== b)
      throw new Error(`user has ${batch.user.shape[0]} rows, history has ${b}`);
    if (h > this.config.historyLength) {
      throw new Error(
        `history length ${h} exceeds the configured historyLength ${this.config.historyLength}`,
      );
    }
    return fast.encodeUsers(
      batch.user.dataSync(),
      batch.history.dataSync(),
      b,
      h,
      this.featureArrays,
    );
  }
  /**
   * Encodes the history into the user state.
   * @param batch user int32 `[B]`, history int32 `[B, H]`
   * @returns float32 `[B, dim]`
   */
  encodeUser(batch: Pick<RerankBatchTensors, 'user' | 'history'>, options: ScoreOptions): Tensor2D {
    this.check();
    const fast = this.fastPath(options.training, batch.history.shape[0]);
    if (fast) {
      return tf.tensor2d(this.fastEncode(fast, batch), [batch.history.shape[0], this.config.dim]);
    }
    this.checkFeatures();
    return tf.tidy(() => {
      let state = this.userEncoder.encode(batch.user, batch.history, options.training, this.seeds);
      if (this.userFeatures && this.wUserFeat && this.bUserFeat) {
        const b = batch.user.shape[0];
        const f = tf.gatherND(this.userFeatures, tf.reshape(batch.user, [b, 1])) as Tensor2D;
        state = tf.add(
          state,
          dense(f, this.wUserFeat as Tensor2D, this.bUserFeat as Tensor1D),
        ) as Tensor2D;
      }
      return state;
    });
  }

  /**
   * Scores every candidate given a precomputed user state.
   * @param batch items int32 `[B, L]`, scores float32 `[B, L]`, optional ranks int32 `[B, L]`
   * @param state float32 `[B, dim]` from {@link Prm.encodeUser}
   * @returns float32 `[B, L]` logits
   */
  scoreWithState(batch: RerankBatchTensors, state: Tensor, options: ScoreOptions): Tensor2D {
    this.check();
    const c = this.config;
    const [b, l] = batch.items.shape;
    const d = c.dim;
    this.validateLists(batch);
    if (state.rank !== 2 || state.shape[0] !== b || state.shape[1] !== d) {
      throw new Error(`state must be [${b},${d}], got [${state.shape.join(',')}]`);
    }
    const { training } = options;
    const fast = this.fastPath(training, b);
    if (fast) {
      const out = fast.scoreLists(
        batch.items.dataSync(),
        batch.scores.dataSync(),
        batch.ranks?.dataSync(),
        state.dataSync(),
        b,
        l,
      );
      return tf.tensor2d(out, [b, l]);
    }
    this.checkFeatures();
    return tf.tidy(() => {
      const e = this.itemRepresentation(tf.reshape(batch.items, [b * l]));
      let h = this.input.apply(e, state as Tensor2D, batch.scores, batch.ranks);
      if (training && c.dropout > 0) h = seededDropout(h, c.dropout, this.seeds.next()) as Tensor2D;
      for (const p of this.blockParams) {
        h = transformerBlock(
          h,
          p,
          {
            batch: b,
            length: l,
            heads: c.heads,
            training,
            dropout: c.dropout,
            attentionDropout: c.attentionDropout,
            seeds: this.seeds,
          },
          c.norm,
        );
      }
      return tf.reshape(dense(h, this.wOut as Tensor2D, this.bOut as Tensor1D), [b, l]) as Tensor2D;
    });
  }

  /**
   * One logit per candidate.
   * @returns float32 `[B, L]`
   */
  score(batch: RerankBatchTensors, options: ScoreOptions): Tensor2D {
    this.check();
    const [b, l] = batch.items.shape;
    const fast = this.fastPath(options.training, b);
    if (fast && batch.history.shape[0] === b) {
      this.validateLists(batch);
      const states = this.fastEncode(fast, batch);
      const out = fast.scoreLists(
        batch.items.dataSync(),
        batch.scores.dataSync(),
        batch.ranks?.dataSync(),
        states,
        b,
        l,
      );
      return tf.tensor2d(out, [b, l]);
    }
    return tf.tidy(() => this.scoreWithState(batch, this.encodeUser(batch, options), options));
  }

  /** Frees the side-feature tensors and the fast path's memory (the variables: see dispose). */
  protected override release(): void {
    this.itemFeatures?.dispose();
    this.userFeatures?.dispose();
    this.fast = null;
  }
}

/**
 * Analytical FLOPs of PRM's forward matMuls for one batch (2 * m * k * n per matMul, including
 * the user encoder and the attention score / value products; element-wise ops not counted).
 */
export function prmForwardFlops(
  config: PrmConfig,
  batchSize: number,
  listSize: number,
  historyLength: number,
): number {
  const c = resolvePrmConfig(config);
  const d = c.dim;
  const block = (rows: number, len: number) =>
    4 * 2 * rows * d * d + // q, k, v, o projections
    2 * 2 * rows * len * d + // Q K^T and P V (over all heads)
    2 * 2 * rows * d * c.ffnDim; // FFN
  const nCand = batchSize * listSize;
  let flops = 2 * nCand * d * d; // item projection
  flops += 2 * batchSize * d * d; // user projection
  flops += c.blocks * block(nCand, listSize);
  flops += 2 * nCand * d; // output
  if (c.userEncoder === 'transformer') flops += block(batchSize * historyLength, historyLength);
  return flops;
}

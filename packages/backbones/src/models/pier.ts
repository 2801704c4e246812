/**
 * Pier — Permutation-level Interest-based End-to-end Re-ranking.
 * Shi, Yang, Wang, Wu, Guan, Liao, Yongkang, Wang, Wang. "PIER: Permutation-Level Interest-Based
 * End-to-End Re-ranking Framework in E-commerce", KDD 2023 (doi:10.1145/3580305.3599886).
 * A generator-evaluator baseline and DNR's second backbone (paper Table 2; protocol section 4.3).
 * No official code exists; this is our reading of the paper, adapted to DNR's setting.
 *
 * Pier has two modules:
 * - FPSM (Fine-grained Permutation Selection Module) builds candidate permutations of length K,
 *   embeds each as a position-weighted sum of its items' embeddings, hashes permutation and
 *   user-interest embeddings with SimHash (random hyperplanes) and keeps the top-M permutations
 *   by Hamming similarity.
 * - OCPM (Omnidirectional Context-aware Prediction Module) scores each item of a permutation in
 *   context: target attention to the user history plus omnidirectional (bidirectional,
 *   distance-aware) attention among the permutation's items -> per-item click logit; the list
 *   reward is the sum of the CTRs and the best permutation is the output.
 *
 * Our model, per candidate i of a list (B lists of L candidates, history H, width d):
 *   `x_i = W_item e_i + W_user u + b + rank_emb(r_i) + TA(e_i, history) [+ score terms]`
 *   -> dropout -> `blocks` omnidirectional blocks over the list (self-attention with a learned
 *   per-head bias `beta[|p_i - p_j|, head]` on the logits, where p is the position of the item in
 *   the list being scored) -> `relu(W_h h_i + W_u u + b) -> w_o -> logit`.
 * `u` is the shared user state (`UserStateEncoder`, as PRM's); `TA` is multi-head target
 * attention from the candidate's embedding to the history items (item embedding + learned
 * history-position embedding, keys / values projected once per user in {@link Pier.encodeUser}).
 *
 * Deviations from the paper (and why):
 * - Contract: DNR trains with BCE on one logit per candidate and evaluates by sorting the L = 50
 *   candidates, so {@link Pier.score} is OCPM applied to the *whole candidate list* as the
 *   context: the distance of two candidates is the difference of their rank positions
 *   `|r_i - r_j|` (the retriever's, or the synthetic scores' order in DNR's synthetic pass,
 *   protocol 0b.5). FPSM + OCPM over K-item permutations runs in {@link Pier.rerank}
 *   (inference only, not part of the Reranker contract); it is not used for training or for the
 *   protocol's metrics.
 * - Training: only OCPM's per-candidate BCE. The paper also trains FPSM against OCPM
 *   (contrastive / distillation); here FPSM has nothing to learn: it hashes the (trained) item
 *   embeddings with fixed random hyperplanes.
 * - FPSM's permutations are the top-K by the model's own score plus `numPermutations` variants,
 *   each the top-K with one position replaced by a random candidate from ranks K..L-1 (seeded),
 *   instead of the paper's larger generated set. The user-interest embedding is target attention
 *   of the top-K permutation's embedding over the history item embeddings (in item-embedding
 *   space, so that SimHash compares like with like), not a separate long-sequence interest model.
 *   Permutation embedding weights are `1 / log2(pos + 2)`.
 * - OCPM on a permutation: each item keeps its retriever rank for the rank embedding (a feature
 *   that carries the retriever score, as in training), while the distance bias uses the positions
 *   0..K-1 inside the permutation (its display order). The items attend only within the
 *   permutation. Reward = sum of sigmoid(logit); no external-context / page-level features.
 * - Distance bias: one learned scalar per (distance, head) with exact distances 0..maxListSize-1
 *   (no log buckets), shared by all blocks (as T5's relative bias), initialised to 0.
 * - Omnidirectional attention is written on the engine's primitives here
 *   (`models/pier-attention.ts`): the engine's self-attention takes no pairwise bias.
 * - Retriever scores (protocol 4.5), exactly as PRM: `none` (only through rank positions: rank
 *   embedding and distance bias), `concat` `[e ; u ; e_s(s)]`, `add` `[e ; u + e_s(s)]`, `weight`
 *   `[s e ; u]`, with `e_s(s) = W_s s + b_s` (computed as `s (W_s W) + b_s W`). The target
 *   attention's query is always the unweighted `e_i`.
 * - Defaults: d = 128, 4 heads, FFN 256, **1 omnidirectional block** (the target attention and
 *   the MLP head add about a block's cost, so Pier stays near PRM's 2-block cost), MLP hidden 64.
 */
import * as tf from '@tensorflow/tfjs-core';
import type {
  Tensor,
  Tensor1D,
  Tensor2D,
  Tensor3D,
  Tensor4D,
  Variable,
} from '@tensorflow/tfjs-core';
import { dense } from '../engine/dense';
import { seededDropout } from '../engine/dropout';
import { embeddingLookup } from '../engine/embedding';
import { deriveSeed, mulberry32 } from '../engine/random';
import {
  createTransformerBlockParams,
  type NormPlacement,
  type TransformerBlockParams,
} from '../engine/transformer';
import { UserStateEncoder, type UserEncoderKind } from '../encoders/user-state';
import {
  ranksFromScoresArray,
  type RerankBatchTensors,
  type Reranker,
  type ScoreOptions,
} from '../reranker';
import {
  ListInput,
  ParamModel,
  checkSharedConfig,
  userEncoderOptions,
  withDefaults,
  type ScoreUsage,
} from './reranker-base';
import { distanceBias, omnidirectionalBlock, targetAttention } from './pier-attention';
import {
  candidatePermutations,
  interestEmbedding,
  permutationEmbedding,
  selectBySimHash,
  simHash,
  simHashPlanes,
} from './pier-fpsm';

/** Pier configuration; every field but `numItems` and `numUsers` has a default. */
export interface PierConfig {
  /** Number of items; the item table has `numItems + 1` rows, the last one is padding. */
  numItems: number;
  /** Number of users (rows of the user-ID table). */
  numUsers: number;
  /** Model width d. Default 128. */
  dim?: number;
  /** Omnidirectional (distance-aware) encoder blocks over the list. Default 1. */
  blocks?: number;
  /** Attention heads (must divide `dim`). Default 4. */
  heads?: number;
  /** Hidden width of each block's FFN (and the user encoder's). Default 256. */
  ffnDim?: number;
  /** Hidden width of the output MLP. Default 64. */
  mlpDim?: number;
  /** Dropout on the block inputs and residual branches (and the user encoder's). Default 0.1. */
  dropout?: number;
  /** Dropout on attention probabilities. Default 0. */
  attentionDropout?: number;
  /** Longest candidate list (rows of the rank embedding and of the distance-bias table). Default 50. */
  maxListSize?: number;
  /** Longest history (rows of the history position embeddings). Default 50. */
  historyLength?: number;
  /** How the retriever score is used: none (only through ranks) | concat | add | weight. Default 'none'. */
  scoreUsage?: ScoreUsage;
  /** Embed each candidate's rank. Default true. */
  rankEmbedding?: boolean;
  /** Learned per-head attention bias by rank distance (OCPM's distance awareness). Default true. */
  distanceBias?: boolean;
  /** History encoder of the user state: 'transformer' (1 block) or 'mean'. Default 'transformer'. */
  userEncoder?: UserEncoderKind;
  /** Add a user-ID embedding to the user state. Default true. */
  userIdEmbedding?: boolean;
  /** Layer-norm placement in every block. Default 'post'. */
  norm?: NormPlacement;
  /** FPSM / OCPM permutation length K ({@link Pier.rerank}). Default 6. */
  permutationLength?: number;
  /** FPSM: variants of the top-K permutation made by random swaps. Default 20. */
  numPermutations?: number;
  /** FPSM: permutations kept by SimHash similarity and scored by OCPM (M). Default 5. */
  keepPermutations?: number;
  /** FPSM: SimHash signature bits (random hyperplanes). Default 64. */
  hashBits?: number;
  /** Seed of the initialisation, the dropout masks, the swaps and the hyperplanes (non-zero). Default 1. */
  seed?: number;
}

/** A Pier configuration with every default filled in. */
export type ResolvedPierConfig = Required<PierConfig>;

/** The defaults of {@link PierConfig}. */
export const PIER_DEFAULTS: Omit<ResolvedPierConfig, 'numItems' | 'numUsers'> = {
  dim: 128,
  blocks: 1,
  heads: 4,
  ffnDim: 256,
  mlpDim: 64,
  dropout: 0.1,
  attentionDropout: 0,
  maxListSize: 50,
  historyLength: 50,
  scoreUsage: 'none',
  rankEmbedding: true,
  distanceBias: true,
  userEncoder: 'transformer',
  userIdEmbedding: true,
  norm: 'post',
  permutationLength: 6,
  numPermutations: 20,
  keepPermutations: 5,
  hashBits: 64,
  seed: 1,
};

/** Fills defaults and validates a Pier config (unknown keys are errors, to catch typos). */
export function resolvePierConfig(config: PierConfig): ResolvedPierConfig {
  const c = withDefaults<ResolvedPierConfig>('Pier', config, PIER_DEFAULTS);
  const int = (k: keyof ResolvedPierConfig, min: number) => {
    const v = c[k];
    if (typeof v !== 'number' || !Number.isInteger(v) || v < min) {
      throw new RangeError(`Pier config '${k}' must be an integer >= ${min}, got ${String(v)}`);
    }
  };
  (
    [
      'numItems',
      'numUsers',
      'dim',
      'heads',
      'ffnDim',
      'mlpDim',
      'maxListSize',
      'historyLength',
      'permutationLength',
      'keepPermutations',
      'hashBits',
    ] as const
  ).forEach((k) => int(k, 1));
  int('blocks', 0);
  int('numPermutations', 0);
  checkSharedConfig('Pier', c);
  for (const k of ['rankEmbedding', 'distanceBias', 'userIdEmbedding'] as const) {
    if (typeof c[k] !== 'boolean')
      throw new RangeError(`Pier config '${k}' must be a boolean, got ${String(c[k])}`);
  }
  if (c.permutationLength > c.maxListSize) {
    throw new RangeError(
      `Pier permutationLength ${c.permutationLength} exceeds maxListSize ${c.maxListSize}`,
    );
  }
  return c;
}

/** Per-call overrides of {@link Pier.rerank} (defaults: the config's values). */
export interface PierRerankOptions {
  /** K, at most the list size L. */
  permutationLength?: number;
  /** Swap variants of the top-K permutation. */
  numPermutations?: number;
  /** Permutations kept by SimHash and scored by OCPM (M >= 1). */
  keepPermutations?: number;
  /** Seed of the swaps and the hyperplanes (non-zero). */
  seed?: number;
}

/** Output of {@link Pier.rerank}. */
export interface PierRerankResult {
  /** int32 `[B * K]`: the chosen permutation of each list as candidate indices (0..L-1), list-major. */
  permutation: Int32Array;
  /** float32 `[B * L]`: the per-candidate logits of {@link Pier.score} (inference). */
  scores: Float32Array;
  /** float32 `[B]`: OCPM's list reward (sum of the CTRs) of the chosen permutation. */
  reward: Float32Array;
}

/** Tensors of one OCPM pass (internal). */
interface OcpmInputs {
  /** int32 `[B, L]` */
  items: Tensor2D;
  /** float32 `[B, L]` */
  scores: Tensor2D;
  /** int32 `[B, L]` rank feature (rank embedding); default 0..L-1 */
  rankFeature?: Tensor2D;
  /** int32 `[B, L]` positions for the distance bias; default 0..L-1 */
  positions?: Tensor2D;
  /** float32 `[B, 1 + 2H, d]` from encodeUser */
  state: Tensor3D;
  /** float32 `[B, H]`: 1 for real history items */
  historyValid: Tensor2D;
}

/** Pier behind the {@link Reranker} contract. Create with `new Pier(config)` or `createReranker('pier', config)`. */
export class Pier extends ParamModel<ResolvedPierConfig> implements Reranker {
  readonly name = 'pier';
  private readonly itemTable: Variable;
  private readonly distanceTable?: Variable;
  private readonly historyPosition: Variable;
  private readonly userEncoder: UserStateEncoder;
  private readonly ta: Record<'wq' | 'bq' | 'wk' | 'bk' | 'wv' | 'bv' | 'wo' | 'bo', Variable>;
  private readonly input: ListInput;
  private readonly blockParams: TransformerBlockParams[] = [];
  private readonly mlpH: Variable;
  private readonly mlpU: Variable;
  private readonly mlpB: Variable;
  private readonly wOut: Variable;
  private readonly bOut: Variable;
  private planes?: { seed: number; data: Float64Array };

  constructor(config: PierConfig) {
    super(resolvePierConfig(config), 'Pier', 'Pier');
    const c = this.config;
    const d = c.dim;
    const store = this.store;
    const g = { kind: 'glorotUniform' } as const;
    const z = { kind: 'zeros' } as const;
    const small = { kind: 'normal', std: 0.05 } as const;
    this.itemTable = store.create('item', [c.numItems + 1, d], small);
    this.userEncoder = new UserStateEncoder(
      store,
      'user_encoder',
      this.itemTable,
      userEncoderOptions(c),
    );
    this.historyPosition = store.create('target/position', [c.historyLength, d], small);
    this.ta = {
      wq: store.create('target/wq', [d, d], g),
      bq: store.create('target/bq', [d], z),
      wk: store.create('target/wk', [d, d], g),
      bk: store.create('target/bk', [d], z),
      wv: store.create('target/wv', [d, d], g),
      bv: store.create('target/bv', [d], z),
      wo: store.create('target/wo', [d, d], g),
      bo: store.create('target/bo', [d], z),
    };
    const rankTable = c.rankEmbedding ? store.create('rank', [c.maxListSize, d], small) : undefined;
    if (c.distanceBias)
      this.distanceTable = store.create('distance_bias', [c.maxListSize, c.heads], z);
    this.input = new ListInput(store, d, c.scoreUsage, rankTable);
    for (let i = 0; i < c.blocks; i++) {
      this.blockParams.push(createTransformerBlockParams(store, `block${i}`, d, c.ffnDim));
    }
    this.mlpH = store.create('mlp/w_h', [d, c.mlpDim], g);
    this.mlpU = store.create('mlp/w_user', [d, c.mlpDim], g);
    this.mlpB = store.create('mlp/b', [c.mlpDim], z);
    this.wOut = store.create('output/w', [c.mlpDim, 1], g);
    this.bOut = store.create('output/b', [1], z);
  }

  /**
   * Encodes the user once: the user state `u` and the target attention's projected history keys
   * and values, stacked along axis 1. Only `user` and `history` of the batch are read.
   *
   * @param batch user int32 `[B]`, history int32 `[B, H]` (H <= historyLength)
   * @returns float32 `[B, 1 + 2H, dim]`: row 0 = `u`, rows 1..H = keys, rows H+1..2H = values
   */
  encodeUser(batch: Pick<RerankBatchTensors, 'user' | 'history'>, options: ScoreOptions): Tensor3D {
    this.check();
    const c = this.config;
    const d = c.dim;
    const [b, h] = batch.history.shape;
    return tf.tidy(() => {
      const u = this.userEncoder.encode(batch.user, batch.history, options.training, this.seeds);
      const pos = tf.slice(this.historyPosition, [c.historyLength - h, 0], [h, d]);
      const tokens = tf.reshape(
        tf.add(
          tf.reshape(
            embeddingLookup(this.itemTable as Tensor2D, tf.reshape(batch.history, [b * h])),
            [b, h, d],
          ),
          pos,
        ),
        [b * h, d],
      ) as Tensor2D;
      const keys = dense(tokens, this.ta.wk as Tensor2D, this.ta.bk as Tensor1D);
      const values = dense(tokens, this.ta.wv as Tensor2D, this.ta.bv as Tensor1D);
      return tf.concat(
        [tf.reshape(u, [b, 1, d]), tf.reshape(keys, [b, h, d]), tf.reshape(values, [b, h, d])],
        1,
      ) as Tensor3D;
    });
  }

  /** OCPM over lists: one logit per item, in the context of its own list. */
  private ocpm(inp: OcpmInputs, training: boolean): Tensor2D {
    const c = this.config;
    const d = c.dim;
    const [b, l] = inp.items.shape;
    const hl = inp.historyValid.shape[1];
    const n = b * l;
    const u = tf.reshape(tf.slice(inp.state, [0, 0, 0], [b, 1, d]), [b, d]) as Tensor2D;
    const keys = tf.slice(inp.state, [0, 1, 0], [b, hl, d]);
    const values = tf.slice(inp.state, [0, 1 + hl, 0], [b, hl, d]);
    const e = embeddingLookup(this.itemTable as Tensor2D, tf.reshape(inp.items, [n]));
    const x = this.input.apply(e, u, inp.scores, inp.rankFeature);
    const interest = targetAttention(
      e,
      keys as Tensor3D,
      values as Tensor3D,
      inp.historyValid,
      {
        wq: this.ta.wq as Tensor2D,
        bq: this.ta.bq as Tensor1D,
        wo: this.ta.wo as Tensor2D,
        bo: this.ta.bo as Tensor1D,
      },
      { batch: b, length: l, heads: c.heads },
    );
    let h = tf.add(x, interest) as Tensor2D;
    if (training && c.dropout > 0) h = seededDropout(h, c.dropout, this.seeds.next()) as Tensor2D;
    let bias: Tensor4D | undefined;
    if (this.distanceTable && this.blockParams.length > 0) {
      bias = distanceBias(this.distanceTable as Tensor2D, l, inp.positions);
    }
    for (const p of this.blockParams) {
      h = omnidirectionalBlock(
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
        bias,
        c.norm,
      );
    }
    const m = c.mlpDim;
    const hidden = tf.relu(
      tf.add(
        tf.reshape(dense(h, this.mlpH as Tensor2D), [b, l, m]),
        tf.reshape(dense(u, this.mlpU as Tensor2D, this.mlpB as Tensor1D), [b, 1, m]),
      ),
    );
    const logits = dense(
      tf.reshape(hidden, [n, m]) as Tensor2D,
      this.wOut as Tensor2D,
      this.bOut as Tensor1D,
    );
    return tf.reshape(logits, [b, l]) as Tensor2D;
  }

  private checkBatch(batch: RerankBatchTensors, state: Tensor): void {
    const c = this.config;
    const [b, l] = batch.items.shape;
    const hl = batch.history.shape[1];
    if (batch.items.dtype !== 'int32')
      throw new Error(`items must be int32, got ${batch.items.dtype}`);
    if (batch.scores.shape[0] !== b || batch.scores.shape[1] !== l) {
      throw new Error(
        `scores shape [${batch.scores.shape.join(',')}] differs from items [${b},${l}]`,
      );
    }
    if (l > c.maxListSize) throw new Error(`list size ${l} exceeds maxListSize ${c.maxListSize}`);
    if (batch.history.shape[0] !== b) {
      throw new Error(`history has ${batch.history.shape[0]} rows, items have ${b}`);
    }
    const rows = 1 + 2 * hl;
    if (
      state.rank !== 3 ||
      state.shape[0] !== b ||
      state.shape[1] !== rows ||
      state.shape[2] !== c.dim
    ) {
      throw new Error(
        `state must be [${b},${rows},${c.dim}] (from Pier.encodeUser), got [${state.shape.join(',')}]`,
      );
    }
    if (batch.ranks && (batch.ranks.shape[0] !== b || batch.ranks.shape[1] !== l)) {
      throw new Error(
        `ranks shape [${batch.ranks.shape.join(',')}] differs from items [${b},${l}]`,
      );
    }
  }

  /**
   * Scores every candidate given a precomputed user state: OCPM with the whole list as context
   * (distance = `|r_i - r_j|` of the rank positions, `batch.ranks` or the tensor order).
   *
   * @param batch items int32 `[B, L]`, scores float32 `[B, L]`, history int32 `[B, H]` (padding
   *   mask of the target attention), optional ranks int32 `[B, L]`
   * @param state float32 `[B, 1 + 2H, dim]` from {@link Pier.encodeUser}
   * @returns float32 `[B, L]` logits
   */
  scoreWithState(batch: RerankBatchTensors, state: Tensor, options: ScoreOptions): Tensor2D {
    this.check();
    this.checkBatch(batch, state);
    return tf.tidy(() => {
      const valid = tf.cast(tf.notEqual(batch.history, this.config.numItems), 'float32');
      const inputs: OcpmInputs = {
        items: batch.items,
        scores: batch.scores,
        state: state as Tensor3D,
        historyValid: valid as Tensor2D,
      };
      if (batch.ranks) {
        inputs.rankFeature = batch.ranks;
        inputs.positions = batch.ranks;
      }
      return this.ocpm(inputs, options.training);
    });
  }

  /**
   * One logit per candidate.
   * @returns float32 `[B, L]`
   */
  score(batch: RerankBatchTensors, options: ScoreOptions): Tensor2D {
    this.check();
    return tf.tidy(() => this.scoreWithState(batch, this.encodeUser(batch, options), options));
  }

  private hyperplanes(seed: number): Float64Array {
    if (this.planes?.seed !== seed) {
      this.planes = { seed, data: simHashPlanes(this.config.hashBits, this.config.dim, seed) };
    }
    return this.planes.data;
  }

  /**
   * FPSM + OCPM (inference only; not part of the Reranker contract). Per list: the top-K
   * candidates by {@link Pier.score} plus `numPermutations` seeded one-swap variants; SimHash
   * keeps the M permutations whose position-weighted embedding is most similar (Hamming) to the
   * user-interest embedding; OCPM scores each kept permutation (its K items attend only to each
   * other, distances = positions in the permutation); the permutation with the largest sum of
   * CTRs wins. Deterministic for a seed.
   *
   * @param batch as for {@link Pier.score}, with L >= K
   * @returns the chosen permutations `[B * K]`, the per-candidate logits `[B * L]` and the rewards `[B]`
   */
  rerank(batch: RerankBatchTensors, options: PierRerankOptions = {}): PierRerankResult {
    this.check();
    const c = this.config;
    const d = c.dim;
    const [b, l] = batch.items.shape;
    const hl = batch.history.shape[1];
    const k = options.permutationLength ?? c.permutationLength;
    const count = options.numPermutations ?? c.numPermutations;
    const keep = options.keepPermutations ?? c.keepPermutations;
    const seed = options.seed ?? c.seed;
    if (!Number.isInteger(k) || k < 1 || k > l) {
      throw new RangeError(`rerank: permutationLength ${k} must be in [1, L = ${l}]`);
    }
    if (!Number.isInteger(count) || count < 0)
      throw new RangeError(`rerank: numPermutations must be an integer >= 0, got ${count}`);
    if (!Number.isInteger(keep) || keep < 1)
      throw new RangeError(`rerank: keepPermutations must be an integer >= 1, got ${keep}`);
    if (!Number.isInteger(seed) || seed === 0)
      throw new RangeError(`rerank: seed must be a non-zero integer, got ${seed}`);

    // 1. per-candidate logits (OCPM over the whole list) and the embeddings FPSM hashes
    const state = this.encodeUser(batch, { training: false });
    let logitsT: Tensor | undefined;
    let itemEmbT: Tensor | undefined;
    let histEmbT: Tensor | undefined;
    let rewardsT: Tensor | undefined;
    try {
      logitsT = this.scoreWithState(batch, state, { training: false });
      [itemEmbT, histEmbT] = tf.tidy(() => [
        tf.gatherND(this.itemTable, tf.reshape(batch.items, [b * l, 1])),
        tf.gatherND(this.itemTable, tf.reshape(batch.history, [b * hl, 1])),
      ]);
      const scores = Float32Array.from(logitsT.dataSync());
      const itemEmb = itemEmbT.dataSync();
      const histEmb = histEmbT.dataSync();
      const items = batch.items.dataSync();
      const history = batch.history.dataSync();
      const retrieverScores = batch.scores.dataSync();
      const ranks = batch.ranks ? batch.ranks.dataSync() : undefined;

      // 2. FPSM: candidate permutations, SimHash selection of the top M
      const bits = c.hashBits;
      const planes = this.hyperplanes(seed);
      const rand = mulberry32(deriveSeed(seed, 'fpsm'));
      const byRank = ranksFromScoresArray(scores, l);
      const m = Math.min(keep, 1 + count);
      const kept: Int32Array[] = []; // [B * m] permutations
      for (let r = 0; r < b; r++) {
        const order = new Int32Array(l);
        for (let i = 0; i < l; i++) order[byRank[r * l + i] as number] = i;
        const perms = candidatePermutations(order, k, count, rand);
        const emb = itemEmb.subarray(r * l * d, (r + 1) * l * d);
        const permEmb = perms.map((p) => permutationEmbedding(p, emb, d));
        const valid = Uint8Array.from({ length: hl }, (_, j) =>
          history[r * hl + j] === c.numItems ? 0 : 1,
        );
        const interest = interestEmbedding(
          permEmb[0] as Float64Array,
          histEmb.subarray(r * hl * d, (r + 1) * hl * d),
          valid,
        );
        const chosen = selectBySimHash(
          permEmb.map((v) => simHash(v, planes, bits)),
          simHash(interest, planes, bits),
          m,
        );
        for (let j = 0; j < m; j++)
          kept.push(perms[chosen[j] ?? (chosen[0] as number)] as Int32Array);
      }

      // 3. OCPM on each kept permutation: its K items are the whole context
      const nl = b * m;
      const permItems = new Int32Array(nl * k);
      const permScores = new Float32Array(nl * k);
      const permRanks = new Int32Array(nl * k);
      const permValid = new Float32Array(nl * hl);
      const stateRows = new Int32Array(nl);
      for (let q = 0; q < nl; q++) {
        const r = Math.floor(q / m);
        const perm = kept[q] as Int32Array;
        stateRows[q] = r;
        for (let j = 0; j < k; j++) {
          const cand = r * l + (perm[j] as number);
          permItems[q * k + j] = items[cand] as number;
          permScores[q * k + j] = retrieverScores[cand] as number;
          permRanks[q * k + j] = ranks ? (ranks[cand] as number) : (perm[j] as number);
        }
        for (let j = 0; j < hl; j++) {
          permValid[q * hl + j] = history[r * hl + j] === c.numItems ? 0 : 1;
        }
      }
      rewardsT = tf.tidy(() => {
        const logits = this.ocpm(
          {
            items: tf.tensor2d(permItems, [nl, k], 'int32'),
            scores: tf.tensor2d(permScores, [nl, k], 'float32'),
            rankFeature: tf.tensor2d(permRanks, [nl, k], 'int32'),
            state: tf.gatherND(state, tf.tensor2d(stateRows, [nl, 1], 'int32')) as Tensor3D,
            historyValid: tf.tensor2d(permValid, [nl, hl], 'float32'),
          },
          false,
        );
        return tf.sum(tf.sigmoid(logits), 1);
      });
      const rewards = rewardsT.dataSync();
      const permutation = new Int32Array(b * k);
      const reward = new Float32Array(b);
      for (let r = 0; r < b; r++) {
        let best = 0;
        for (let j = 1; j < m; j++) {
          if ((rewards[r * m + j] as number) > (rewards[r * m + best] as number)) best = j;
        }
        permutation.set(kept[r * m + best] as Int32Array, r * k);
        reward[r] = rewards[r * m + best] as number;
      }
      return { permutation, scores, reward };
    } finally {
      tf.dispose([state, logitsT, itemEmbT, histEmbT, rewardsT].filter((t) => t !== undefined));
    }
  }
}

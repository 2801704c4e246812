/**
 * What PRM and Pier share, written once: the {@link ParamModel} base class (named variables in a
 * `ParamStore`, the dropout seed sequence, weights in and out, disposal), the validation of their
 * common config keys, the user-encoder options, and {@link ListInput}, the per-candidate input
 * projection `g_i e_i W_item + u W_user + b [+ e_s(s_i) W] [+ rank_emb(r_i)]`.
 *
 * Parameter names and their creation order are part of the saved format (`getWeights()` lists
 * them in creation order); nothing here changes either.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { Tensor, Tensor1D, Tensor2D, Variable } from '@tensorflow/tfjs-core';
import { dense } from '../engine/dense';
import { embeddingLookup } from '../engine/embedding';
import { assertGradientsRegistered } from '../engine/gradient-check';
import { ParamStore, type NamedWeight } from '../engine/params';
import { SeedSequence, deriveSeed } from '../engine/random';
import type { NormPlacement } from '../engine/transformer';
import type { UserEncoderKind, UserStateEncoderOptions } from '../encoders/user-state';
import type { Reranker } from '../reranker';

/** How the retriever score enters the model (protocol 4.5). */
export type ScoreUsage = 'none' | 'concat' | 'add' | 'weight';

/** The resolved config keys PRM and Pier have in common. */
export interface SharedRerankerConfig {
  numItems: number;
  numUsers: number;
  dim: number;
  blocks: number;
  heads: number;
  ffnDim: number;
  dropout: number;
  attentionDropout: number;
  maxListSize: number;
  historyLength: number;
  scoreUsage: ScoreUsage;
  rankEmbedding: boolean;
  userEncoder: UserEncoderKind;
  userIdEmbedding: boolean;
  norm: NormPlacement;
  seed: number;
}

/**
 * `{ ...defaults, ...config }` after checking that `config` is an object with known keys only
 * (unknown keys are errors, to catch typos). `label` names the model in messages.
 */
export function withDefaults<C>(label: string, config: object, defaults: object): C {
  if (typeof config !== 'object' || config === null)
    throw new Error(`${label} config must be an object`);
  const keys = new Set(['numItems', 'numUsers', ...Object.keys(defaults)]);
  for (const k of Object.keys(config)) {
    if (!keys.has(k)) throw new Error(`unknown ${label} config key '${k}'`);
  }
  return { ...defaults, ...config } as C;
}

/** Checks the shared keys that are not plain integers (heads divide dim, rates, enums, seed). */
export function checkSharedConfig(label: string, c: SharedRerankerConfig): void {
  if (c.dim % c.heads !== 0)
    throw new RangeError(`${label} dim ${c.dim} is not divisible by heads ${c.heads}`);
  for (const k of ['dropout', 'attentionDropout'] as const) {
    if (!(typeof c[k] === 'number' && c[k] >= 0 && c[k] < 1))
      throw new RangeError(`${label} config '${k}' must be in [0, 1), got ${String(c[k])}`);
  }
  if (!['none', 'concat', 'add', 'weight'].includes(c.scoreUsage)) {
    throw new RangeError(
      `${label} scoreUsage must be none|concat|add|weight, got '${String(c.scoreUsage)}'`,
    );
  }
  if (!['transformer', 'mean'].includes(c.userEncoder)) {
    throw new RangeError(
      `${label} userEncoder must be transformer|mean, got '${String(c.userEncoder)}'`,
    );
  }
  if (!['post', 'pre'].includes(c.norm))
    throw new RangeError(`${label} norm must be post|pre, got '${String(c.norm)}'`);
  if (!Number.isInteger(c.seed) || c.seed === 0) {
    throw new RangeError(
      `${label} seed must be a non-zero integer (tfjs treats 0 as "no seed"), got ${c.seed}`,
    );
  }
}

/** The user-state encoder's options from a model config. */
export function userEncoderOptions(c: SharedRerankerConfig): UserStateEncoderOptions {
  return {
    kind: c.userEncoder,
    dim: c.dim,
    historyLength: c.historyLength,
    heads: c.heads,
    ffnDim: c.ffnDim,
    dropout: c.dropout,
    attentionDropout: c.attentionDropout,
    norm: c.norm,
    userEmbedding: c.userIdEmbedding,
    numUsers: c.numUsers,
    numItems: c.numItems,
  };
}

/**
 * A reranker whose weights are the variables of one `ParamStore`: the plumbing of the
 * {@link Reranker} contract. Subclasses create their parameters in {@link ParamModel.store} (in
 * a fixed order: it is the order of `getWeights()`), call {@link ParamModel.check} first in every
 * public method, and free anything else they own in {@link ParamModel.release}.
 */
export abstract class ParamModel<C extends SharedRerankerConfig> implements Pick<
  Reranker,
  'trainableVariables' | 'getWeights' | 'setWeights' | 'countParams' | 'dispose'
> {
  abstract readonly name: string;
  /** The fully resolved configuration (every default filled in). */
  readonly config: C;
  protected readonly store: ParamStore;
  /** Per-call dropout seeds, derived from the config seed. */
  protected seeds: SeedSequence;
  private disposed = false;

  /**
   * @param label the model's name in messages, e.g. `'PRM'`
   * @param className the class name in messages about its methods, e.g. `'Prm'`
   */
  protected constructor(
    config: C,
    private readonly label: string,
    private readonly className: string,
  ) {
    this.config = config;
    this.store = new ParamStore(config.seed);
    this.seeds = new SeedSequence(deriveSeed(config.seed, 'dropout'));
  }

  /** Throws once the model is disposed. */
  protected check(): void {
    if (this.disposed) throw new Error(`this ${this.label} was disposed`);
  }

  /**
   * Every variable of the model, in creation order, for training. Throws a helpful error if
   * tfjs's gradients are not registered (import `@tensorflow/tfjs` or tfjs-node once; tfjs-core
   * alone registers none).
   */
  trainableVariables(): Variable[] {
    this.check();
    assertGradientsRegistered(`${this.className}.trainableVariables() (training)`);
    return this.store.variables();
  }

  /** Copies the weights out under stable logical names (e.g. `block0/attention/wq`). */
  getWeights(): NamedWeight[] {
    this.check();
    return this.store.getWeights();
  }

  /** Assigns weights; every name must exist with the same shape (errors name both shapes). */
  setWeights(weights: readonly NamedWeight[]): void {
    this.check();
    this.store.setWeights(weights);
  }

  /** Number of scalar parameters. */
  countParams(): number {
    return this.store.size();
  }

  /** Restarts the dropout seed sequence (for exactly reproducible reruns). */
  resetSeeds(): void {
    this.seeds.reset();
  }

  /** Re-derives the dropout seeds from (config seed, epoch): see {@link Reranker.setRandomEpoch}. */
  setRandomEpoch(epoch: number): void {
    this.seeds = new SeedSequence(deriveSeed(this.config.seed, 'dropout', 'epoch', epoch));
  }

  /** Frees every variable; later calls on this model throw. Idempotent. */
  dispose(): void {
    if (this.disposed) return;
    this.release();
    this.store.dispose();
    this.disposed = true;
  }

  /** Frees what the subclass owns besides the store's variables (called once, by dispose). */
  protected release(): void {}
}

/**
 * The per-candidate input projection of PRM and Pier: `Linear([e_i ; u])` computed as
 * `e_i W_item + (u W_user + b)` (u projected once per list), with the retriever score per
 * `scoreUsage` (`weight`: `s_i e_i`; `concat` / `add`: `e_s(s) W = s (W_s W) + b_s W`) and the
 * rank embedding. Creates `input/w_item`, `input/w_user`, `input/b`, then `score/w`, `score/b`
 * (concat / add) and `input/w_score` (concat), in that order.
 */
export class ListInput {
  private readonly wItem: Variable;
  private readonly wUser: Variable;
  private readonly bIn: Variable;
  private readonly wScore?: Variable;
  private readonly bScore?: Variable;
  private readonly wInScore?: Variable;

  /** @param rankTable the `[maxListSize, d]` rank embedding, when the model has one */
  constructor(
    store: ParamStore,
    private readonly dim: number,
    private readonly scoreUsage: ScoreUsage,
    private readonly rankTable?: Variable,
  ) {
    const d = dim;
    const g = { kind: 'glorotUniform' } as const;
    const z = { kind: 'zeros' } as const;
    this.wItem = store.create('input/w_item', [d, d], g);
    this.wUser = store.create('input/w_user', [d, d], g);
    this.bIn = store.create('input/b', [d], z);
    if (scoreUsage === 'concat' || scoreUsage === 'add') {
      this.wScore = store.create('score/w', [1, d], g);
      this.bScore = store.create('score/b', [d], z);
    }
    if (scoreUsage === 'concat') this.wInScore = store.create('input/w_score', [d, d], g);
  }

  /**
   * @param e item representations float32 `[B*L, d]` (unweighted)
   * @param u user states float32 `[B, d]`
   * @param scores float32 `[B, L]`
   * @param ranks int32 `[B, L]` rank of each candidate, or undefined for 0..L-1
   * @returns float32 `[B*L, d]`
   */
  apply(e: Tensor2D, u: Tensor2D, scores: Tensor2D, ranks: Tensor2D | undefined): Tensor2D {
    const [b, l] = scores.shape;
    const d = this.dim;
    const n = b * l;
    const s = tf.reshape(scores, [n, 1]);
    const eIn = this.scoreUsage === 'weight' ? (tf.mul(e, s) as Tensor2D) : e;
    let x: Tensor = tf.add(
      tf.reshape(dense(eIn, this.wItem as Tensor2D), [b, l, d]),
      tf.reshape(dense(u, this.wUser as Tensor2D, this.bIn as Tensor1D), [b, 1, d]),
    );
    if (this.wScore && this.bScore) {
      // e_s(s) W = s (W_s W) + b_s W
      const w = this.scoreUsage === 'concat' ? (this.wInScore as Tensor2D) : this.wUser;
      const sv = tf.matMul(this.wScore, w); // [1, d]
      const sc = tf.matMul(tf.reshape(this.bScore, [1, d]), w); // [1, d]
      x = tf.add(x, tf.reshape(tf.add(tf.mul(s, sv), sc), [b, l, d]));
    }
    if (this.rankTable) {
      const rankPart = ranks
        ? tf.reshape(embeddingLookup(this.rankTable as Tensor2D, tf.reshape(ranks, [n])), [b, l, d])
        : tf.slice(this.rankTable, [0, 0], [l, d]);
      x = tf.add(x, rankPart);
    }
    return tf.reshape(x, [n, d]);
  }
}

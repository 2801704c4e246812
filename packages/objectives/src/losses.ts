/**
 * DNR training losses over logits and labels (Eq. 6 and Eq. 7 of the paper).
 *
 * All functions are pure tensor-in / tensor-out and allocate intermediates: call them inside
 * `tf.tidy` (or `optimizer.minimize`) so the intermediates are released.
 *
 * @module
 */
import * as tf from '@tensorflow/tfjs-core';
import type { Scalar, Tensor2D } from '@tensorflow/tfjs-core';

/** Throws when `t` is not rank 2; `name` is the argument name used in the message. */
function assertRank2(t: tf.Tensor, name: string, fn: string): void {
  if (t.rank !== 2) {
    throw new Error(
      `${fn}: ${name} must be a rank-2 tensor [B,L], got shape [${t.shape.join(',')}]`,
    );
  }
}

/** Throws when `b`'s shape differs from `a`'s, naming both arguments and both shapes. */
function assertSameShape(
  a: tf.Tensor,
  aName: string,
  b: tf.Tensor,
  bName: string,
  fn: string,
): void {
  if (a.shape.length !== b.shape.length || a.shape.some((d, i) => d !== b.shape[i])) {
    throw new Error(
      `${fn}: ${bName} shape [${b.shape.join(',')}] must equal ${aName} shape [${a.shape.join(',')}]`,
    );
  }
}

/**
 * Mean binary cross-entropy of logits [B,L] against 0/1 labels [B,L] (float32), numerically stable
 * (max(z,0) - z*y + log(1 + exp(-|z|))); optional weights/mask [B,L] (mean over weight sum). Returns a scalar.
 *
 * In DNR this single function is both supervised terms:
 * - L_BCE = bceWithLogits(q_θ(x), y) — the reranker on the REAL retriever scores x;
 * - L_z   = bceWithLogits(q_θ(stopGradient(x̂)), y) — the reranker on the SYNTHETIC scores x̂
 *   (x̂ detached so the reranker step does not update the noise generator).
 *
 * @param logits - reranker logits z, shape [B,L], float32.
 * @param labels - relevance labels y ∈ {0,1} (soft labels in [0,1] are accepted), shape [B,L].
 * @param weights - optional non-negative per-element weights or 0/1 mask, shape [B,L]. The result is
 *   Σ w·ℓ / Σ w; an all-zero mask yields 0 (not NaN).
 * @returns scalar mean loss (mean over all B·L elements when `weights` is omitted).
 * @throws when an input is not rank 2 or its shape differs from `logits`.
 */
export function bceWithLogits(logits: Tensor2D, labels: Tensor2D, weights?: Tensor2D): Scalar {
  const fn = 'bceWithLogits';
  assertRank2(logits, 'logits', fn);
  assertSameShape(logits, 'logits', labels, 'labels', fn);
  if (weights !== undefined) assertSameShape(logits, 'logits', weights, 'weights', fn);
  return tf.tidy(() => {
    const z = tf.cast(logits, 'float32');
    const y = tf.cast(labels, 'float32');
    // ℓ = max(z,0) − z·y + log(1 + exp(−|z|)); log1p keeps precision for large |z|.
    const perElement = tf.add(
      tf.sub(tf.relu(z), tf.mul(z, y)),
      tf.log1p(tf.exp(tf.neg(tf.abs(z)))),
    );
    if (weights === undefined) return tf.mean(perElement) as Scalar;
    const w = tf.cast(weights, 'float32');
    const total = tf.sum(tf.mul(perElement, w));
    // max(Σw, tiny) keeps an all-zero mask at 0 instead of 0/0.
    return tf.div(total, tf.maximum(tf.sum(w), 1e-12)) as Scalar;
  });
}

/** How Eq. 6 combines the real-score and synthetic-score terms. */
export type DenoisingForm = 'additive' | 'convex';

/** Options of {@link denoisingLoss}. */
export interface DenoisingLossOptions {
  /**
   * λ, the weight of the augmentation term L_z ("controls the magnitude of the augmentation").
   * Must be finite and ≥ 0; the `convex` form also needs λ ≤ 1.
   */
  lambda: number;
  /**
   * `additive` (default, [INFER] protocol.md 1.5 item 3): `L_BCE + λ·L_z`.
   * `convex` ([GUESS] alternative): `(1 − λ)·L_BCE + λ·L_z`.
   */
  form?: DenoisingForm;
}

/** Throws when `t` is not a scalar (rank 0) tensor. */
function assertScalar(t: tf.Tensor, name: string, fn: string): void {
  if (t.rank !== 0) {
    throw new Error(`${fn}: ${name} must be a scalar tensor, got shape [${t.shape.join(',')}]`);
  }
}

/**
 * The reranker's denoising loss L_D(θ) of Eq. 6, combining the BCE on real scores with the BCE on
 * synthetic scores:
 * - `additive` (default): `L_D = L_BCE + λ·L_z`;
 * - `convex`: `L_D = (1 − λ)·L_BCE + λ·L_z`.
 *
 * Both inputs usually come from {@link bceWithLogits}: `lBce = bceWithLogits(q_θ(x), y)` and
 * `lZ = bceWithLogits(q_θ(stopGradient(x̂)), y)`; the noise generator's parameters are fixed in this
 * step (only θ is updated).
 *
 * @param lBce - scalar L_BCE (reranker BCE on the real retriever scores).
 * @param lZ - scalar L_z (reranker BCE on the synthetic scores x̂, generator detached).
 * @param options - λ and the combination form.
 * @returns scalar L_D.
 * @throws RangeError when λ is not finite, negative, or (convex form) greater than 1; Error when an
 *   input is not a scalar or `form` is unknown.
 */
export function denoisingLoss(lBce: Scalar, lZ: Scalar, options: DenoisingLossOptions): Scalar {
  const fn = 'denoisingLoss';
  const { lambda } = options;
  const form = options.form ?? 'additive';
  if (form !== 'additive' && form !== 'convex') {
    throw new Error(`${fn}: form must be 'additive' or 'convex', got ${JSON.stringify(form)}`);
  }
  if (typeof lambda !== 'number' || !Number.isFinite(lambda) || lambda < 0) {
    throw new RangeError(`${fn}: lambda must be a finite number >= 0, got ${String(lambda)}`);
  }
  if (form === 'convex' && lambda > 1) {
    throw new RangeError(`${fn}: lambda must be in [0, 1] for form 'convex', got ${lambda}`);
  }
  assertScalar(lBce, 'lBce', fn);
  assertScalar(lZ, 'lZ', fn);
  return tf.tidy(() => {
    const wReal = form === 'convex' ? 1 - lambda : 1;
    return tf.add(tf.mul(lBce, wReal), tf.mul(lZ, lambda)) as Scalar;
  });
}

/**
 * The generator's adversarial loss L_adv(φ) of Eq. 7, as reconstructed in protocol.md 1.5 item 4:
 * `L_adv = −bceWithLogits(q_θ(x̂_φ), y)`.
 *
 * The generator wants synthetic scores that the frozen reranker denoises *incorrectly* (small
 * q_θ(y|x̂)/p(y)), i.e. it MAXIMIZES the reranker's BCE on generated scores; minimizing this value
 * does that. The `log p(y)` term of the paper's ratio is constant in φ and dropped.
 *
 * Gradients: `logitsOnGenerated` must be computed from x̂_φ WITHOUT detaching it, so gradients flow
 * through the reranker into x̂ and on to φ. The reranker is frozen by the caller: pass only the
 * generator's variables to `optimizer.minimize(..., varList)` (θ would otherwise be pushed to
 * increase its own loss).
 *
 * @param logitsOnGenerated - reranker logits on the generated scores, shape [B,L].
 * @param labels - labels y ∈ {0,1}, shape [B,L].
 * @param weights - optional weights/mask [B,L], as in {@link bceWithLogits}.
 * @returns scalar L_adv (≤ 0).
 */
export function adversarialLoss(
  logitsOnGenerated: Tensor2D,
  labels: Tensor2D,
  weights?: Tensor2D,
): Scalar {
  return tf.tidy(() => tf.neg(bceWithLogits(logitsOnGenerated, labels, weights)));
}

import * as tf from '@tensorflow/tfjs-core';
import type { Tensor, Tensor1D, Tensor2D } from '@tensorflow/tfjs-core';
import { columnSums } from './dense';
import { isFrozen } from './frozen';
import { tapeActive } from './tape';

/**
 * Layer normalisation over the last axis, `y = gamma * (x - mean) / sqrt(var + eps) + beta`,
 * with a hand-written gradient (fewer kernels than autodiff through the composition):
 * `dx = inv * (g - mean(g) - xhat * mean(g * xhat))` with `g = dy * gamma`,
 * `dgamma = sum(dy * xhat, 0)`, `dbeta = sum(dy, 0)` (zeros for weights frozen by `withFrozenWeights`).
 *
 * @param x float32 `[N, d]`
 * @param gamma float32 `[d]`
 * @param beta float32 `[d]`
 * @param eps variance epsilon (default 1e-5, as PyTorch)
 * @returns float32 `[N, d]`
 */
export function layerNorm(x: Tensor2D, gamma: Tensor1D, beta: Tensor1D, eps = 1e-5): Tensor2D {
  if (x.rank !== 2 || gamma.shape[0] !== x.shape[1] || beta.shape[0] !== x.shape[1]) {
    throw new Error(
      `layerNorm: x [${x.shape.join(',')}] needs gamma and beta [${x.shape[1]}], got [${gamma.shape.join(',')}] and [${beta.shape.join(',')}]`,
    );
  }
  if (!tapeActive()) return layerNormReference(x, gamma, beta, eps);
  const f = tf.customGrad((xi, g, b, save) => {
    const frozen = isFrozen(g as Tensor) && isFrozen(b as Tensor);
    const mean = tf.mean(xi as Tensor, -1, true);
    const xc = tf.sub(xi as Tensor, mean);
    const variance = tf.mean(tf.square(xc), -1, true);
    const inv = tf.rsqrt(tf.add(variance, eps));
    const xhat = tf.mul(xc, inv);
    (save as unknown as (ts: Tensor[]) => void)([xhat, inv, g as Tensor]);
    return {
      value: tf.add(tf.mul(xhat, g as Tensor), b as Tensor),
      gradFunc: (dy: Tensor | Tensor[], saved: Tensor[]) => {
        const [xh, iv, gm] = saved as [Tensor, Tensor, Tensor];
        const d = dy as Tensor;
        const gdy = tf.mul(d, gm);
        const dx = tf.mul(
          iv,
          tf.sub(
            tf.sub(gdy, tf.mean(gdy, -1, true)),
            tf.mul(xh, tf.mean(tf.mul(gdy, xh), -1, true)),
          ),
        );
        if (frozen) return [dx, tf.zeros(gm.shape), tf.zeros(gm.shape)];
        return [dx, columnSums(tf.mul(d, xh) as Tensor2D), columnSums(d as Tensor2D)];
      },
    };
  });
  return f(x, gamma, beta) as Tensor2D;
}

/** The same layer norm composed from plain tfjs ops (reference for gradient checks). */
export function layerNormReference(
  x: Tensor2D,
  gamma: Tensor1D,
  beta: Tensor1D,
  eps = 1e-5,
): Tensor2D {
  const mean = tf.mean(x, -1, true);
  const xc = tf.sub(x, mean);
  const variance = tf.mean(tf.square(xc), -1, true);
  return tf.add(tf.mul(tf.mul(xc, tf.rsqrt(tf.add(variance, eps))), gamma), beta);
}

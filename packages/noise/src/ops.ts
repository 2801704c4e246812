import * as tf from '@tensorflow/tfjs-core';

type Saved = { save: tf.GradSaveFunc };
type CustomGradientFunc = Parameters<typeof tf.customGrad>[0];

/**
 * `x·w + b` for 2-D `x [N, in]`, `w [in, out]`, `b [out]`, with a custom gradient that materializes
 * the transposes (`dy·wᵀ`, `xᵀ·dy`): tfjs's default matMul gradient uses the transposed matMul
 * forms, which run about 10x slower on the wasm backend (design.md §3).
 * @internal
 */
export const dense2d = tf.customGrad(((...args: Array<tf.Tensor | tf.GradSaveFunc>) => {
  const [x, w, b, save] = args as [tf.Tensor2D, tf.Tensor2D, tf.Tensor1D, Saved['save']];
  save([x, w]);
  return {
    value: tf.add(tf.matMul(x, w), b),
    gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
      const [xs, ws] = saved as [tf.Tensor2D, tf.Tensor2D];
      const dy2 = dy as tf.Tensor2D;
      return [tf.matMul(dy2, tf.transpose(ws)), tf.matMul(tf.transpose(xs), dy2), tf.sum(dy2, 0)];
    },
  };
}) as CustomGradientFunc) as (x: tf.Tensor2D, w: tf.Tensor, b: tf.Tensor) => tf.Tensor2D;

const stopGradientOp = tf.customGrad(((...args: Array<tf.Tensor | tf.GradSaveFunc>) => {
  const x = args[0] as tf.Tensor;
  return { value: tf.clone(x), gradFunc: (dy: tf.Tensor) => tf.zerosLike(dy) };
}) as CustomGradientFunc);

/**
 * Returns a copy of `x` (any shape and dtype float32) through which no gradient flows back: its
 * gradient is zero, so variables upstream of `x` receive zero gradient from this path. tfjs-core has
 * no `stopGradient`; use this to detach generated noise (reranker step) or context features.
 */
export function stopGradient<T extends tf.Tensor>(x: T): T {
  return stopGradientOp(x) as T;
}

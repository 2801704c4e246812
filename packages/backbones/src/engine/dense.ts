import * as tf from '@tensorflow/tfjs-core';
import type { Tensor, Tensor1D, Tensor2D } from '@tensorflow/tfjs-core';
import { isFrozen } from './frozen';
import { assertGradientsRegistered } from './gradient-check';
import { tapeActive } from './tape';

/** Activation fused into {@link dense}. */
export type DenseActivation = 'linear' | 'relu';

type GradSave = (tensors: Tensor[]) => void;

function denseForward(
  x: Tensor2D,
  w: Tensor2D,
  b: Tensor1D | undefined,
  activation: DenseActivation,
): Tensor2D {
  if (b === undefined && activation === 'linear') return tf.matMul(x, w);
  // _FusedMatMul: bias add and relu happen inside the matmul kernel on wasm (XNNPACK).
  return tf.fused.matMul({ a: x, b: w, bias: b, activation }) as Tensor2D;
}

// The backward pass only uses plain (untransposed) 2-D matMuls on materialized transposes: on the
// wasm backend matMul with transposeA/transposeB runs ~10x slower than the plain form. A frozen
// weight (withFrozenWeights) gets zeros, and neither transpose(x) nor the dW product is computed.
function backward(
  dy: Tensor2D,
  x: Tensor2D,
  w: Tensor2D,
  y: Tensor2D | undefined,
  activation: DenseActivation,
  frozen: boolean,
): [Tensor2D, Tensor2D, Tensor1D] {
  const g: Tensor2D = activation === 'relu' && y ? tf.mul(dy, tf.step(y)) : dy;
  const dx = tf.matMul(g, tf.transpose(w)) as Tensor2D;
  if (frozen) return [dx, tf.zeros(w.shape) as Tensor2D, tf.zeros([w.shape[1]]) as Tensor1D];
  const dw = tf.matMul(tf.transpose(x), g) as Tensor2D;
  return [dx, dw, columnSums(g)];
}

/**
 * Column sums of a `[N, d]` matrix as `[d]`: `ones[1, N] · m`. On the wasm backend a reduction
 * over axis 0 (`tf.sum(m, 0)`) transposes first and takes 11 ms for 12,800 x 64, the product 0.1 ms.
 */
export function columnSums(m: Tensor2D): Tensor1D {
  const [n, d] = m.shape;
  return tf.reshape(tf.matMul(tf.ones([1, n]), m), [d]) as Tensor1D;
}

const denseBiasLinear = tf.customGrad((x, w, b, save) => {
  const frozen = isFrozen(w as Tensor) && isFrozen(b as Tensor);
  (save as GradSave)([x as Tensor, w as Tensor]);
  return {
    value: denseForward(x as Tensor2D, w as Tensor2D, b as Tensor1D, 'linear'),
    gradFunc: (dy: Tensor | Tensor[], saved: Tensor[]) => {
      const [xs, ws] = saved as [Tensor2D, Tensor2D];
      return backward(dy as Tensor2D, xs, ws, undefined, 'linear', frozen);
    },
  };
});

const denseBiasRelu = tf.customGrad((x, w, b, save) => {
  const frozen = isFrozen(w as Tensor) && isFrozen(b as Tensor);
  const y = denseForward(x as Tensor2D, w as Tensor2D, b as Tensor1D, 'relu');
  (save as GradSave)([x as Tensor, w as Tensor, y]);
  return {
    value: y,
    gradFunc: (dy: Tensor | Tensor[], saved: Tensor[]) => {
      const [xs, ws, ys] = saved as [Tensor2D, Tensor2D, Tensor2D];
      return backward(dy as Tensor2D, xs, ws, ys, 'relu', frozen);
    },
  };
});

const denseNoBias = tf.customGrad((x, w, save) => {
  const frozen = isFrozen(w as Tensor);
  (save as unknown as GradSave)([x as Tensor, w as Tensor]);
  return {
    value: denseForward(x as Tensor2D, w as Tensor2D, undefined, 'linear'),
    gradFunc: (dy: Tensor | Tensor[], saved: Tensor[]) => {
      const [xs, ws] = saved as [Tensor2D, Tensor2D];
      const [dx, dw] = backward(dy as Tensor2D, xs, ws, undefined, 'linear', frozen);
      return [dx, dw];
    },
  };
});

/** `'fast'`: the custom gradient below; `'tfjs'`: plain `tf.matMul` + bias with tfjs's default gradient (for benchmarks). */
export type DenseMode = 'fast' | 'tfjs';
let denseMode: DenseMode = 'fast';

/** Chooses {@link dense}'s implementation (for before/after benchmarks). Returns the previous mode. */
export function setDenseMode(next: DenseMode): DenseMode {
  const prev = denseMode;
  denseMode = next;
  return prev;
}

/**
 * Fully connected layer `y = act(x · w + b)` with a gradient built only from fast plain 2-D
 * matMuls: `dx = dy · transpose(w)` and `dw = transpose(x) · dy` with materialized transposes,
 * `db = sum(dy, 0)`. Inputs of higher rank must be reshaped to 2-D `[N, in]` by the caller.
 *
 * @param x float32 `[N, in]`
 * @param w float32 `[in, out]`
 * @param b optional float32 `[out]`
 * @param activation `'linear'` (default) or `'relu'` (fused into the forward matMul)
 * @returns float32 `[N, out]`
 */
export function dense(
  x: Tensor2D,
  w: Tensor2D,
  b?: Tensor1D,
  activation: DenseActivation = 'linear',
): Tensor2D {
  if (x.rank !== 2 || w.rank !== 2) {
    throw new Error(
      `dense expects x [N, in] and w [in, out]; got x [${x.shape.join(',')}] and w [${w.shape.join(',')}]`,
    );
  }
  if (x.shape[1] !== w.shape[0]) {
    throw new Error(
      `dense: inner sizes differ: x [${x.shape.join(',')}] vs w [${w.shape.join(',')}]`,
    );
  }
  if (b !== undefined && (b.rank !== 1 || b.shape[0] !== w.shape[1])) {
    throw new Error(
      `dense: bias shape [${b.shape.join(',')}] does not match w [${w.shape.join(',')}]`,
    );
  }
  const recording = tapeActive();
  // a gradient is being recorded: fail now, with a clear message, if tfjs's gradients are missing
  if (recording) assertGradientsRegistered('dense() under a gradient tape (training)');
  if (denseMode === 'tfjs') {
    const y = b === undefined ? tf.matMul(x, w) : tf.add(tf.matMul(x, w), b);
    return (activation === 'relu' ? tf.relu(y) : y) as Tensor2D;
  }
  if (!recording) return denseForward(x, w, b, activation);
  if (b === undefined) {
    if (activation === 'relu') return tf.relu(denseNoBias(x, w) as Tensor2D);
    return denseNoBias(x, w) as Tensor2D;
  }
  return (activation === 'relu' ? denseBiasRelu(x, w, b) : denseBiasLinear(x, w, b)) as Tensor2D;
}

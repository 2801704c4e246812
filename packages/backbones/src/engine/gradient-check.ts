import * as tf from '@tensorflow/tfjs-core';

/*
 * `@tensorflow/tfjs-core` on its own registers NO gradient functions: the union package
 * `@tensorflow/tfjs` (and `@tensorflow/tfjs-node` / `-gpu`, which load it) registers them. This
 * package does not ship gradients of its own beyond the custom gradients of its layers (dense,
 * embedding lookup, layer norm, SIMD batched matMul); everything else in a backward pass uses
 * tfjs's gradients, so applications must import `@tensorflow/tfjs` or tfjs-node before training.
 * Inference needs no gradients at all.
 */

/**
 * Kernels whose tfjs gradient functions the backward passes of this package's models use, i.e. the
 * ops on the path from the variables to the output that are not inside one of our custom
 * gradients: reshapes and head split/merge (`Reshape`, `Transpose`), residual and bias adds, score
 * scaling, dropout and masked pooling (`Add`, `Multiply`, `RealDiv`, `Sum`), rank / position
 * table slices (`Slice`), attention `Softmax`, the score projection and the plain tfjs paths
 * (`BatchMatMul` for `tf.matMul`, `Relu` in `setDenseMode('tfjs')`). Losses are the caller's: the
 * tfjs union registers their gradients too. `test/engine.test.ts` records the tfjs gradients a
 * PRM training step actually runs and checks that they are exactly these.
 */
export const REQUIRED_GRADIENT_KERNELS: readonly string[] = [
  tf.Add,
  tf.BatchMatMul,
  tf.Multiply,
  tf.RealDiv,
  tf.Relu,
  tf.Reshape,
  tf.Slice,
  tf.Softmax,
  tf.Sum,
  tf.Transpose,
];

/** Looks up a kernel's registered gradient (`tf.getGradient`); injectable for tests. */
export type GradientLookup = (kernelName: string) => unknown;

/** The error message for missing gradients (exported for tests and tools). */
export function missingGradientsMessage(context: string, missing: readonly string[]): string {
  return (
    `${context} needs tfjs gradient functions, but none is registered for ${missing.join(', ')}. ` +
    `@tensorflow/tfjs-core alone registers no gradients: import '@tensorflow/tfjs' ` +
    `(or '@tensorflow/tfjs-node' / '@tensorflow/tfjs-node-gpu') once in your application before ` +
    `training, e.g. \`import '@tensorflow/tfjs';\`. Inference needs no gradients.`
  );
}

/**
 * Throws a helpful Error if the tfjs gradients this package's training needs
 * ({@link REQUIRED_GRADIENT_KERNELS}) are not registered, which is the case when only
 * `@tensorflow/tfjs-core` (plus a backend) is loaded.
 *
 * Called automatically where gradients are about to be needed, never for inference:
 * `ParamStore.variables()` (hence `Prm.trainableVariables()`), `measurePrmTraining`, and `dense()`
 * while a gradient tape is recording (inside `tf.grads` / `optimizer.minimize`), so the error comes
 * from the forward pass instead of tfjs's "gradient function not found" in the backward pass.
 * Cheap (a few map lookups), so it is not cached.
 *
 * @param context what needs the gradients, for the message (e.g. `'Prm.trainableVariables()'`)
 * @param getGradient gradient lookup (default `tf.getGradient`; tests inject a fake one)
 */
export function assertGradientsRegistered(
  context: string,
  getGradient: GradientLookup = tf.getGradient,
): void {
  const missing = REQUIRED_GRADIENT_KERNELS.filter((k) => getGradient(k) == null);
  if (missing.length > 0) throw new Error(missingGradientsMessage(context, missing));
}

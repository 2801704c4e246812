import type { Tensor } from '@tensorflow/tfjs-core';

/** The weight sets frozen by the active {@link withFrozenWeights} calls (innermost last). */
const frozenSets: Array<ReadonlySet<Tensor>> = [];

/**
 * Runs `fn` with `weights` frozen for this engine's layers: while `fn` runs, the gradient of
 * {@link dense}, {@link layerNorm} and {@link embeddingLookup} with respect to any of these weight
 * tensors (compared by identity, e.g. a model's `trainableVariables()`) is a tensor of zeros, and
 * the matrix products that would compute it are skipped. Gradients with respect to everything else,
 * the layers' inputs included, are unchanged.
 *
 * For a step that differentiates through a frozen model into something upstream of it (DNR's
 * generator step: the reranker is frozen, the gradient flows through its score input into the
 * generator), the weight gradients are discarded anyway; computing them took about two thirds of
 * that backward pass (docs/performance.md). Do not differentiate with respect to frozen weights
 * inside `fn`: their gradient reads as zero. Whether a weight is frozen is decided when the layer
 * runs forward, so the scope must enclose the forward pass (as `tf.variableGrads(f)` inside `fn`
 * does). Calls nest.
 *
 * @param weights the tensors whose gradients are not needed (a model's variables)
 * @param fn the work to run, typically a `tf.variableGrads` call over other variables
 * @returns what `fn` returns
 */
export function withFrozenWeights<T>(weights: Iterable<Tensor>, fn: () => T): T {
  frozenSets.push(new Set(weights));
  try {
    return fn();
  } finally {
    frozenSets.pop();
  }
}

/** Whether `t` is frozen by an active {@link withFrozenWeights} call. */
export function isFrozen(t: Tensor | undefined): boolean {
  if (t === undefined || frozenSets.length === 0) return false;
  for (const set of frozenSets) if (set.has(t)) return true;
  return false;
}

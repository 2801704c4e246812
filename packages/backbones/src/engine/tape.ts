import * as tf from '@tensorflow/tfjs-core';

/**
 * True while tfjs records a gradient tape (inside `tf.grads`, `variableGrads`,
 * `optimizer.minimize`). The custom-gradient ops skip their `customGrad` wrapper (scopes, saved
 * clones) when nothing records, which matters for single-request inference latency. Reads the
 * engine's public `state.gradientDepth`; if that ever disappears, assumes a tape is active (safe).
 */
export function tapeActive(): boolean {
  const state = (tf.engine() as unknown as { state?: { gradientDepth?: unknown } }).state;
  const depth = state?.gradientDepth;
  return typeof depth === 'number' ? depth > 0 : true;
}

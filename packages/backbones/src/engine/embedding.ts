import * as tf from '@tensorflow/tfjs-core';
import type { Tensor, Tensor1D, Tensor2D } from '@tensorflow/tfjs-core';
import { isFrozen } from './frozen';
import { tapeActive } from './tape';

/**
 * Embedding lookup `table[ids]` with a gradient that works on every backend.
 *
 * Why not `tf.gather`: its gradient needs the `UnsortedSegmentSum` kernel, which the wasm backend
 * lacks (it throws), and the wasm `GatherV2` kernel is slow (~60 ms for 12,800 rows of a 4k x 128
 * table, against ~5 ms for `GatherNd`). So the forward pass uses `tf.gatherND` and the backward
 * pass `tf.scatterND`, which sums duplicate indices on cpu and wasm, and yields a dense gradient of
 * the table's shape (fine for tables up to a few thousand rows x 128); zeros for a table frozen by
 * `withFrozenWeights`.
 *
 * @param table float32 `[V, d]`
 * @param ids int32 `[N]`, each in `[0, V)` (not checked here: the backend would read garbage; validate
 *   ids on the JavaScript side, see `toBatchTensors`)
 * @returns float32 `[N, d]`
 */
export function embeddingLookup(table: Tensor2D, ids: Tensor1D): Tensor2D {
  if (table.rank !== 2)
    throw new Error(`embeddingLookup: table must be [V, d], got [${table.shape.join(',')}]`);
  if (ids.rank !== 1 || ids.dtype !== 'int32') {
    throw new Error(
      `embeddingLookup: ids must be int32 [N], got ${ids.dtype} [${ids.shape.join(',')}]`,
    );
  }
  const shape = table.shape;
  const n = ids.shape[0];
  if (!tapeActive()) return tf.gatherND(table, tf.reshape(ids, [n, 1])) as Tensor2D;
  const lookup = tf.customGrad((t, save) => {
    const frozen = isFrozen(t as Tensor);
    const idx = tf.reshape(ids, [n, 1]);
    (save as unknown as (ts: Tensor[]) => void)([idx]);
    return {
      value: tf.gatherND(t as Tensor, idx) as Tensor2D,
      gradFunc: (dy: Tensor | Tensor[], saved: Tensor[]) => {
        const [s] = saved as [Tensor2D];
        return [frozen ? tf.zeros(shape) : tf.scatterND(s, dy as Tensor, shape)];
      },
    };
  });
  return lookup(table) as Tensor2D;
}

import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import * as tf from '@tensorflow/tfjs'; // as in the README: core + cpu backend + gradients
import { describe, expect, it } from 'vitest';
import { BetaNoise, ScoreAugmenter } from '@dnr/noise';

/** Code between the markers, or the README's example block, with imports and formatting removed. */
function normalize(code: string): string {
  return code
    .split('\n')
    .filter((line) => !/^\s*import\s/.test(line) && !/^\s*\/\/ (README-EXAMPLE|import)/.test(line))
    .join('\n')
    .replace(/\s+/g, '')
    .replace(/,([)\]}])/g, '$1');
}

function readmeExample(): string {
  const readme = readFileSync(fileURLToPath(new URL('../README.md', import.meta.url)), 'utf8');
  const match = /<!-- readme-example -->\s*```ts\n([\s\S]*?)```/.exec(readme);
  if (match?.[1] === undefined)
    throw new Error('README.md: no ```ts block after <!-- readme-example -->');
  return match[1];
}

function testExample(): string {
  const self = readFileSync(fileURLToPath(import.meta.url), 'utf8');
  const match = /\/\/ README-EXAMPLE-START\n([\s\S]*?)\/\/ README-EXAMPLE-END/.exec(self);
  if (match?.[1] === undefined)
    throw new Error('readme-example.test.ts: example markers not found');
  return match[1];
}

describe('README example', () => {
  it('is the code below (kept in sync)', () => {
    expect(normalize(testExample())).toBe(normalize(readmeExample()));
  });

  it('trains a team-owned reranker with DNR score augmentation and the loss decreases', async () => {
    const tensorsBefore = tf.memory().numTensors;
    // README-EXAMPLE-START
    await tf.setBackend('cpu');
    const [B, L] = [64, 10];
    // Toy data: labels depend on an item feature; retriever scores are a noisy view of the labels.
    const { feature, labels, scores } = tf.tidy(() => {
      const feature = tf.randomNormal([B, L], 0, 1, 'float32', 1) as tf.Tensor2D;
      const noisy = tf.add(feature, tf.randomNormal([B, L], 0, 1, 'float32', 2));
      const labels = tf.cast(tf.greater(noisy, 0.5), 'float32') as tf.Tensor2D;
      const retrieverNoise = tf.randomNormal([B, L], -1, 1.5, 'float32', 3);
      const scores = tf.sigmoid(tf.add(tf.mul(labels, 2), retrieverNoise)) as tf.Tensor2D;
      return { feature, labels, scores };
    });

    // Your own reranker: a per-candidate MLP over [score, item feature] -> one logit per candidate.
    const param = (shape: number[], seed: number, std = 0.5): tf.Variable =>
      tf.tidy(() => tf.variable(tf.randomNormal(shape, 0, std, 'float32', seed)));
    const [w1, b1, w2] = [param([2, 16], 4), param([16], 5, 0), param([16, 1], 6)];
    const rerank = (s: tf.Tensor): tf.Tensor2D => {
      const x = tf.reshape(tf.stack([s, feature], 2), [B * L, 2]);
      return tf.reshape(tf.matMul(tf.relu(tf.add(tf.matMul(x, w1), b1)), w2), [B, L]);
    };

    // DNR: BCE on real scores + lambda * BCE on synthetic scores x̂ = (1 - alpha) y + alpha eps.
    const augmenter = new ScoreAugmenter({
      generator: new BetaNoise({ seed: 7, signed: true }),
      alpha: 0.4,
    });
    const lambda = 0.4;
    const optimizer = tf.train.adam(0.05);
    const losses: number[] = [];
    for (let step = 0; step < 30; step++) {
      const loss = optimizer.minimize(() => {
        const xHat = augmenter.apply(scores, labels, { training: true });
        const real = tf.losses.sigmoidCrossEntropy(labels, rerank(scores));
        const synthetic = tf.losses.sigmoidCrossEntropy(labels, rerank(xHat));
        return tf.add(real, tf.mul(synthetic, lambda)) as tf.Scalar;
      }, true);
      losses.push(loss?.dataSync()[0] ?? Number.NaN);
      loss?.dispose();
    }
    console.log(`loss ${losses[0]?.toFixed(3)} -> ${losses.at(-1)?.toFixed(3)}`);
    // At inference the reranker sees the real scores: apply(..., { training: false }) returns them as is.
    // README-EXAMPLE-END

    expect(losses).toHaveLength(30);
    expect(losses.every(Number.isFinite)).toBe(true);
    expect(losses.at(-1) as number).toBeLessThan((losses[0] as number) * 0.9);
    expect(augmenter.apply(scores, labels, { training: false })).toBe(scores);
    optimizer.dispose();
    tf.dispose([feature, labels, scores, w1, b1, w2]);
    expect(tf.memory().numTensors).toBe(tensorsBefore);
  });
});

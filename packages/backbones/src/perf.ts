import * as tf from '@tensorflow/tfjs-core';
import type { Tensor } from '@tensorflow/tfjs-core';
import { assertGradientsRegistered } from './engine/gradient-check';
import { mulberry32 } from './engine/random';
import { Prm, prmForwardFlops, type PrmConfig } from './models/prm';
import { disposeBatch, toBatchTensors, type RerankBatchArrays } from './reranker';

/** Result of {@link measureMatmulGflops}. */
export interface MatmulMeasurement {
  backend: string;
  m: number;
  k: number;
  n: number;
  msPerMatmul: number;
  gflops: number;
}

function now(): number {
  return performance.now();
}

/**
 * Throughput of one plain 2-D `matMul` `[m, k] x [k, n]` (default 12800 x 128 by 128 x 128) on the
 * active backend: the roofline PRM training is compared against.
 */
export function measureMatmulGflops(
  options: { m?: number; k?: number; n?: number; reps?: number } = {},
): MatmulMeasurement {
  const { m = 12800, k = 128, n = 128, reps = 10 } = options;
  const a = tf.randomUniform([m, k], -1, 1, 'float32', 11);
  const b = tf.randomUniform([k, n], -1, 1, 'float32', 12);
  const run = () => {
    const c = tf.matMul(a, b);
    c.dataSync();
    c.dispose();
  };
  run();
  run();
  const t0 = now();
  for (let i = 0; i < reps; i++) run();
  const ms = (now() - t0) / reps;
  tf.dispose([a, b]);
  return { backend: tf.getBackend(), m, k, n, msPerMatmul: ms, gflops: (2 * m * k * n) / ms / 1e6 };
}

/** A random batch of the given size (items and users uniform, scores descending per list). */
export function syntheticBatch(
  batchSize: number,
  listSize: number,
  historyLength: number,
  numItems: number,
  numUsers: number,
  seed = 1,
): RerankBatchArrays {
  const rand = mulberry32(seed);
  const user = new Int32Array(batchSize);
  const history = new Int32Array(batchSize * historyLength);
  const items = new Int32Array(batchSize * listSize);
  const scores = new Float32Array(batchSize * listSize);
  for (let i = 0; i < batchSize; i++) {
    user[i] = Math.floor(rand() * numUsers);
    const pad = Math.floor(rand() * historyLength * 0.5);
    for (let j = 0; j < historyLength; j++) {
      history[i * historyLength + j] = j < pad ? numItems : Math.floor(rand() * numItems);
    }
    for (let j = 0; j < listSize; j++) {
      items[i * listSize + j] = Math.floor(rand() * numItems);
      scores[i * listSize + j] = 1 - j / listSize;
    }
  }
  return { user, history, items, scores };
}

/** Options of {@link measurePrmTraining}. */
export interface PrmTrainingPerfOptions {
  batchSize?: number;
  listSize?: number;
  historyLength?: number;
  /** Timed steps (after `warmup` untimed ones). Default 3. */
  steps?: number;
  warmup?: number;
  numItems?: number;
  numUsers?: number;
  /** PRM config overrides (numItems/numUsers come from the options above). */
  prm?: Partial<PrmConfig>;
  /** Reference matmul throughput; measured when not given. */
  matmulGflops?: number;
}

/** Result of {@link measurePrmTraining}. */
export interface PrmTrainingMeasurement {
  backend: string;
  batchSize: number;
  listSize: number;
  historyLength: number;
  msPerStep: number;
  sequencesPerSec: number;
  /** 3 x the analytical forward matMul FLOPs (forward + two backward products). */
  flopsPerStep: number;
  prmEffectiveGflops: number;
  matmulGflops: number;
  /** prmEffectiveGflops / matmulGflops. */
  rooflineRatio: number;
  params: number;
}

/**
 * Times PRM training steps (Adam, sigmoid BCE, dropout on) on a synthetic batch on the active
 * backend. No assertions; for `dnr-bench perf`. Needs tfjs's gradients (import `@tensorflow/tfjs`
 * or tfjs-node first); throws a helpful error before building anything otherwise.
 */
export function measurePrmTraining(options: PrmTrainingPerfOptions = {}): PrmTrainingMeasurement {
  assertGradientsRegistered('measurePrmTraining()');
  const {
    batchSize = 256,
    listSize = 50,
    historyLength = 50,
    steps = 3,
    warmup = 1,
    numItems = 3000,
    numUsers = 6000,
  } = options;
  const config: PrmConfig = {
    ...options.prm,
    numItems,
    numUsers,
    maxListSize: Math.max(listSize, options.prm?.maxListSize ?? 0),
    historyLength: Math.max(historyLength, options.prm?.historyLength ?? 0),
  };
  const model = new Prm(config);
  const arrays = syntheticBatch(batchSize, listSize, historyLength, numItems, numUsers, 7);
  const batch = toBatchTensors(arrays);
  const rand = mulberry32(3);
  const labels = tf.tensor2d(
    Float32Array.from({ length: batchSize * listSize }, () => (rand() < 0.1 ? 1 : 0)),
    [batchSize, listSize],
  );
  const optimizer = tf.train.adam(1e-3);
  const step = () => {
    const loss = optimizer.minimize(
      () =>
        tf.losses.sigmoidCrossEntropy(labels, model.score(batch, { training: true })) as tf.Scalar,
      true,
      model.trainableVariables(),
    ) as Tensor;
    loss.dataSync();
    loss.dispose();
  };
  for (let i = 0; i < warmup; i++) step();
  const t0 = now();
  for (let i = 0; i < steps; i++) step();
  const ms = (now() - t0) / steps;
  const flopsPerStep = 3 * prmForwardFlops(config, batchSize, listSize, historyLength);
  const matmulGflops = options.matmulGflops ?? measureMatmulGflops().gflops;
  const eff = flopsPerStep / ms / 1e6;
  const params = model.countParams();
  optimizer.dispose();
  model.dispose();
  disposeBatch(batch);
  labels.dispose();
  return {
    backend: tf.getBackend(),
    batchSize,
    listSize,
    historyLength,
    msPerStep: ms,
    sequencesPerSec: (batchSize * 1000) / ms,
    flopsPerStep,
    prmEffectiveGflops: eff,
    matmulGflops,
    rooflineRatio: eff / matmulGflops,
    params,
  };
}

/** Result of {@link measureInference}. */
export interface InferenceMeasurement {
  backend: string;
  listSize: number;
  /** Latency of one request (batch of 1), ms. */
  p50Ms: number;
  p99Ms: number;
  requests: number;
  /** Lists scored per second in batches of `batchSize`. */
  batchThroughput: number;
  batchSize: number;
}

function quantile(sorted: number[], q: number): number {
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1));
  return sorted[i] ?? NaN;
}

/**
 * Inference latency of PRM for one request of `listSize` candidates (p50 / p99 over `requests`
 * calls, including tensor creation and reading the scores back) and batch throughput.
 *
 * The timed requests follow `warmup` untimed ones (default 300): V8 compiles the hot functions of
 * the request path (tfjs's and this package's) in the background during the first few hundred
 * requests, and on a machine whose cores are busy each compile stalls a request by 3-15 ms. That is
 * a once-per-process start-up cost, not serving latency, and with 10 warm-up requests it decided
 * the p99 on the shared development VM.
 */
export function measureInference(
  options: {
    listSize?: number;
    historyLength?: number;
    requests?: number;
    /** Untimed requests before the timed ones. Default 300. */
    warmup?: number;
    batchSize?: number;
    batches?: number;
    numItems?: number;
    numUsers?: number;
    prm?: Partial<PrmConfig>;
  } = {},
): InferenceMeasurement {
  const {
    listSize = 50,
    historyLength = 50,
    requests = 200,
    warmup = 300,
    batchSize = 256,
    batches = 3,
    numItems = 3000,
    numUsers = 6000,
  } = options;
  const model = new Prm({
    ...options.prm,
    numItems,
    numUsers,
    maxListSize: Math.max(listSize, options.prm?.maxListSize ?? 0),
    historyLength: Math.max(historyLength, options.prm?.historyLength ?? 0),
  });
  const one = syntheticBatch(1, listSize, historyLength, numItems, numUsers, 5);
  const request = () => {
    const b = toBatchTensors(one);
    const out = model.score(b, { training: false });
    out.dataSync();
    out.dispose();
    disposeBatch(b);
  };
  for (let i = 0; i < warmup; i++) request();
  const times: number[] = [];
  for (let i = 0; i < requests; i++) {
    const t0 = now();
    request();
    times.push(now() - t0);
  }
  times.sort((a, b) => a - b);
  const big = toBatchTensors(
    syntheticBatch(batchSize, listSize, historyLength, numItems, numUsers, 6),
  );
  const runBig = () => {
    const out = model.score(big, { training: false });
    out.dataSync();
    out.dispose();
  };
  runBig();
  const t0 = now();
  for (let i = 0; i < batches; i++) runBig();
  const ms = (now() - t0) / batches;
  disposeBatch(big);
  model.dispose();
  return {
    backend: tf.getBackend(),
    listSize,
    p50Ms: quantile(times, 0.5),
    p99Ms: quantile(times, 0.99),
    requests,
    batchThroughput: (batchSize * 1000) / ms,
    batchSize,
  };
}

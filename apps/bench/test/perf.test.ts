import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runCli, tempFiles } from './helpers';

// 80 users x 24 distinct items out of 80 (each item seen by 24 users, so the 20-core keeps all;
// 56 unseen items per user leave room for 44 negatives per list).
const rows: string[] = [];
for (let u = 1; u <= 80; u++) {
  for (let j = 0; j < 24; j++) rows.push(`${u}\t${((u * 11 + j * 7) % 80) + 1}\t4\t${1000 + j}`);
}
const dir = tempFiles({ 'u.data': rows.join('\n') + '\n' });

describe('dnr-bench perf', () => {
  it('prints one JSON object with the data and metrics figures as the last line', async () => {
    const { stdout, stderr, error } = await runCli([
      'perf',
      '--sections',
      'data',
      '--format',
      'ml100k',
      '--input',
      join(dir, 'u.data'),
      '--backend',
      'cpu',
      '--json',
    ]);
    expect(error).toBeUndefined();
    expect(stderr).toMatch(/^backend: cpu/m);
    const last = stdout.trim().split('\n').at(-1)!;
    const result = JSON.parse(last);
    expect(result.backend).toBe('cpu');
    // 80 users x 4 windows of 6.
    expect(result.dataLists).toBe(320);
    for (const key of ['dataFileToDatasetMs', 'dataScoringMs', 'dataMetricsMs', 'peakRssMiB']) {
      expect(result[key]).toBeGreaterThan(0);
    }
    expect(result.metricsMsP50).toBeUndefined();
  });

  it('skips the data section without an input and rejects unknown sections', async () => {
    const { stderr } = await runCli(['perf', '--sections', 'data', '--backend', 'cpu']);
    expect(stderr).toMatch(/data: skipped/);
    const bad = await runCli(['perf', '--sections', 'gpu']);
    expect((bad.error as Error).message).toMatch(/'sections.0'/);
  });
});

describe('dnr-bench perf model section', () => {
  it('reports the roofline, training and inference keys of the perf contract', async () => {
    const { stdout, error } = await runCli([
      'perf',
      '--sections',
      'model',
      '--steps',
      '1',
      '--backend',
      'wasm',
      '--json',
    ]);
    expect(error).toBeUndefined();
    const result = JSON.parse(stdout.trim().split('\n').at(-1)!);
    expect(result.backend).toBe('wasm');
    for (const key of [
      'matmulGflops',
      'prmTrainSeqPerSec',
      'prmEffectiveGflops',
      'rooflineRatio',
      'inferenceMsP50',
      'inferenceMsP99',
      'inferenceBatchSeqPerSec',
    ]) {
      expect(result[key], key).toBeGreaterThan(0);
    }
    expect(result.rooflineRatio).toBeCloseTo(result.prmEffectiveGflops / result.matmulGflops, 10);
  });
});

describe('dnr-bench perf dnr section', () => {
  it('reports dnrOverPrmEpochTime = dnrEpochMs / prmEpochMs with the step breakdown', async () => {
    const { stdout, stderr, error } = await runCli([
      'perf',
      '--sections',
      'dnr',
      '--dnr-lists',
      '6',
      '--dnr-batch-size',
      '4',
      '--dnr-repeats',
      '1',
      '--backend',
      'wasm',
      '--json',
    ]);
    expect(error).toBeUndefined();
    const result = JSON.parse(stdout.trim().split('\n').at(-1)!);
    for (const key of ['dnrOverPrmEpochTime', 'dnrOverPrmEpochCpu', 'dnrEpochMs', 'prmEpochMs']) {
      expect(result[key], key).toBeGreaterThan(0);
    }
    expect(result.dnrOverPrmEpochTime).toBeCloseTo(result.dnrEpochMs / result.prmEpochMs, 10);
    // 6 lists in batches of 4: two steps per epoch, a generator step after each (τ = 0, k = 1)
    expect(result).toMatchObject({ dnrLists: 6, dnrBatchSize: 4, dnrRepeats: 1 });
    expect(result.dnrAugmentation).toBe('double');
    expect(result.dnrGeneratorEvery).toBe(1);
    expect(result.dnrGeneratorStepsPerEpoch).toBe(2);
    const b = result.dnrBreakdown as Record<string, number>;
    for (const phase of [
      'userState',
      'realPass',
      'syntheticPass',
      'rerankerBackward',
      'generatorForward',
      'generatorBackward',
    ]) {
      expect(b[phase], phase).toBeGreaterThan(0);
    }
    // the phases are parts of the DNR epoch (rounded to 0.1 ms each)
    const sum = Object.values(b).reduce((s, v) => s + v, 0);
    expect(sum).toBeLessThanOrEqual(result.dnrEpochMs + 1);
    expect(stderr).toMatch(/dnr: where a DNR-B epoch goes/);
    expect(result.matmulGflops).toBeUndefined();
  });

  it('--generator-every 2 halves the generator steps; --dnr-augmentation replace has one pass', async () => {
    const { stdout, error } = await runCli([
      'perf',
      '--sections',
      'dnr',
      '--dnr-lists',
      '8',
      '--dnr-batch-size',
      '2',
      '--dnr-repeats',
      '1',
      '--generator-every',
      '2',
      '--dnr-augmentation',
      'replace',
      '--backend',
      'wasm',
    ]);
    expect(error).toBeUndefined();
    // human output: flattened keys, 4 steps per epoch -> generator steps at 0 and 2
    expect(stdout).toMatch(/^dnrGeneratorStepsPerEpoch: 2$/m);
    expect(stdout).toMatch(/^dnrBreakdown\.generatorBackward: [\d.]+$/m);
    expect(stdout).toMatch(/^dnrOverPrmEpochTime: [\d.]+$/m);
    // one mixed pass per reranker step: nothing billed to a separate synthetic pass
    expect(stdout).toMatch(/^dnrAugmentation: replace$/m);
    expect(stdout).toMatch(/^dnrBreakdown\.syntheticPass: 0$/m);
    expect(stdout).not.toMatch(/^dnrBreakdown\.realPass: 0$/m);
  });
});

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

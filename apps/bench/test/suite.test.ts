import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { aggregateRuns, formatTable, type RunRecord } from '../src/aggregate';
import { runCli } from './helpers';

const metrics = (x: number) => ({ hr: x, ndcg: x, map: x, f1: x, auc: x });

describe('aggregateRuns', () => {
  it('gives mean and sample std per method, in first-seen order', () => {
    const runs: RunRecord[] = [
      { method: 'b', backbone: 'prm', seed: 1, metrics: metrics(0.2) },
      { method: 'a', backbone: '-', seed: 1, metrics: metrics(0.5) },
      { method: 'b', backbone: 'prm', seed: 2, metrics: metrics(0.4) },
      { method: 'b', backbone: 'prm', seed: 3, metrics: metrics(0.6) },
    ];
    const rows = aggregateRuns(runs);
    expect(rows.map((r) => r.method)).toEqual(['b', 'a']);
    expect(rows[0]!.seeds).toBe(3);
    expect(rows[0]!.metrics.ndcg.mean).toBeCloseTo(0.4, 12);
    // sample std of 0.2, 0.4, 0.6 = 0.2
    expect(rows[0]!.metrics.ndcg.std).toBeCloseTo(0.2, 12);
    // one seed: std reported as 0, not NaN
    expect(rows[1]!.metrics.auc).toEqual({ mean: 0.5, std: 0 });
    const table = formatTable(rows, 'title');
    expect(table).toContain('40.00 ± 20.00');
    expect(table).toContain('50.00');
  });
});

describe('dnr-bench suite main --profile quick', () => {
  it('prints the main table with the reference rows and writes the report JSON', async () => {
    const out = mkdtempSync(join(tmpdir(), 'dnr-suite-'));
    const { stdout, stderr, error } = await runCli([
      'suite',
      'main',
      '--profile',
      'quick',
      '--seeds',
      '2',
      '--backend',
      'wasm',
      '--out',
      out,
    ]);
    expect(error).toBeUndefined();
    expect(stderr).toMatch(/^backend: wasm/m);
    expect(stdout).toMatch(/main · lab · profile quick · 2 seed\(s\)/);
    const report = JSON.parse(readFileSync(join(out, 'suites/quick/lab/main.json'), 'utf8'));
    expect(report).toMatchObject({ dataset: 'lab', suite: 'main', profile: 'quick', seeds: 2 });
    const byMethod = Object.fromEntries(
      report.rows.map((r: { method: string; metrics: Record<string, { mean: number }> }) => [
        r.method,
        r.metrics,
      ]),
    );
    // The lab is built so that the truth beats the retriever, which beats chance.
    expect(byMethod.oracle.ndcg.mean).toBeGreaterThan(byMethod.retriever.ndcg.mean);
    expect(byMethod.retriever.ndcg.mean).toBeGreaterThan(byMethod.random.ndcg.mean);
    for (const row of report.rows) {
      for (const m of ['hr', 'ndcg', 'map', 'f1', 'auc']) {
        expect(row.metrics[m].mean).toBeGreaterThanOrEqual(0);
        expect(row.metrics[m].mean).toBeLessThanOrEqual(1);
      }
    }
  });

  it('rejects an unknown suite with the list of suites', async () => {
    const { error } = await runCli(['suite', 'nope']);
    expect((error as Error).message).toMatch(/'suite'.*main/s);
  });
});

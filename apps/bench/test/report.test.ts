import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runCli, tempFiles } from './helpers';

const ms = (mean: number, std = 0) => ({ mean, std });
const metrics = (x: number) => ({
  hr: ms(x),
  ndcg: ms(x, 0.01),
  map: ms(x),
  f1: ms(x),
  auc: ms(x),
});
const suiteJson = {
  dataset: 'ml-100k',
  suite: 'scores',
  paper: 'Table 2',
  profile: 'standard',
  seeds: 3,
  command: 'dnr-bench suite scores --profile standard',
  backend: 'wasm',
  rows: [
    {
      label: 'retriever order',
      method: 'retriever',
      backbone: '-',
      seeds: 3,
      metrics: metrics(0.4),
    },
    {
      label: 'PRM + c score',
      method: 'concat score',
      backbone: 'prm',
      seeds: 3,
      metrics: metrics(0.5),
    },
  ],
  failed: [],
};

describe('dnr-bench report', () => {
  it('writes the Markdown table with the paper figures beside ours, and the JSON', async () => {
    const dir = tempFiles({});
    const suiteDir = join(dir, 'results/suites/standard/ml-100k');
    mkdirSync(suiteDir, { recursive: true });
    writeFileSync(join(suiteDir, 'scores.json'), JSON.stringify(suiteJson));
    const { error, stderr } = await runCli([
      'report',
      '--results',
      join(dir, 'results'),
      '--docs',
      join(dir, 'docs'),
    ]);
    expect(error).toBeUndefined();
    expect(stderr).toMatch(/wrote .*ml-100k\/scores\.md/);
    const md = readFileSync(join(dir, 'docs/ml-100k/scores.md'), 'utf8');
    expect(md).toMatch(
      /^# Ways of feeding retriever scores to PRM and Pier \(Table 2\) · ml-100k · profile standard/,
    );
    expect(md).toContain('Produced by `dnr-bench suite scores --profile standard`');
    // ours (mean ± std over 3 seeds), then the paper's ML-1M row for PRM + c score
    expect(md).toContain(
      '| PRM + c score | 50.00 ± 0.00 | 50.00 ± 1.00 | 50.00 ± 0.00 | 50.00 ± 0.00 | 50.00 ± 0.00 | 62.50 | 76.73 | 67.36 | 68.29 | 91.35 |',
    );
    expect(md).toMatch(/^\| retriever order \| 40\.00 ± 0\.00 .*(\| {2}){5}\|$/m);
    const json = JSON.parse(readFileSync(join(dir, 'docs/ml-100k/scores.json'), 'utf8'));
    expect(Object.keys(json)).toEqual(['dataset', 'suite', 'profile', 'seeds', 'command', 'rows']);
  });

  it('rejects a malformed suite file with its path', async () => {
    const dir = tempFiles({});
    const suiteDir = join(dir, 'results/suites/quick/lab');
    mkdirSync(suiteDir, { recursive: true });
    writeFileSync(join(suiteDir, 'main.json'), JSON.stringify({ dataset: 'lab' }));
    const { error } = await runCli([
      'report',
      '--results',
      join(dir, 'results'),
      '--docs',
      join(dir, 'docs'),
    ]);
    expect((error as Error).message).toMatch(/main\.json is not a suite report/);
  });
});

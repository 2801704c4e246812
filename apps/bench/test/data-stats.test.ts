import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runCli, tempFiles } from './helpers';

// Two users with 12 interactions each over 3 items... too few for 20-core, so the tests set k = 1.
// User a: 12 rows, window 2 (rows 7-12) has only ratings < 3 -> dropped. User b: 6 rows, 1 window.
const rows = [
  ...Array.from({ length: 6 }, (_, i) => `a::${i % 3}::4::${100 + i}`),
  ...Array.from({ length: 6 }, (_, i) => `a::${i % 3}::1::${200 + i}`),
  ...Array.from({ length: 7 }, (_, i) => `b::${i % 3}::${i === 0 ? 2 : 5}::${300 + i}`),
];
const dir = tempFiles({
  'ratings.dat': rows.join('\n') + '\n',
  'run.json': JSON.stringify({ minInteractions: 1 }),
  'bad-key.json': JSON.stringify({ minInteractions: 1, epochs: 3 }),
  'bad-type.json': JSON.stringify({ minInteractions: 'twenty' }),
  'bad-range.json': JSON.stringify({ minInteractions: 0 }),
  'bad-json.json': '{\n  "minInteractions": 1,\n}',
});
const input = join(dir, 'ratings.dat');

describe('dnr-bench data stats', () => {
  it('prints the contract JSON after the protocol', async () => {
    const { stdout, error } = await runCli([
      'data',
      'stats',
      '--format',
      'movielens',
      '--input',
      input,
      '--min-interactions',
      '1',
      '--json',
    ]);
    expect(error).toBeUndefined();
    // a: 2 windows, the second has no positive -> 1 request with 6 positives;
    // b: 7 rows -> 1 window (partial tail dropped), first row rating 2 -> 5 positives.
    expect(JSON.parse(stdout)).toEqual({
      users: 2,
      items: 3,
      interactions: 19,
      requests: 2,
      positives: 11,
    });
  });

  it('takes settings from a run file, flags overriding it', async () => {
    const { stdout } = await runCli([
      'data',
      'stats',
      '--format',
      'movielens',
      '--input',
      input,
      '--config',
      join(dir, 'run.json'),
      '--json',
    ]);
    expect(JSON.parse(stdout).requests).toBe(2);
    const { stdout: s2 } = await runCli([
      'data',
      'stats',
      '--format',
      'movielens',
      '--input',
      input,
      '--config',
      join(dir, 'run.json'),
      '--positive-threshold',
      '5',
      '--json',
    ]);
    // threshold 5: a's first window has ratings 4 -> no positive -> dropped; b keeps its window.
    expect(JSON.parse(s2)).toMatchObject({ requests: 1, positives: 5 });
  });

  it.each([
    ['bad-key.json', /run file .*bad-key\.json: unknown key 'epochs'/],
    [
      'bad-type.json',
      /run file .*bad-type\.json: 'minInteractions' must be number, got the string "twenty"/,
    ],
    ['bad-range.json', /run file .*bad-range\.json: 'minInteractions' is out of range/],
    ['bad-json.json', /run file .*bad-json\.json is not valid JSON.*line 3/s],
  ])('reports a bad run file (%s) clearly', async (file, pattern) => {
    const { error } = await runCli([
      'data',
      'stats',
      '--format',
      'movielens',
      '--input',
      input,
      '--config',
      join(dir, file),
      '--json',
    ]);
    expect((error as Error).message).toMatch(pattern);
  });

  it('rejects malformed flags and unknown formats', async () => {
    const bad = await runCli([
      'data',
      'stats',
      '--format',
      'movielens',
      '--input',
      input,
      '--min-interactions',
      '2.5',
    ]);
    expect(bad.stderr).toMatch(/expected an integer, got '2\.5'/);
    const fmt = await runCli(['data', 'stats', '--format', 'parquet', '--input', input]);
    expect(fmt.stderr).toMatch(/Allowed choices are movielens, ml100k, sequences, csv, lists/);
    const missing = await runCli(['data', 'stats', '--format', 'movielens']);
    expect((missing.error as Error).message).toMatch(/'input' must be string/);
  });

  it('names the file and line of malformed input', async () => {
    const broken = tempFiles({ 'r.dat': 'a::1::4::100\na,2,4,101\n' });
    const { error } = await runCli([
      'data',
      'stats',
      '--format',
      'movielens',
      '--input',
      join(broken, 'r.dat'),
      '--min-interactions',
      '1',
    ]);
    // file:line: what is wrong, the offending text, and the expected format
    expect((error as Error).message).toMatch(
      /r\.dat:2: .*"a,2,4,101".*UserID::MovieID::Rating::Timestamp/,
    );
  });

  it('prints help for every command', async () => {
    for (const args of [['--help'], ['data', '--help'], ['data', 'stats', '--help']]) {
      const { stdout } = await runCli(args);
      expect(stdout).toMatch(/Usage: dnr-bench/);
    }
  });
});

const datasets = process.env.DNR_DATASETS ?? resolve(__dirname, '../../../../shared/datasets');
describe.skipIf(!existsSync(datasets))('dnr-bench data stats on the shared data', () => {
  it('ML-1M sequences give the counts of design.md', async () => {
    const { stdout } = await runCli([
      'data',
      'stats',
      '--format',
      'sequences',
      '--input',
      join(datasets, 'ml-1m/sequences.chronological.tsv.gz'),
      '--json',
    ]);
    expect(JSON.parse(stdout)).toEqual({
      users: 6022,
      items: 3043,
      interactions: 995154,
      requests: 163348,
      positives: 980088,
    });
  });
});

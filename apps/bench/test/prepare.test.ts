import { readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { prepareDataset, prepareSchema } from '../src/prepare';
import { runCli, tempFiles } from './helpers';

// 12 users, 30 items; user u interacts with 12 items (2 windows of 6), all rated 4 (positive).
const USERS = 12;
const PER_USER = 12;
const interactions: Array<[number, number, number]> = []; // user, item, time
for (let u = 0; u < USERS; u++) {
  for (let j = 0; j < PER_USER; j++)
    interactions.push([u + 1, ((u * 7 + j * 5) % 30) + 1, 1000 + j]);
}
const byUser = (u: number): number[] =>
  interactions.filter(([x]) => x === u + 1).map(([, item]) => item);

const files: Record<string, string> = {
  'ratings.dat': interactions.map(([u, i, t]) => `${u}::${i}::4::${t}`).join('\n') + '\n',
  'u.data': interactions.map(([u, i, t]) => `${u}\t${i}\t4\t${t}`).join('\n') + '\n',
  'seq.tsv':
    'user\titems\n' +
    Array.from({ length: USERS }, (_, u) => `${u + 1}\t${byUser(u).join(' ')}`).join('\n') +
    '\n',
  'r.csv':
    'user,item,rating,timestamp\n' +
    interactions.map(([u, i, t]) => `${u},${i},4,${t}`).join('\n') +
    '\n',
  'train.txt':
    Array.from({ length: USERS }, (_, u) => `${u + 1} ${byUser(u).join(' ')}`).join('\n') + '\n',
};
files['movies.dat'] =
  Array.from(
    { length: 29 },
    (_, i) => `${i + 1}::Movie ${i + 1} (1995)::${i % 2 ? 'Comedy' : 'Drama|Action'}`,
  ).join('\n') + '\n';
files['users.dat'] =
  Array.from({ length: USERS }, (_, u) => `${u + 1}::${u % 2 ? 'F' : 'M'}::25::4::12345`).join(
    '\n',
  ) + '\n';
const dir = tempFiles(files);
const FORMATS = [
  ['movielens', 'ratings.dat'],
  ['ml100k', 'u.data'],
  ['sequences', 'seq.tsv'],
  ['csv', 'r.csv'],
  ['lists', 'train.txt'],
] as const;

const small = (
  format: string,
  file: string,
  cacheDir: string,
  extra: Record<string, unknown> = {},
) =>
  prepareSchema.parse({
    format,
    input: join(dir, file),
    minInteractions: 1,
    listSize: 10,
    dim: 4,
    epochs: 2,
    cacheDir,
    ...extra,
  });

describe('data prepare', () => {
  it.each(FORMATS)('builds a scored dataset from the %s format', async (format, file) => {
    const cacheDir = join(dir, `cache-${format}`);
    const lines: string[] = [];
    const first = await prepareDataset(small(format, file, cacheDir), (l) => lines.push(l));
    expect(first.cached).toBe(false);
    expect(first.summary.stats).toMatchObject({
      users: USERS,
      interactions: USERS * PER_USER,
      requests: 24,
    });
    // 2 windows per user: the ratio split gives users with < 3 windows all-train.
    expect(first.summary.lists).toEqual({ train: 24, validation: 0, test: 0 });
    expect(first.ds.listSize).toBe(10);
    expect(first.ds.labels.reduce((a, b) => a + b, 0)).toBe(24 * 6);
    expect(lines.some((l) => l.startsWith('loading '))).toBe(true);
    expect(lines.some((l) => /fold0 epoch 1: loss/.test(l))).toBe(true);
    // Retriever models are saved beside the dataset.
    expect(readdirSync(join(cacheDir, 'retrievers'))).toHaveLength(1);

    const second = await prepareDataset(small(format, file, cacheDir), () => {});
    expect(second.cached).toBe(true);
    expect(Array.from(second.ds.scores)).toEqual(Array.from(first.ds.scores));
  });

  it('rebuilds when the settings change or the cached file is corrupt', async () => {
    const cacheDir = join(dir, 'cache-rebuild');
    const a = await prepareDataset(small('movielens', 'ratings.dat', cacheDir), () => {});
    const b = await prepareDataset(
      small('movielens', 'ratings.dat', cacheDir, { seed: 2 }),
      () => {},
    );
    expect(b.cached).toBe(false);
    expect(b.path).not.toBe(a.path);
    writeFileSync(a.path, 'not a dataset');
    const lines: string[] = [];
    const c = await prepareDataset(small('movielens', 'ratings.dat', cacheDir), (l) =>
      lines.push(l),
    );
    expect(c.cached).toBe(false);
    expect(lines.join('\n')).toMatch(/cache: /);
    expect(Array.from(c.ds.scores)).toEqual(Array.from(a.ds.scores));
  });

  it('attaches MovieLens item and user side features', async () => {
    const lines: string[] = [];
    const { ds } = await prepareDataset(
      small('movielens', 'ratings.dat', join(dir, 'cache-meta'), {
        itemMeta: join(dir, 'movies.dat'),
        userMeta: join(dir, 'users.dat'),
      }),
      (l) => lines.push(l),
    );
    // 18 ML-1M genres; one item (30) has no metadata and gets a zero row.
    expect(ds.itemFeatureDim).toBe(18);
    expect(ds.itemFeatures).toHaveLength((ds.numItems + 1) * 18);
    expect(lines.join('\n')).toMatch(/item features: 18 columns .* \(1 items without metadata\)/);
    // one-hot gender (2) + age bucket (7) + occupation (21)
    expect(ds.userFeatureDim).toBe(30);
    expect(ds.userFeatures).toHaveLength(ds.numUsers * 30);
    let ones = 0;
    for (let u = 0; u < ds.numUsers; u++)
      ones += ds.userFeatures![u * 30]! + ds.userFeatures![u * 30 + 1]!;
    expect(ones).toBe(USERS); // exactly one gender column set per user
  });

  it('is deterministic for a seed', async () => {
    const x = await prepareDataset(small('csv', 'r.csv', join(dir, 'det-1')), () => {});
    const y = await prepareDataset(small('csv', 'r.csv', join(dir, 'det-2')), () => {});
    expect(Array.from(y.ds.items)).toEqual(Array.from(x.ds.items));
    expect(Array.from(y.ds.scores)).toEqual(Array.from(x.ds.scores));
  });

  it('runs from the CLI and prints the retriever AUC', async () => {
    const { stdout, error } = await runCli([
      'data',
      'prepare',
      '--format',
      'lists',
      '--input',
      join(dir, 'train.txt'),
      '--min-interactions',
      '1',
      '--list-size',
      '10',
      '--dim',
      '4',
      '--epochs',
      '1',
      '--cache-dir',
      join(dir, 'cli-cache'),
    ]);
    expect(error).toBeUndefined();
    expect(stdout).toMatch(/retriever \(crossfit\) AUC, held-out positives vs sampled negatives/);
    expect(stdout).toMatch(/requests 24/);
  });

  it('names a missing input file', async () => {
    await expect(
      prepareDataset(small('movielens', 'missing.dat', join(dir, 'x')), () => {}),
    ).rejects.toThrow(/missing\.dat: no such file/);
  });
});

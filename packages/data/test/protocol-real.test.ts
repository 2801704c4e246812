/**
 * Integration tests on the shared real datasets (never copied into the repository). They are
 * skipped, with a message, when the data folder is absent. Location: `$DNR_DATASETS`, else
 * `<repo root>/../shared/datasets`.
 */
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import {
  itemFeatureMatrix,
  loadInteractions,
  loadMovieLensItems,
  loadMovieLensUsers,
  prepareRequests,
  userFeatureMatrix,
} from '../src/index';

const repoRoot = resolve(fileURLToPath(new URL('.', import.meta.url)), '../../..');
const datasets = process.env['DNR_DATASETS'] ?? resolve(repoRoot, '../shared/datasets');
const present = existsSync(join(datasets, 'ml-1m'));
if (!present) {
  console.warn(
    `[protocol-real] skipped: no datasets at ${datasets} (set DNR_DATASETS to override)`,
  );
}
const file = (...parts: string[]): string => join(datasets, ...parts);

let ml1m: ReturnType<typeof prepareRequests> | undefined;
/** The ML-1M sequences prepared once and shared by the tests that need them. */
const ml1mSequences = (): ReturnType<typeof prepareRequests> =>
  (ml1m ??= prepareRequests(file('ml-1m', 'sequences.chronological.tsv.gz'), {
    format: 'sequences',
  }));

describe.skipIf(!present)('default protocol on the shared datasets', () => {
  it('ML-1M sequences: 6,022 users, 3,043 items, 995,154 interactions, 163,348 requests', async () => {
    const t0 = performance.now();
    const p = await ml1mSequences();
    const ms = performance.now() - t0;
    expect(p.raw).toEqual({ rows: 1_000_209, users: 6_040, items: 3_706, duplicates: 0 });
    expect(p.stats).toEqual({
      users: 6_022,
      items: 3_043,
      interactions: 995_154,
      requests: 163_348,
      positives: 163_348 * 6,
    });
    expect(p.requests.droppedWindows).toBe(0);
    expect(p.requests.splitSizes.reduce((a, b) => a + b, 0)).toBe(163_348);
    console.info(
      `[protocol-real] ML-1M sequences: load ${p.timings.loadMs.toFixed(0)} ms, k-core ${p.timings.kCoreMs.toFixed(0)} ms, ` +
        `requests ${p.timings.requestsMs.toFixed(0)} ms, total ${ms.toFixed(0)} ms`,
    );
  });

  it('ML-100K u.data, rating >= 3: 917 users, 937 items, 94,443 interactions, 15,226 requests', async () => {
    const p = await prepareRequests(file('ml-100k', 'u.data'), { format: 'ml100k' });
    expect(p.raw).toEqual({ rows: 100_000, users: 943, items: 1_682, duplicates: 0 });
    // positives cross-checked with an independent Python implementation of the protocol
    expect(p.stats).toEqual({
      users: 917,
      items: 937,
      interactions: 94_443,
      requests: 15_226,
      positives: 77_188,
    });
  });

  it('ML-1M ratings users 1-2999 (movielens, gz): 2,983 / 2,648 / 479,510 / 77,876', async () => {
    const p = await prepareRequests(file('ml-1m', 'ratings.users-1-2999.dat.gz'), {
      format: 'movielens',
    });
    expect(p.raw.rows).toBe(487_650);
    expect(p.stats).toEqual({
      users: 2_983,
      items: 2_648,
      interactions: 479_510,
      requests: 77_876,
      positives: 394_422,
    });
  });

  it('Amazon-book KGAT train.txt (lists): 70,679 users, 652,514 interactions', async () => {
    const x = await loadInteractions(file('amazon-book-kgat', 'train.txt'), { format: 'lists' });
    expect(x.userIds.length).toBe(70_679);
    expect(x.user.length).toBe(652_514);
    expect(x.duplicates).toBe(0);
    expect(x.implicit).toBe(true);
  });

  it('MovieLens metadata aligns with the filtered interactions', async () => {
    const p = await ml1mSequences();
    const movies = await loadMovieLensItems(file('ml-1m', 'movies.dat'));
    const users = await loadMovieLensUsers(file('ml-1m', 'users.dat'));
    expect(movies.ids.length).toBe(3_883);
    expect(movies.genreNames.length).toBe(18);
    expect(movies.titles[movies.ids.indexOf('73')]).toBe('Misérables, Les (1995)');
    expect(users.ids.length).toBe(6_040);
    const items = itemFeatureMatrix(movies, p.interactions.itemIds);
    expect(items.missing).toBe(0);
    expect(items.rows).toBe(3_044);
    const us = userFeatureMatrix(users, p.interactions.userIds);
    expect(us.missing).toBe(0);
    expect(us.dim).toBe(30);
    const m100 = await loadMovieLensItems(file('ml-100k', 'u.item'));
    const u100 = await loadMovieLensUsers(file('ml-100k', 'u.user'));
    expect(m100.ids.length).toBe(1_682);
    expect(m100.genreNames.length).toBe(19);
    expect(u100.ids.length).toBe(943);
    expect(u100.occupationNames.length).toBe(21);
  });
});

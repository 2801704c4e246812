import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadInteractions } from '@dnr/data';
import { strToU8, zipSync, type Zippable } from 'fflate';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  ARCHIVES,
  DownloadError,
  MARKER_FILE,
  downloadDataset,
  formatProgress,
  safeEntryPath,
  type FetchLike,
} from '../src/download';
import { runCli } from './helpers';

// A few lines in the real formats: ML-100K `u.data` (tab separated) and ML-1M `ratings.dat` (`::`).
const U_DATA =
  '196\t242\t3\t881250949\n186\t302\t3\t891717742\n22\t377\t1\t878887116\n196\t51\t2\t880606923\n';
const RATINGS_DAT = '1::1193::5::978300760\n1::661::3::978302109\n2::1357::5::978298709\n';

const md5 = (bytes: Uint8Array): string => createHash('md5').update(bytes).digest('hex');
const zip = (files: Record<string, string>): Uint8Array =>
  zipSync(Object.fromEntries(Object.entries(files).map(([k, v]) => [k, strToU8(v)])) as Zippable);

const ML100K_ZIP = zip({
  'ml-100k/u.data': U_DATA,
  'ml-100k/u.info': '943 users\n1682 items\n100000 ratings\n',
  'ml-100k/README': 'fixture\n',
});
const ML1M_ZIP = zip({
  'ml-1m/ratings.dat': RATINGS_DAT,
  'ml-1m/movies.dat': "1193::One Flew Over the Cuckoo's Nest (1975)::Drama\n",
});

const fresh = (): string => mkdtempSync(join(tmpdir(), 'dnr-download-test-'));

/** A fetch serving `bytes` for any URL, counting its calls. */
function serving(bytes: Uint8Array): FetchLike & { calls: number } {
  const f = Object.assign(
    async (): Promise<Response> => {
      f.calls++;
      return new Response(bytes, { headers: { 'content-length': String(bytes.byteLength) } });
    },
    { calls: 0 },
  );
  return f;
}

describe('safeEntryPath', () => {
  it('keeps ordinary names and drops directory entries', () => {
    expect(safeEntryPath('ml-100k/u.data')).toBe('ml-100k/u.data');
    expect(safeEntryPath('ml-100k/./u.data')).toBe('ml-100k/u.data');
    expect(safeEntryPath('ml-100k/')).toBeNull();
  });
  it.each(['../evil', 'ml-100k/../../evil', '/etc/passwd', 'C:/x', '..\\evil', 'a\0b'])(
    'rejects %j',
    (name) => {
      expect(() => safeEntryPath(name)).toThrow(DownloadError);
    },
  );
});

describe('downloadDataset', () => {
  it('downloads, verifies and unpacks ml-100k; the unpacked u.data parses as ml100k', async () => {
    const dir = fresh();
    const fetch = serving(ML100K_ZIP);
    const progress: Array<[number, number | undefined]> = [];
    const result = await downloadDataset('ml-100k', {
      dir,
      fetch,
      source: { md5: md5(ML100K_ZIP) },
      progressIntervalMs: 0,
      onProgress: (received, total) => progress.push([received, total]),
    });
    expect(result).toMatchObject({
      dataset: 'ml-100k',
      dest: join(dir, 'ml-100k'),
      files: 3,
      source: 'download',
      format: 'ml100k',
      next: `dnr-bench data prepare --format ml100k --input ${join(dir, 'ml-100k', 'u.data')}`,
    });
    expect(progress.at(-1)).toEqual([ML100K_ZIP.byteLength, ML100K_ZIP.byteLength]);
    // Only the unpacked folder is left (no temp archive, no temp dir).
    expect(readdirSync(dir)).toEqual(['ml-100k']);
    expect(readdirSync(join(dir, 'ml-100k')).sort()).toEqual(
      [MARKER_FILE, 'README', 'u.data', 'u.info'].sort(),
    );
    expect(readFileSync(join(dir, 'ml-100k', 'u.data'), 'utf8')).toBe(U_DATA);
    const loaded = await loadInteractions(result.ratingsPath, { format: 'ml100k' });
    expect(loaded.rowsRead).toBe(4);
    expect(loaded.userIds).toEqual(['196', '186', '22']);
    expect(Array.from(loaded.item).map((i) => loaded.itemIds[i])).toEqual([
      '242',
      '302',
      '377',
      '51',
    ]);
    expect(Array.from(loaded.rating)).toEqual([3, 3, 1, 2]);
    const marker = JSON.parse(readFileSync(join(dir, 'ml-100k', MARKER_FILE), 'utf8'));
    expect(marker).toMatchObject({ dataset: 'ml-100k', md5: md5(ML100K_ZIP) });
  });

  it('skips a verified copy on the second call, and redoes it with force', async () => {
    const dir = fresh();
    const fetch = serving(ML1M_ZIP);
    const options = { dir, fetch, source: { md5: md5(ML1M_ZIP) } };
    const first = await downloadDataset('ml-1m', options);
    expect(first.source).toBe('download');
    const second = await downloadDataset('ml-1m', options);
    expect(second).toMatchObject({ source: 'existing', files: 2 });
    expect(fetch.calls).toBe(1);
    const third = await downloadDataset('ml-1m', { ...options, force: true });
    expect(third.source).toBe('download');
    expect(fetch.calls).toBe(2);
    expect(readdirSync(dir)).toEqual(['ml-1m']);
  });

  it('does not count a folder whose files changed as verified', async () => {
    const dir = fresh();
    const options = { dir, fetch: serving(ML1M_ZIP), source: { md5: md5(ML1M_ZIP) } };
    await downloadDataset('ml-1m', options);
    writeFileSync(join(dir, 'ml-1m', 'ratings.dat'), '1::1::5::1\n');
    await expect(downloadDataset('ml-1m', options)).rejects.toThrow(
      /exists but holds no verified copy of ml-1m \(ratings.dat changed since it was unpacked\); pass --force/,
    );
  });

  it('unpacks --archive without the network; the ratings.dat parses as movielens', async () => {
    const dir = fresh();
    const archive = join(fresh(), 'ml-1m.zip');
    writeFileSync(archive, ML1M_ZIP);
    const fetch = serving(new Uint8Array());
    const result = await downloadDataset('ml-1m', {
      dir,
      archive,
      fetch,
      source: { md5: md5(ML1M_ZIP) },
    });
    expect(fetch.calls).toBe(0);
    expect(result.source).toBe('archive');
    expect(result.next).toBe(
      `dnr-bench data prepare --format movielens --input ${join(dir, 'ml-1m', 'ratings.dat')}`,
    );
    const loaded = await loadInteractions(result.ratingsPath, { format: 'movielens' });
    expect(loaded.rowsRead).toBe(3);
    expect(loaded.userIds).toEqual(['1', '2']);
    expect(Array.from(loaded.rating)).toEqual([5, 3, 5]);
    expect(Array.from(loaded.timestamp)).toEqual([978300760, 978302109, 978298709]);
    expect(existsSync(archive)).toBe(true); // the user's archive is never deleted
  });

  it('rejects a checksum mismatch, naming URL and digests, and leaves no files', async () => {
    const dir = fresh();
    const expected = 'c4d9eecfca2ab87c1945afe126590906';
    const error = await downloadDataset('ml-1m', { dir, fetch: serving(ML1M_ZIP) }).catch(
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(DownloadError);
    expect((error as DownloadError).reason).toBe('checksum');
    expect((error as Error).message).toContain(ARCHIVES['ml-1m'].url);
    expect((error as Error).message).toContain(`expected md5 ${expected}`);
    expect((error as Error).message).toContain(`got ${md5(ML1M_ZIP)}`);
    expect(readdirSync(dir)).toEqual([]);
  });

  it.each([
    ['zip-slip', '../evil.txt'],
    ['absolute', '/tmp/dnr-evil.txt'],
    ['nested zip-slip', 'ml-100k/../../evil.txt'],
  ])('rejects a %s entry and writes nothing', async (_label, name) => {
    const root = fresh();
    const dir = join(root, 'data');
    const bad = zip({ 'ml-100k/u.data': U_DATA, [name]: 'owned\n' });
    await expect(
      downloadDataset('ml-100k', { dir, fetch: serving(bad), source: { md5: md5(bad) } }),
    ).rejects.toThrow(/unsafe entry/);
    expect(readdirSync(dir)).toEqual([]);
    expect(readdirSync(root)).toEqual(['data']);
  });

  it('rejects an archive without the ratings file', async () => {
    const dir = fresh();
    const other = zip({ 'ml-100k/README': 'x\n' });
    await expect(
      downloadDataset('ml-100k', { dir, fetch: serving(other), source: { md5: md5(other) } }),
    ).rejects.toThrow(/has no ml-100k\/u.data/);
    expect(readdirSync(dir)).toEqual([]);
  });

  it('explains a DNS failure with the URL, the cause and the way out', async () => {
    const dir = fresh();
    const offline: FetchLike = async () => {
      const cause = Object.assign(new Error('getaddrinfo ENOTFOUND files.grouplens.org'), {
        code: 'ENOTFOUND',
      });
      throw new TypeError('fetch failed', { cause });
    };
    const error = (await downloadDataset('ml-1m', { dir, fetch: offline }).catch(
      (e: unknown) => e,
    )) as DownloadError;
    expect(error.reason).toBe('network');
    expect(error.message).toContain(
      'cannot download ml-1m from https://files.grouplens.org/datasets/movielens/ml-1m.zip: ' +
        'cannot resolve host files.grouplens.org (DNS lookup failed, ENOTFOUND; no network?)',
    );
    expect(error.message).toContain('dnr-bench data download ml-1m --archive <file.zip>');
    expect(error.message).toContain('data prepare --input');
    expect(readdirSync(dir)).toEqual([]);
  });
});

describe('downloadDataset over local HTTP', () => {
  let server: Server;
  let base: string;
  const sockets = new Set<Socket>();
  beforeAll(async () => {
    server = createServer((req, res) => {
      if (req.url === '/ml-100k.zip') {
        res.writeHead(200, { 'content-length': String(ML100K_ZIP.byteLength) });
        res.end(Buffer.from(ML100K_ZIP));
      } else if (req.url === '/stall') {
        // Headers and a first chunk, then silence: the overall timeout must end the transfer.
        res.writeHead(200, { 'content-length': '1000' });
        res.write(Buffer.alloc(10));
      } else if (req.url === '/hang') {
        // Never answers: the download must give up at its timeout.
      } else {
        res.writeHead(404, 'Not Found');
        res.end();
      }
    });
    server.on('connection', (s) => {
      sockets.add(s);
      s.on('close', () => sockets.delete(s));
    });
    await new Promise<void>((done) => server.listen(0, '127.0.0.1', done));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(async () => {
    for (const s of sockets) s.destroy();
    await new Promise<void>((done) => server.close(() => done()));
  });

  it('downloads with the global fetch', async () => {
    const dir = fresh();
    const result = await downloadDataset('ml-100k', {
      dir,
      source: { url: `${base}/ml-100k.zip`, md5: md5(ML100K_ZIP) },
    });
    expect(result.files).toBe(3);
    expect(readFileSync(result.ratingsPath, 'utf8')).toBe(U_DATA);
  });

  it('reports an HTTP error status', async () => {
    const dir = fresh();
    await expect(
      downloadDataset('ml-100k', { dir, source: { url: `${base}/missing.zip` } }),
    ).rejects.toThrow(
      `cannot download ml-100k from ${base}/missing.zip: the server answered HTTP 404`,
    );
    expect(readdirSync(dir)).toEqual([]);
  });

  it('fails fast when the connection is refused', async () => {
    // A port that was just free: bind, read it, close.
    const probe = createServer();
    await new Promise<void>((done) => probe.listen(0, '127.0.0.1', done));
    const port = (probe.address() as AddressInfo).port;
    await new Promise<void>((done) => probe.close(() => done()));
    const url = `http://127.0.0.1:${port}/ml-1m.zip`;
    const dir = fresh();
    const started = Date.now();
    const error = (await downloadDataset('ml-1m', { dir, source: { url }, timeoutMs: 5000 }).catch(
      (e: unknown) => e,
    )) as DownloadError;
    expect(Date.now() - started).toBeLessThan(3000);
    expect(error).toBeInstanceOf(DownloadError);
    expect(error.message).toContain(
      `cannot download ml-1m from ${url}: connection to 127.0.0.1:${port} refused (ECONNREFUSED)`,
    );
    expect(error.message).toContain('--archive <file.zip>');
    expect(readdirSync(dir)).toEqual([]);
  });

  it('gives up within the timeout when the server never answers', async () => {
    const dir = fresh();
    const started = Date.now();
    const error = (await downloadDataset('ml-1m', {
      dir,
      source: { url: `${base}/hang` },
      timeoutMs: 300,
    }).catch((e: unknown) => e)) as DownloadError;
    const elapsed = Date.now() - started;
    expect(elapsed).toBeGreaterThanOrEqual(250);
    expect(elapsed).toBeLessThan(2000);
    expect(error.reason).toBe('timeout');
    expect(error.message).toContain(
      `cannot download ml-1m from ${base}/hang: no response within 0.3 s (--timeout)`,
    );
    expect(readdirSync(dir)).toEqual([]);
  });

  it('gives up within the timeout when the transfer stalls, deleting the partial file', async () => {
    const dir = fresh();
    const seen: number[] = [];
    const started = Date.now();
    const error = (await downloadDataset('ml-1m', {
      dir,
      source: { url: `${base}/stall` },
      timeoutMs: 300,
      progressIntervalMs: 0,
      onProgress: (received) => seen.push(received),
    }).catch((e: unknown) => e)) as DownloadError;
    expect(Date.now() - started).toBeLessThan(2000);
    expect(error.reason).toBe('timeout');
    expect(error.message).toContain('the download did not finish within 0.3 s (--timeout)');
    expect(seen).toContain(10);
    expect(readdirSync(dir)).toEqual([]);
  });
});

describe('dnr-bench data download', () => {
  it('lists the valid names for an unknown dataset', async () => {
    const { error } = await runCli(['data', 'download', 'ml-10m', '--dir', fresh()]);
    expect((error as Error).message).toBe(
      `settings: 'dataset': unknown dataset "ml-10m"; valid names: ml-100k, ml-1m`,
    );
  });

  it('rejects a non-positive --timeout', async () => {
    const { error } = await runCli(['data', 'download', 'ml-1m', '--timeout', '0']);
    expect((error as Error).message).toMatch(/settings: 'timeout' is out of range/);
  });

  it('verifies --archive against the published MD5 and unpacks nothing on a mismatch', async () => {
    const dir = fresh();
    const archive = join(fresh(), 'ml-1m.zip');
    writeFileSync(archive, ML1M_ZIP);
    const { error } = await runCli([
      'data',
      'download',
      'ml-1m',
      '--archive',
      archive,
      '--dir',
      dir,
    ]);
    expect((error as Error).message).toBe(
      `checksum mismatch for --archive ${archive}: expected md5 ${ARCHIVES['ml-1m'].md5} ` +
        `(published for ${ARCHIVES['ml-1m'].url}), got ${md5(ML1M_ZIP)}; is it the right file?`,
    );
    expect(readdirSync(dir)).toEqual([]);
  });

  it('reports a verified copy and prints the next command', async () => {
    const dir = fresh();
    await downloadDataset('ml-100k', {
      dir,
      fetch: serving(ML100K_ZIP),
      source: { md5: md5(ML100K_ZIP) },
    });
    // The marker records the fixture's digest, not the published one: the CLI must not trust it.
    const { error } = await runCli(['data', 'download', 'ml-100k', '--dir', dir]);
    expect((error as Error).message).toMatch(
      /exists but holds no verified copy of ml-100k \(\.dnr-download\.json records another archive/,
    );
    // A marker with the published digest and matching files is a verified copy.
    const markerPath = join(dir, 'ml-100k', MARKER_FILE);
    const marker = JSON.parse(readFileSync(markerPath, 'utf8'));
    writeFileSync(markerPath, JSON.stringify({ ...marker, md5: ARCHIVES['ml-100k'].md5 }));
    const { stdout, error: none } = await runCli(['data', 'download', 'ml-100k', '--dir', dir]);
    expect(none).toBeUndefined();
    expect(stdout).toBe(
      `ml-100k: ${join(dir, 'ml-100k')} already holds a verified copy (md5 ${ARCHIVES['ml-100k'].md5}); --force downloads it again\n` +
        `next: dnr-bench data prepare --format ml100k --input ${join(dir, 'ml-100k', 'u.data')}\n`,
    );
  });
});

describe('formatProgress', () => {
  it('shows MB and the percentage', () => {
    expect(formatProgress(2_400_000, 5_917_549)).toBe('2.4 / 5.9 MB (40%)');
    expect(formatProgress(1_000_000, undefined)).toBe('1.0 MB');
  });
});

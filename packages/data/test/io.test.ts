import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DataFormatError, loadInteractions, parseInteractions, splitCsvLine } from '../src/index';
import type { LoadedInteractions } from '../src/index';

const fixtures = fileURLToPath(new URL('./fixtures/', import.meta.url));
const fixture = (name: string): string => join(fixtures, name);

let tmp = '';
beforeAll(() => {
  tmp = mkdtempSync(join(tmpdir(), 'dnr-io-'));
});
afterAll(() => {
  rmSync(tmp, { recursive: true, force: true });
});

/** Plain arrays of a result, for readable equality checks. */
function plain(x: LoadedInteractions) {
  return {
    user: Array.from(x.user),
    item: Array.from(x.item),
    rating: Array.from(x.rating),
    timestamp: Array.from(x.timestamp),
    userIds: [...x.userIds],
    itemIds: [...x.itemIds],
    implicit: x.implicit,
  };
}

/** Runs `fn` and returns the DataFormatError it throws (fails the test otherwise). */
function formatError(fn: () => unknown): DataFormatError {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(DataFormatError);
    return e as DataFormatError;
  }
  throw new Error('expected a DataFormatError');
}

async function formatErrorAsync(p: Promise<unknown>): Promise<DataFormatError> {
  try {
    await p;
  } catch (e) {
    expect(e).toBeInstanceOf(DataFormatError);
    return e as DataFormatError;
  }
  throw new Error('expected a DataFormatError');
}

describe('loadInteractions: one fixture per format', () => {
  it('reads ML-1M ratings.dat (movielens) with dense ids in order of first appearance', async () => {
    const x = await loadInteractions(fixture('tiny-ratings.dat'), { format: 'movielens' });
    expect(plain(x)).toEqual({
      user: [0, 0, 1, 1],
      item: [0, 1, 0, 2],
      rating: [5, 3, 1, 4],
      timestamp: [100, 90, 95, 100],
      userIds: ['1', '2'],
      itemIds: ['10', '20', '30'],
      implicit: false,
    });
    expect(x.format).toBe('movielens');
    expect(x.duplicates).toBe(0);
    expect(x.rowsRead).toBe(4);
    expect(x.source).toBe(fixture('tiny-ratings.dat'));
  });

  it('reads ML-100K u.data (ml100k)', async () => {
    const x = await loadInteractions(fixture('tiny-u.data'), { format: 'ml100k' });
    expect(plain(x)).toEqual({
      user: [0, 1, 0],
      item: [0, 1, 1],
      rating: [3, 3, 1],
      timestamp: [881250949, 891717742, 878887116],
      userIds: ['196', '186'],
      itemIds: ['242', '302'],
      implicit: false,
    });
  });

  it('reads chronological sequences (header skipped, implicit, NaN ratings and times)', async () => {
    const x = await loadInteractions(fixture('sequences.tsv'), { format: 'sequences' });
    expect(Array.from(x.user)).toEqual([0, 0, 0, 1, 1]);
    expect(Array.from(x.item)).toEqual([0, 1, 2, 1, 3]);
    expect(x.userIds).toEqual(['u1', 'u2']);
    expect(x.itemIds).toEqual(['a', 'b', 'c', 'd']);
    expect(x.implicit).toBe(true);
    expect(Array.from(x.rating).every(Number.isNaN)).toBe(true);
    expect(Array.from(x.timestamp).every(Number.isNaN)).toBe(true);
  });

  it('reads CSV with mapped column names, quoted fields and an extra column', async () => {
    const x = await loadInteractions(fixture('ratings.csv'), {
      format: 'csv',
      csvColumns: { user: 'userId', item: 'movieId', rating: 'rating', timestamp: 'ts' },
    });
    expect(plain(x)).toEqual({
      user: [0, 1],
      item: [0, 1],
      rating: [4.5, 2],
      timestamp: [10, 5],
      userIds: ['7', '8'],
      itemIds: ['x,1', 'y'],
      implicit: false,
    });
  });

  it('reads KGAT lists (user then items, no header, implicit)', async () => {
    const x = await loadInteractions(fixture('train.txt'), { format: 'lists' });
    expect(Array.from(x.user)).toEqual([0, 0, 0, 1, 1]);
    expect(Array.from(x.item)).toEqual([0, 1, 2, 2, 3]);
    expect(x.userIds).toEqual(['0', '1']);
    expect(x.itemIds).toEqual(['0', '1', '2', '3']);
    expect(x.implicit).toBe(true);
  });

  it('reads gzip transparently, whatever the file name', async () => {
    const plainRows = await loadInteractions(fixture('tiny-ratings.dat'), { format: 'movielens' });
    const gz = join(tmp, 'ratings.dat.gz');
    writeFileSync(gz, gzipSync(readFileSync(fixture('tiny-ratings.dat'))));
    const noExt = join(tmp, 'ratings-compressed');
    writeFileSync(noExt, gzipSync(readFileSync(fixture('tiny-ratings.dat'))));
    const a = await loadInteractions(gz, { format: 'movielens' });
    const b = await loadInteractions(noExt, { format: 'movielens' });
    expect(plain(a)).toEqual(plain(plainRows));
    expect(plain(b)).toEqual(plain(plainRows));
  });

  it('streams a file larger than one read chunk with lines split across chunks', async () => {
    const lines = ['UserID\tItems'];
    for (let u = 0; u < 300; u++) {
      lines.push(`${u}\t${Array.from({ length: 1000 }, (_, k) => (u * 7 + k) % 5000).join(' ')}`);
    }
    const text = `${lines.join('\r\n')}\r\n`;
    const file = join(tmp, 'big.tsv.gz');
    writeFileSync(file, gzipSync(Buffer.from(text)));
    const x = await loadInteractions(file, { format: 'sequences' });
    expect(x.user.length).toBe(300_000);
    expect(x.userIds.length).toBe(300);
    const y = parseInteractions(text, { format: 'sequences' });
    let mismatches = 0;
    for (let r = 0; r < x.user.length; r++) {
      if (x.user[r] !== y.user[r] || x.item[r] !== y.item[r]) mismatches++;
    }
    expect(mismatches).toBe(0);
    expect(x.itemIds).toEqual(y.itemIds);
    expect(x.itemIds[x.item[299_999]!]).toBe(String((299 * 7 + 999) % 5000));
  });
});

describe('parseInteractions: line handling', () => {
  const lf = '1::10::5::100\n1::20::3::90\n2::10::1::95\n';

  it('accepts CRLF, blank lines, a BOM and a missing final newline with identical results', () => {
    const base = plain(parseInteractions(lf, { format: 'movielens' }));
    const variants = [
      lf.replace(/\n/g, '\r\n'),
      `\uFEFF${lf}`,
      lf.slice(0, -1),
      '1::10::5::100\n\n   \n1::20::3::90\r\n\n2::10::1::95\n\n',
    ];
    for (const v of variants)
      expect(plain(parseInteractions(v, { format: 'movielens' }))).toEqual(base);
  });

  it('counts blank lines in error line numbers', () => {
    const e = formatError(() =>
      parseInteractions('1::10::5::100\n\n\n1::20::x::90\n', {
        format: 'movielens',
        source: 'mem',
      }),
    );
    expect(e.line).toBe(4);
    expect(e.file).toBe('mem');
    expect(e.text).toBe('1::20::x::90');
    expect(e.message).toContain('mem:4');
    expect(e.message).toContain('rating "x" is not a finite number');
    expect(e.expected).toContain('UserID::MovieID::Rating::Timestamp');
  });

  it('accepts decimal and exponent numbers, rejects hex, Infinity and empty fields', () => {
    const x = parseInteractions('1::2::3.5::1e3\n1::3::+4::-2\n', { format: 'movielens' });
    expect(Array.from(x.rating)).toEqual([3.5, 4]);
    expect(Array.from(x.timestamp)).toEqual([1000, -2]);
    for (const bad of [
      '1::2::0x3::1',
      '1::2::Infinity::1',
      '1::2::::1',
      '1::2::3::1e999',
      '1::2::3:: ',
    ]) {
      expect(() => parseInteractions(bad, { format: 'movielens' })).toThrow(DataFormatError);
    }
  });

  it('splits CSV lines with quotes', () => {
    expect(splitCsvLine('a,b,,c', ',')).toEqual(['a', 'b', '', 'c']);
    expect(splitCsvLine('"a,1","b ""q""",c', ',')).toEqual(['a,1', 'b "q"', 'c']);
    expect(splitCsvLine('a,"b",', ',')).toEqual(['a', 'b', '']);
    expect(splitCsvLine('a;"x;y"', ';')).toEqual(['a', 'x;y']);
    expect(splitCsvLine('a,"b', ',')).toBeNull();
    expect(splitCsvLine('a,b"c', ',')).toBeNull();
    expect(splitCsvLine('"a"x,b', ',')).toBeNull();
  });

  it('CSV: default column names, optional rating/timestamp (implicit, NaN times), other delimiters', () => {
    const x = parseInteractions('Item , USER\nx,1\ny,1\n', { format: 'csv' });
    expect(x.implicit).toBe(true);
    expect(x.userIds).toEqual(['1']);
    expect(x.itemIds).toEqual(['x', 'y']);
    expect(Number.isNaN(x.rating[0]!)).toBe(true);
    expect(Number.isNaN(x.timestamp[1]!)).toBe(true);
    const t = parseInteractions('user\titem\trating\n1\tx\t4\n', {
      format: 'csv',
      csvDelimiter: '\t',
    });
    expect(t.implicit).toBe(false);
    expect(Array.from(t.rating)).toEqual([4]);
  });
});

describe('bad input gives DataFormatError naming file, line, text and expected format', () => {
  it('a CSV file given as movielens fails on line 1', () => {
    const e = formatError(() =>
      parseInteractions('1,10,5,978300760\n', { format: 'movielens', source: 'ratings.dat' }),
    );
    expect(e.file).toBe('ratings.dat');
    expect(e.line).toBe(1);
    expect(e.text).toBe('1,10,5,978300760');
    expect(e.message).toBe(
      `ratings.dat:1: expected 4 fields separated by '::', found 1: "1,10,5,978300760" (expected ${e.expected})`,
    );
  });

  it('space-separated u.data given as ml100k fails', () => {
    const e = formatError(() => parseInteractions('196 242 3 881250949\n', { format: 'ml100k' }));
    expect(e.message).toContain('expected 4 tab-separated fields, found 1');
  });

  it('non-numeric timestamp, empty id and ids with separators', () => {
    expect(
      formatError(() => parseInteractions('1\t2\t3\t12abc\n', { format: 'ml100k' })).message,
    ).toContain('timestamp "12abc" is not a finite number');
    expect(
      formatError(() => parseInteractions('::2::3::4\n', { format: 'movielens' })).message,
    ).toContain('empty user id');
    // a sequences file read as lists: the header's tokens contain '(' ',' -> rejected on line 1
    const e = formatError(() =>
      parseInteractions('UserID\tMovieIDs (chronological, space-separated)\n1\t2 3\n', {
        format: 'lists',
      }),
    );
    expect(e.line).toBe(1);
    expect(e.message).toContain('contains a separator or space');
  });

  it('sequences: a data line without a tab', () => {
    const e = formatError(() => parseInteractions('header\nu1 a b c\n', { format: 'sequences' }));
    expect(e.line).toBe(2);
    expect(e.message).toContain('no tab between the user and the item list');
  });

  it('sequences: a numeric first line is not taken for a header unless told', () => {
    const text = '1\t10 20\n2\t10\n';
    const e = formatError(() => parseInteractions(text, { format: 'sequences' }));
    expect(e.line).toBe(1);
    expect(e.message).toContain('looks like data, not a header');
    const x = parseInteractions(text, { format: 'sequences', sequencesHeader: false });
    expect(x.userIds).toEqual(['1', '2']);
    expect(Array.from(x.item)).toEqual([0, 1, 0]);
    expect(() => parseInteractions('1 2', { format: 'lists', sequencesHeader: false })).toThrow(
      RangeError,
    );
  });

  it('empty file, blank-only file and header-only file', () => {
    expect(formatError(() => parseInteractions('', { format: 'lists' })).message).toContain(
      'empty file',
    );
    expect(formatError(() => parseInteractions('\n \n', { format: 'lists' })).message).toContain(
      'no data rows',
    );
    const e = formatError(() => parseInteractions('UserID\tItems\n', { format: 'sequences' }));
    expect(e.message).toContain('no data rows after the header');
    expect(e.line).toBe(0);
  });

  it('CSV: missing column, wrong field count, unbalanced quote, duplicate header', () => {
    expect(
      formatError(() => parseInteractions('user,movie\n1,2\n', { format: 'csv' })).message,
    ).toContain('header has no column "item"');
    expect(
      formatError(() =>
        parseInteractions('user,item\n1,2\n', { format: 'csv', csvColumns: { rating: 'stars' } }),
      ).message,
    ).toContain('header has no column "stars"');
    const e = formatError(() =>
      parseInteractions('user,item,rating\n1,2,3\n1;2;3\n', { format: 'csv' }),
    );
    expect(e.line).toBe(3);
    expect(e.message).toContain('expected 3 fields separated by ",", found 1');
    expect(
      formatError(() => parseInteractions('user,item\n"1,2\n', { format: 'csv' })).message,
    ).toContain('unbalanced double quote');
    expect(
      formatError(() => parseInteractions('user,item,user\n1,2,3\n', { format: 'csv' })).message,
    ).toContain('duplicate header column');
  });

  it('truncates long offending text to 80 characters', () => {
    const long = `1,${'9'.repeat(200)}`;
    const e = formatError(() => parseInteractions(long, { format: 'movielens' }));
    expect(e.text.length).toBe(80);
    expect(e.text.endsWith('…')).toBe(true);
  });

  it('missing file, directory and corrupt gzip', async () => {
    const missing = join(tmp, 'nope.dat');
    const e = await formatErrorAsync(loadInteractions(missing, { format: 'movielens' }));
    expect(e.file).toBe(missing);
    expect(e.line).toBe(0);
    expect(e.message).toContain('file not found');
    const dir = await formatErrorAsync(loadInteractions(tmp, { format: 'movielens' }));
    expect(dir.message).toContain(tmp);
    const gz = gzipSync(Buffer.from('1::10::5::100\n'.repeat(2000)));
    const truncated = join(tmp, 'truncated.dat.gz');
    writeFileSync(truncated, gz.subarray(0, gz.length - 40));
    const t = await formatErrorAsync(loadInteractions(truncated, { format: 'movielens' }));
    expect(t.message).toContain('corrupt gzip data');
    const empty = join(tmp, 'empty.dat');
    writeFileSync(empty, '');
    expect(
      (await formatErrorAsync(loadInteractions(empty, { format: 'movielens' }))).message,
    ).toContain('empty file');
  });

  it('rejects unknown formats and misplaced options', () => {
    expect(() => parseInteractions('x', { format: 'parquet' as never })).toThrow(DataFormatError);
    expect(() => parseInteractions('1 2', { format: 'lists', csvColumns: { user: 'u' } })).toThrow(
      /csvColumns applies to format 'csv' only/,
    );
    expect(() =>
      parseInteractions('1 2', { format: 'lists', duplicates: 'drop' as never }),
    ).toThrow(RangeError);
  });
});

describe('duplicate (user, item) pairs', () => {
  // rows: 0 a,x@50  1 a,y@10  2 a,x@20  3 b,x@5  4 a,x@20  (lines 2..6)
  const csv = 'user,item,rating,timestamp\na,x,1,50\na,y,2,10\na,x,3,20\nb,x,4,5\na,x,5,20\n';

  it('keep (default): every row stays; duplicates counted', () => {
    const x = parseInteractions(csv, { format: 'csv' });
    expect(x.user.length).toBe(5);
    expect(x.duplicates).toBe(2);
    expect(x.rowsRead).toBe(5);
  });

  it('first: earliest timestamp, ties -> first in file; re-indexed by first appearance', () => {
    const x = parseInteractions(csv, { format: 'csv', duplicates: 'first' });
    expect(plain(x)).toEqual({
      user: [0, 0, 1],
      item: [0, 1, 1],
      rating: [2, 3, 4],
      timestamp: [10, 20, 5],
      userIds: ['a', 'b'],
      itemIds: ['y', 'x'],
      implicit: false,
    });
    expect(x.duplicates).toBe(2);
  });

  it('last: latest timestamp', () => {
    const x = parseInteractions(csv, { format: 'csv', duplicates: 'last' });
    expect(Array.from(x.rating)).toEqual([1, 2, 4]);
    expect(x.itemIds).toEqual(['x', 'y']);
  });

  it('first/last without timestamps follow file order', () => {
    const first = parseInteractions('1 a b a\n', { format: 'lists', duplicates: 'first' });
    expect(first.itemIds).toEqual(['a', 'b']);
    const last = parseInteractions('1 a b a\n', { format: 'lists', duplicates: 'last' });
    expect(Array.from(last.item)).toEqual([0, 1]);
    expect(last.itemIds).toEqual(['b', 'a']);
  });

  it('error: names the line of the repeat and of the first occurrence', () => {
    const e = formatError(() =>
      parseInteractions(csv, { format: 'csv', duplicates: 'error', source: 'r.csv' }),
    );
    expect(e.line).toBe(4);
    expect(e.text).toBe('user a item x');
    expect(e.message).toContain('first seen on line 2');
  });
});

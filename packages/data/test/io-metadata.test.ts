import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import {
  AGE_BUCKETS,
  DataFormatError,
  itemFeatureMatrix,
  loadMovieLensItems,
  loadMovieLensUsers,
  parseMovieLensItems,
  parseMovieLensUsers,
  userFeatureMatrix,
} from '../src/index';

const fixtures = fileURLToPath(new URL('./fixtures/', import.meta.url));

describe('loadMovieLensItems', () => {
  it('ML-1M movies.dat: Latin-1 titles, years, multi-hot genres, unseen genres appended', async () => {
    const m = await loadMovieLensItems(join(fixtures, 'tiny-movies.dat'));
    expect(m.release).toBe('ml-1m');
    expect(m.ids).toEqual(['1', '73', '999']);
    expect(m.titles[1]).toBe('Misérables, Les (1995)');
    expect(Array.from(m.years)).toEqual([1995, 1995, Number.NaN]);
    expect(m.genreNames.length).toBe(19);
    expect(m.genreNames[18]).toBe('IMAX');
    const dim = m.genreNames.length;
    const row = (r: number): string[] => m.genreNames.filter((_, k) => m.genres[r * dim + k] === 1);
    expect(row(0)).toEqual(['Animation', "Children's", 'Comedy']);
    expect(row(1)).toEqual(['Drama', 'Musical']);
    expect(row(2)).toEqual(['IMAX']);
  });

  it('ML-100K u.item: 19 flags in u.genre order, year from the title or release date', async () => {
    const m = await loadMovieLensItems(join(fixtures, 'u.item'));
    expect(m.release).toBe('ml-100k');
    expect(m.ids).toEqual(['1', '2']);
    expect(m.titles[1]).toBe('Café Noir');
    expect(Array.from(m.years)).toEqual([1995, 1996]);
    expect(m.genreNames[0]).toBe('unknown');
    const dim = m.genreNames.length;
    expect(dim).toBe(19);
    expect(
      Array.from(m.genres.subarray(0, dim)).flatMap((v, k) => (v ? [m.genreNames[k]] : [])),
    ).toEqual(['Animation', "Children's", 'Comedy']);
    expect(Array.from(m.genres.subarray(dim, 2 * dim)).indexOf(1)).toBe(0);
  });

  it('errors name line and expectation', () => {
    const e = (() => {
      try {
        parseMovieLensItems('1::A (1990)::Drama\n1::B::Comedy\n', { source: 'movies.dat' });
      } catch (err) {
        return err as DataFormatError;
      }
      throw new Error('no error');
    })();
    expect(e).toBeInstanceOf(DataFormatError);
    expect(e.line).toBe(2);
    expect(e.message).toContain('movie id 1 appears twice');
    expect(() => parseMovieLensItems('1::A::B::C\n')).toThrow(/expected 3 fields/);
    expect(() => parseMovieLensItems('1,Toy Story,Comedy\n')).toThrow(
      /cannot tell the MovieLens release/,
    );
    expect(() => parseMovieLensItems('1|T|d||u|0|0\n')).toThrow(/expected 24 fields/);
    const bad = `1|T|d||u|${Array(18).fill('0').join('|')}|2\n`;
    expect(() => parseMovieLensItems(bad)).toThrow(/genre flag 19 is "2"/);
    expect(() => parseMovieLensItems('')).toThrow(/empty file/);
  });
});

describe('loadMovieLensUsers', () => {
  it('ML-1M users.dat: gender, age code -> bucket, occupation code', async () => {
    const u = await loadMovieLensUsers(join(fixtures, 'users.dat'));
    expect(u.release).toBe('ml-1m');
    expect(u.ids).toEqual(['1', '2']);
    expect(Array.from(u.gender)).toEqual([1, 0]);
    expect(Array.from(u.age)).toEqual([1, 56]);
    expect(Array.from(u.ageBucket)).toEqual([0, 6]);
    expect(Array.from(u.occupation)).toEqual([10, 16]);
    expect(u.occupationNames[10]).toBe('K-12 student');
    expect(u.zip).toEqual(['48067', '70072']);
  });

  it('ML-100K u.user: ages mapped to ML-1M buckets, occupation names, unknown names appended', async () => {
    const u = await loadMovieLensUsers(join(fixtures, 'u.user'));
    expect(u.release).toBe('ml-100k');
    expect(Array.from(u.age)).toEqual([24, 53, 17]);
    // 24 -> 18-24 (1), 53 -> 50-55 (5), 17 -> under 18 (0)
    expect(Array.from(u.ageBucket)).toEqual([1, 5, 0]);
    expect(Array.from(u.gender)).toEqual([0, 1, 0]);
    expect(u.occupationNames.length).toBe(22);
    expect(u.occupationNames[Number(u.occupation[0])]).toBe('technician');
    expect(u.occupationNames[Number(u.occupation[2])]).toBe('astronaut');
  });

  it('rejects bad fields', () => {
    expect(() => parseMovieLensUsers('1::X::1::10::1\n')).toThrow(/gender "X" is not M or F/);
    expect(() => parseMovieLensUsers('1::M::20::10::1\n')).toThrow(/age code 20 is not one of/);
    expect(() => parseMovieLensUsers('1::M::18::21::1\n')).toThrow(/not a code 0-20/);
    expect(() => parseMovieLensUsers('1|x|M|none|1\n')).toThrow(/age "x" is not an integer/);
    expect(() => parseMovieLensUsers('1|20|M|none\n')).toThrow(/expected 5 fields/);
  });
});

describe('feature matrices aligned to dense indices', () => {
  it('items: genre rows in dense order, missing ids zero, padding row last', () => {
    const m = parseMovieLensItems('1::A (1990)::Drama|War\n2::B (1991)::Comedy\n');
    const f = itemFeatureMatrix(m, ['2', '42', '1']);
    expect(f.rows).toBe(4);
    expect(f.dim).toBe(18);
    expect(f.data.length).toBe(4 * 18);
    expect(f.missing).toBe(1);
    const on = (r: number): string[] => f.columns.filter((_, k) => f.data[r * f.dim + k] === 1);
    expect(on(0)).toEqual(['genre:Comedy']);
    expect(on(1)).toEqual([]);
    expect(on(2)).toEqual(['genre:Drama', 'genre:War']);
    expect(on(3)).toEqual([]);
  });

  it('users: one-hot gender, age bucket and occupation (dim 30)', () => {
    const u = parseMovieLensUsers('1::F::25::3::1\n2::M::1::0::2\n');
    const f = userFeatureMatrix(u, ['2', '1', '9']);
    expect(f.dim).toBe(2 + AGE_BUCKETS.length + 21);
    expect(f.rows).toBe(3);
    expect(f.missing).toBe(1);
    const on = (r: number): string[] => f.columns.filter((_, k) => f.data[r * f.dim + k] === 1);
    expect(on(0)).toEqual(['gender:M', 'age:1', 'occupation:other or not specified']);
    expect(on(1)).toEqual(['gender:F', 'age:25', 'occupation:clerical/admin']);
    expect(on(2)).toEqual([]);
  });
});

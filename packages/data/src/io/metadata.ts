/**
 * MovieLens side information: item titles and genres (ML-1M `movies.dat`, ML-100K `u.item`),
 * user demographics (ML-1M `users.dat`, ML-100K `u.user`), and their alignment to the dense
 * indices of loaded interactions as typed feature matrices.
 */
import { DataFormatError } from './errors';
import type { LineHandler, TextEncoding } from './lines';
import { forEachFileLine, forEachTextLine } from './lines';

/** Which MovieLens release a metadata file comes from. */
export type MovieLensRelease = 'ml-1m' | 'ml-100k';

/** Options of the MovieLens metadata loaders. */
export interface MovieLensMetaOptions {
  /** Release; default: detected from the first non-blank line (`::` -> ml-1m, `|` -> ml-100k). */
  readonly release?: MovieLensRelease;
  /** Text encoding (default `'latin1'`, which is what GroupLens ships). */
  readonly encoding?: TextEncoding;
}

/** Options of the in-memory metadata parsers. */
export interface ParseMovieLensMetaOptions extends MovieLensMetaOptions {
  /** Name used in error messages (default `'<text>'`). */
  readonly source?: string;
}

/** Item metadata, one entry per line of the file, in file order. */
export interface MovieLensItems {
  readonly release: MovieLensRelease;
  readonly source: string;
  /** Original movie ids. */
  readonly ids: readonly string[];
  readonly titles: readonly string[];
  /** Release year (from the title's `(YYYY)` suffix, else the ML-100K release date); NaN if unknown. */
  readonly years: Float32Array;
  /** Genre vocabulary: the release's standard genres, then any unseen names in order of appearance. */
  readonly genreNames: readonly string[];
  /** Multi-hot genres, row-major [ids.length * genreNames.length], 0/1. */
  readonly genres: Uint8Array;
}

/** User metadata, one entry per line of the file, in file order. */
export interface MovieLensUsers {
  readonly release: MovieLensRelease;
  readonly source: string;
  /** Original user ids. */
  readonly ids: readonly string[];
  /** 0 = male, 1 = female. */
  readonly gender: Uint8Array;
  /** Age as given: years (ML-100K) or the ML-1M bucket code (1, 18, 25, 35, 45, 50, 56). */
  readonly age: Float32Array;
  /** Age bucket index 0..6 into {@link AGE_BUCKETS} (ML-1M's buckets; ML-100K ages mapped onto them). */
  readonly ageBucket: Uint8Array;
  /** Occupation index into `occupationNames`. */
  readonly occupation: Int32Array;
  /** Occupation vocabulary of the release (ML-1M: codes 0..20; ML-100K: `u.occupation` names). */
  readonly occupationNames: readonly string[];
  /** Zip codes as given. */
  readonly zip: readonly string[];
}

/** ML-1M age buckets (lower bounds), used for both releases. */
export const AGE_BUCKETS: readonly number[] = [1, 18, 25, 35, 45, 50, 56];

const ML1M_GENRES = [
  'Action',
  'Adventure',
  'Animation',
  "Children's",
  'Comedy',
  'Crime',
  'Documentary',
  'Drama',
  'Fantasy',
  'Film-Noir',
  'Horror',
  'Musical',
  'Mystery',
  'Romance',
  'Sci-Fi',
  'Thriller',
  'War',
  'Western',
];
const ML100K_GENRES = ['unknown', ...ML1M_GENRES];

const ML1M_OCCUPATIONS = [
  'other or not specified',
  'academic/educator',
  'artist',
  'clerical/admin',
  'college/grad student',
  'customer service',
  'doctor/health care',
  'executive/managerial',
  'farmer',
  'homemaker',
  'K-12 student',
  'lawyer',
  'programmer',
  'retired',
  'sales/marketing',
  'scientist',
  'self-employed',
  'technician/engineer',
  'tradesman/craftsman',
  'unemployed',
  'writer',
];
const ML100K_OCCUPATIONS = [
  'administrator',
  'artist',
  'doctor',
  'educator',
  'engineer',
  'entertainment',
  'executive',
  'healthcare',
  'homemaker',
  'lawyer',
  'librarian',
  'marketing',
  'none',
  'other',
  'programmer',
  'retired',
  'salesman',
  'scientist',
  'student',
  'technician',
  'writer',
];

const EXPECTED_ITEMS: Record<MovieLensRelease, string> = {
  'ml-1m': "MovieID::Title::Genres per line (ML-1M movies.dat), genres separated by '|'",
  'ml-100k':
    "24 '|'-separated fields per line (ML-100K u.item): id|title|release date|video date|URL|19 genre flags 0/1",
};
const EXPECTED_USERS: Record<MovieLensRelease, string> = {
  'ml-1m':
    'UserID::Gender::Age::Occupation::Zip per line (ML-1M users.dat), gender M/F, age code, occupation 0-20',
  'ml-100k': 'id|age|gender|occupation|zip per line (ML-100K u.user), gender M/F, age in years',
};

const INT = /^\d+$/;
const YEAR_IN_TITLE = /\((\d{4})\)\s*$/;
const BLANK = /^\s*$/;

function detect(
  line: string,
  file: string,
  no: number,
  expected: Record<MovieLensRelease, string>,
): MovieLensRelease {
  if (line.includes('::')) return 'ml-1m';
  if (line.includes('|')) return 'ml-100k';
  throw new DataFormatError("cannot tell the MovieLens release: no '::' or '|' separator", {
    file,
    line: no,
    text: line,
    expected: `${expected['ml-1m']}, or ${expected['ml-100k']}`,
  });
}

/** Maps an age in years to an {@link AGE_BUCKETS} index. */
function bucketOfYears(age: number): number {
  let b = 0;
  for (let k = 1; k < AGE_BUCKETS.length; k++) if (age >= AGE_BUCKETS[k]!) b = k;
  return b;
}

class ItemsBuilder {
  release: MovieLensRelease | undefined;
  readonly ids: string[] = [];
  readonly titles: string[] = [];
  readonly years: number[] = [];
  genreNames: string[] = [];
  readonly genreRows: number[][] = [];
  private readonly seen = new Set<string>();
  constructor(
    readonly file: string,
    release: MovieLensRelease | undefined,
  ) {
    this.release = release;
    if (release !== undefined)
      this.genreNames = release === 'ml-1m' ? [...ML1M_GENRES] : [...ML100K_GENRES];
  }

  private fail(problem: string, no: number, line: string): never {
    throw new DataFormatError(problem, {
      file: this.file,
      line: no,
      text: line,
      expected: EXPECTED_ITEMS[this.release ?? 'ml-1m'],
    });
  }

  private addId(id: string, no: number, line: string): void {
    if (id.length === 0 || /\s/.test(id)) this.fail(`bad movie id ${JSON.stringify(id)}`, no, line);
    if (this.seen.has(id)) this.fail(`movie id ${id} appears twice`, no, line);
    this.seen.add(id);
    this.ids.push(id);
  }

  readonly onLine: LineHandler = (line, no) => {
    if (BLANK.test(line)) return;
    if (this.release === undefined) {
      this.release = detect(line, this.file, no, EXPECTED_ITEMS);
      this.genreNames = this.release === 'ml-1m' ? [...ML1M_GENRES] : [...ML100K_GENRES];
    }
    if (this.release === 'ml-1m') {
      const f = line.split('::');
      if (f.length !== 3)
        this.fail(`expected 3 fields separated by '::', found ${f.length}`, no, line);
      this.addId(f[0]!, no, line);
      const title = f[1]!;
      this.titles.push(title);
      const m = YEAR_IN_TITLE.exec(title);
      this.years.push(m === null ? Number.NaN : Number(m[1]));
      const row: number[] = [];
      for (const g of f[2]!.split('|')) {
        if (g.length === 0) continue;
        let k = this.genreNames.indexOf(g);
        if (k < 0) {
          k = this.genreNames.length;
          this.genreNames.push(g);
        }
        row.push(k);
      }
      this.genreRows.push(row);
    } else {
      const f = line.split('|');
      if (f.length !== 24)
        this.fail(`expected 24 fields separated by '|', found ${f.length}`, no, line);
      this.addId(f[0]!, no, line);
      const title = f[1]!;
      this.titles.push(title);
      const m = YEAR_IN_TITLE.exec(title) ?? /(\d{4})\s*$/.exec(f[2]!);
      this.years.push(m === null ? Number.NaN : Number(m[1]));
      const row: number[] = [];
      for (let k = 0; k < 19; k++) {
        const flag = f[5 + k]!.trim();
        if (flag === '1') row.push(k);
        else if (flag !== '0')
          this.fail(`genre flag ${k + 1} is ${JSON.stringify(flag)}, not 0 or 1`, no, line);
      }
      this.genreRows.push(row);
    }
  };

  finish(lines: number): MovieLensItems {
    if (this.ids.length === 0 || this.release === undefined) {
      throw new DataFormatError(lines === 0 ? 'empty file' : 'no data rows', {
        file: this.file,
        line: 0,
        text: '',
        expected: `${EXPECTED_ITEMS['ml-1m']}, or ${EXPECTED_ITEMS['ml-100k']}`,
      });
    }
    const dim = this.genreNames.length;
    const genres = new Uint8Array(this.ids.length * dim);
    this.genreRows.forEach((row, r) => {
      for (const k of row) genres[r * dim + k] = 1;
    });
    return {
      release: this.release,
      source: this.file,
      ids: this.ids,
      titles: this.titles,
      years: Float32Array.from(this.years),
      genreNames: this.genreNames,
      genres,
    };
  }
}

class UsersBuilder {
  release: MovieLensRelease | undefined;
  readonly ids: string[] = [];
  readonly gender: number[] = [];
  readonly age: number[] = [];
  readonly bucket: number[] = [];
  readonly occupation: number[] = [];
  occupationNames: string[] = [];
  readonly zip: string[] = [];
  private readonly seen = new Set<string>();
  constructor(
    readonly file: string,
    release: MovieLensRelease | undefined,
  ) {
    this.release = release;
    if (release !== undefined) this.occupationNames = this.vocab(release);
  }

  private vocab(release: MovieLensRelease): string[] {
    return release === 'ml-1m' ? [...ML1M_OCCUPATIONS] : [...ML100K_OCCUPATIONS];
  }

  private fail(problem: string, no: number, line: string): never {
    throw new DataFormatError(problem, {
      file: this.file,
      line: no,
      text: line,
      expected: EXPECTED_USERS[this.release ?? 'ml-1m'],
    });
  }

  readonly onLine: LineHandler = (line, no) => {
    if (BLANK.test(line)) return;
    if (this.release === undefined) {
      this.release = detect(line, this.file, no, EXPECTED_USERS);
      this.occupationNames = this.vocab(this.release);
    }
    const ml1m = this.release === 'ml-1m';
    const f = ml1m ? line.split('::') : line.split('|');
    if (f.length !== 5) {
      this.fail(
        `expected 5 fields separated by ${ml1m ? "'::'" : "'|'"}, found ${f.length}`,
        no,
        line,
      );
    }
    const id = f[0]!;
    if (id.length === 0 || /\s/.test(id)) this.fail(`bad user id ${JSON.stringify(id)}`, no, line);
    if (this.seen.has(id)) this.fail(`user id ${id} appears twice`, no, line);
    const genderText = (ml1m ? f[1]! : f[2]!).trim().toUpperCase();
    if (genderText !== 'M' && genderText !== 'F') {
      this.fail(`gender ${JSON.stringify(genderText)} is not M or F`, no, line);
    }
    const ageText = (ml1m ? f[2]! : f[1]!).trim();
    if (!INT.test(ageText)) this.fail(`age ${JSON.stringify(ageText)} is not an integer`, no, line);
    const age = Number(ageText);
    let bucket: number;
    if (ml1m) {
      bucket = AGE_BUCKETS.indexOf(age);
      if (bucket < 0)
        this.fail(`age code ${age} is not one of ${AGE_BUCKETS.join(', ')}`, no, line);
    } else {
      bucket = bucketOfYears(age);
    }
    const occText = f[3]!.trim();
    let occ: number;
    if (ml1m) {
      occ = INT.test(occText) ? Number(occText) : -1;
      if (occ < 0 || occ >= ML1M_OCCUPATIONS.length) {
        this.fail(`occupation ${JSON.stringify(occText)} is not a code 0-20`, no, line);
      }
    } else {
      if (occText.length === 0) this.fail('empty occupation', no, line);
      occ = this.occupationNames.indexOf(occText);
      if (occ < 0) {
        occ = this.occupationNames.length;
        this.occupationNames.push(occText);
      }
    }
    this.seen.add(id);
    this.ids.push(id);
    this.gender.push(genderText === 'F' ? 1 : 0);
    this.age.push(age);
    this.bucket.push(bucket);
    this.occupation.push(occ);
    this.zip.push(f[4]!.trim());
  };

  finish(lines: number): MovieLensUsers {
    if (this.ids.length === 0 || this.release === undefined) {
      throw new DataFormatError(lines === 0 ? 'empty file' : 'no data rows', {
        file: this.file,
        line: 0,
        text: '',
        expected: `${EXPECTED_USERS['ml-1m']}, or ${EXPECTED_USERS['ml-100k']}`,
      });
    }
    return {
      release: this.release,
      source: this.file,
      ids: this.ids,
      gender: Uint8Array.from(this.gender),
      age: Float32Array.from(this.age),
      ageBucket: Uint8Array.from(this.bucket),
      occupation: Int32Array.from(this.occupation),
      occupationNames: this.occupationNames,
      zip: this.zip,
    };
  }
}

/**
 * Parses MovieLens item metadata from a string (ML-1M `movies.dat` or ML-100K `u.item`).
 *
 * @throws {@link DataFormatError} on malformed lines, repeated ids or no data rows
 */
export function parseMovieLensItems(
  text: string,
  options: ParseMovieLensMetaOptions = {},
): MovieLensItems {
  const b = new ItemsBuilder(options.source ?? '<text>', options.release);
  return b.finish(forEachTextLine(text, b.onLine));
}

/**
 * Loads MovieLens item metadata: ML-1M `movies.dat` (`MovieID::Title::Genres`, Latin-1) or
 * ML-100K `u.item` (`|`-separated, 19 genre flags), plain or gzip.
 *
 * @returns ids, titles, years and multi-hot genres `Uint8Array [items * genreNames.length]`
 * @throws {@link DataFormatError} for a missing file, malformed lines, repeated ids or no rows
 */
export async function loadMovieLensItems(
  path: string,
  options: MovieLensMetaOptions = {},
): Promise<MovieLensItems> {
  const b = new ItemsBuilder(path, options.release);
  const expected = `${EXPECTED_ITEMS['ml-1m']}, or ${EXPECTED_ITEMS['ml-100k']}`;
  const lines = await forEachFileLine(path, options.encoding ?? 'latin1', b.onLine, expected);
  return b.finish(lines);
}

/**
 * Parses MovieLens user metadata from a string (ML-1M `users.dat` or ML-100K `u.user`).
 *
 * @throws {@link DataFormatError} on malformed lines, repeated ids or no data rows
 */
export function parseMovieLensUsers(
  text: string,
  options: ParseMovieLensMetaOptions = {},
): MovieLensUsers {
  const b = new UsersBuilder(options.source ?? '<text>', options.release);
  return b.finish(forEachTextLine(text, b.onLine));
}

/**
 * Loads MovieLens user metadata: ML-1M `users.dat` (`UserID::Gender::Age::Occupation::Zip`) or
 * ML-100K `u.user` (`id|age|gender|occupation|zip`), plain or gzip.
 *
 * @returns ids, gender (0 M / 1 F), age, age bucket index, occupation index and vocabulary, zip
 * @throws {@link DataFormatError} for a missing file, malformed lines, repeated ids or no rows
 */
export async function loadMovieLensUsers(
  path: string,
  options: MovieLensMetaOptions = {},
): Promise<MovieLensUsers> {
  const b = new UsersBuilder(path, options.release);
  const expected = `${EXPECTED_USERS['ml-1m']}, or ${EXPECTED_USERS['ml-100k']}`;
  const lines = await forEachFileLine(path, options.encoding ?? 'latin1', b.onLine, expected);
  return b.finish(lines);
}

/** A dense feature matrix aligned to dense indices. */
export interface FeatureMatrix {
  /** Row-major values [rows * dim]. */
  readonly data: Float32Array;
  readonly rows: number;
  readonly dim: number;
  /** Name of each column [dim]. */
  readonly columns: readonly string[];
  /** Dense indices (excluding padding) whose id was not found in the metadata (all-zero rows). */
  readonly missing: number;
}

/**
 * Item side features aligned to dense item indices: multi-hot genres, with a zero padding row
 * last, as `RerankDataset.itemFeatures` expects.
 *
 * @param meta - item metadata
 * @param itemIds - original id of each dense item index (e.g. `interactions.itemIds`)
 * @returns `data` Float32Array [(itemIds.length + 1) * genreNames.length]; row `itemIds.length`
 *   is the padding row (zeros); items absent from `meta` get zero rows and are counted in `missing`
 */
export function itemFeatureMatrix(meta: MovieLensItems, itemIds: readonly string[]): FeatureMatrix {
  const dim = meta.genreNames.length;
  const index = new Map<string, number>();
  meta.ids.forEach((id, k) => index.set(id, k));
  const rows = itemIds.length + 1;
  const data = new Float32Array(rows * dim);
  let missing = 0;
  for (let i = 0; i < itemIds.length; i++) {
    const k = index.get(itemIds[i]!);
    if (k === undefined) {
      missing++;
      continue;
    }
    for (let d = 0; d < dim; d++) data[i * dim + d] = meta.genres[k * dim + d]!;
  }
  return { data, rows, dim, columns: meta.genreNames.map((g) => `genre:${g}`), missing };
}

/**
 * User side features aligned to dense user indices: one-hot gender (2), one-hot age bucket (7)
 * and one-hot occupation (`occupationNames.length`), concatenated in this order.
 *
 * @param meta - user metadata
 * @param userIds - original id of each dense user index (e.g. `interactions.userIds`)
 * @returns `data` Float32Array [userIds.length * dim] with dim = 9 + occupations (30 for both
 *   releases); users absent from `meta` get zero rows and are counted in `missing`
 */
export function userFeatureMatrix(meta: MovieLensUsers, userIds: readonly string[]): FeatureMatrix {
  const occ = meta.occupationNames.length;
  const dim = 2 + AGE_BUCKETS.length + occ;
  const index = new Map<string, number>();
  meta.ids.forEach((id, k) => index.set(id, k));
  const data = new Float32Array(userIds.length * dim);
  let missing = 0;
  for (let u = 0; u < userIds.length; u++) {
    const k = index.get(userIds[u]!);
    if (k === undefined) {
      missing++;
      continue;
    }
    const base = u * dim;
    data[base + meta.gender[k]!] = 1;
    data[base + 2 + meta.ageBucket[k]!] = 1;
    data[base + 2 + AGE_BUCKETS.length + meta.occupation[k]!] = 1;
  }
  const columns = [
    'gender:M',
    'gender:F',
    ...AGE_BUCKETS.map((a) => `age:${a}`),
    ...meta.occupationNames.map((o) => `occupation:${o}`),
  ];
  return { data, rows: userIds.length, dim, columns, missing };
}

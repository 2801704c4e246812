/**
 * Interaction loaders: MovieLens `ratings.dat`, ML-100K `u.data`, chronological sequences,
 * CSV with named columns, and KGAT-style id lists; plain or gzip-compressed.
 */
import type { Interactions } from '../types';
import { DataFormatError } from './errors';
import type { LineHandler, TextEncoding } from './lines';
import { forEachFileLine, forEachTextLine } from './lines';
import { groupRowsBy, selectRows } from './rows';

/**
 * Supported interaction file formats.
 *
 * - `movielens`: `UserID::MovieID::Rating::Timestamp` per line (ML-1M `ratings.dat`), no header.
 * - `ml100k`: tab-separated `user item rating timestamp` (ML-100K `u.data`), no header.
 * - `sequences`: one header line, then `user<TAB>item item item ...` with items in time order
 *   (implicit: every item positive; no timestamps, file order is time order).
 * - `csv`: a header naming the columns, then rows (see {@link CsvColumns}); rating and timestamp
 *   columns are optional (without rating: implicit; without timestamp: file order is time order).
 * - `lists`: `user item item ...` separated by spaces, no header (KGAT `train.txt`; implicit;
 *   file order is taken as time order).
 */
export type InteractionFormat = 'movielens' | 'ml100k' | 'sequences' | 'csv' | 'lists';

/** Every {@link InteractionFormat}, for CLIs and validation. */
export const INTERACTION_FORMATS: readonly InteractionFormat[] = [
  'movielens',
  'ml100k',
  'sequences',
  'csv',
  'lists',
];

/**
 * What to do with repeated (user, item) pairs.
 *
 * - `keep` (default): keep every row as a separate interaction (a re-consumption); the k-core
 *   filter and the windows count each row.
 * - `first`: keep only the earliest row of each pair (smallest timestamp; ties and formats without
 *   time: the first in file order).
 * - `last`: keep only the latest row (largest timestamp; ties and formats without time: the last
 *   in file order).
 * - `error`: throw a {@link DataFormatError} at the first repeated pair.
 *
 * In every case the number of repeated rows is reported as {@link LoadedInteractions.duplicates}.
 */
export type DuplicatePolicy = 'keep' | 'first' | 'last' | 'error';

/**
 * Header names of the CSV columns. Matching is case-insensitive and ignores surrounding
 * spaces. Defaults: `user`, `item`, `rating`, `timestamp`. A rating or timestamp column named
 * explicitly must exist; the default names are optional (absent -> implicit / file order).
 */
export interface CsvColumns {
  readonly user?: string;
  readonly item?: string;
  readonly rating?: string;
  readonly timestamp?: string;
}

/** Options of {@link loadInteractions}. */
export interface LoadInteractionsOptions {
  /** File format. */
  readonly format: InteractionFormat;
  /** CSV column names (format `csv` only), e.g. `{ user: 'userId', item: 'movieId', timestamp: 'ts' }`. */
  readonly csvColumns?: CsvColumns;
  /** CSV field delimiter, a single character (default `','`). Fields may be double-quoted. */
  readonly csvDelimiter?: string;
  /** Policy for repeated (user, item) pairs (default `'keep'`). */
  readonly duplicates?: DuplicatePolicy;
  /** Text encoding (default `'utf8'`). */
  readonly encoding?: TextEncoding;
  /**
   * Format `sequences` only: whether the first line is a header (default true). With the default,
   * a first line made only of numeric ids (`123<TAB>4 5 6`) is rejected as "looks like data", so
   * a header-less file never silently loses its first user.
   */
  readonly sequencesHeader?: boolean;
}

/** Options of {@link parseInteractions}: {@link LoadInteractionsOptions} plus a source label. */
export interface ParseInteractionsOptions extends LoadInteractionsOptions {
  /** Name used in error messages and in {@link Interactions.source} (default `'<text>'`). */
  readonly source?: string;
}

/**
 * The {@link Interactions} contract plus loading statistics. Users and items are re-indexed
 * densely in order of first appearance; row order is file order.
 */
export interface LoadedInteractions extends Interactions {
  /** The format the rows were read with. */
  readonly format: InteractionFormat;
  /** Rows that repeated an earlier (user, item) pair, counted before the duplicate policy applied. */
  readonly duplicates: number;
  /** Data rows read (before the duplicate policy). */
  readonly rowsRead: number;
}

const EXPECTED: Record<InteractionFormat, string> = {
  movielens: 'UserID::MovieID::Rating::Timestamp per line, e.g. 1::1193::5::978300760',
  ml100k:
    'user, item, rating, timestamp separated by single tabs per line, e.g. 196<TAB>242<TAB>3<TAB>881250949',
  sequences:
    'a header line, then user<TAB>item item item ... per line (items space-separated, in time order)',
  csv: 'a header naming the columns (user,item[,rating][,timestamp]), then rows with one field per header column',
  lists: 'user item item ... per line, space-separated ids, no header',
};

const NUMBER = /^[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?$/;
/** Characters never allowed inside an id of the whitespace/`::`/tab formats (catches wrong separators). */
const BAD_ID = /[\s,;:|"'\p{Cc}]/u;
const BLANK = /^\s*$/;
const NUMERIC_SEQUENCE_LINE = /^\d+\t\d+(?: +\d+)* *$/;

/** Strict decimal number parse: `NaN` unless the whole string is a finite decimal number. */
function parseNumber(s: string): number {
  if (!NUMBER.test(s)) return Number.NaN;
  const v = Number(s);
  return Number.isFinite(v) ? v : Number.NaN;
}

class Growable<T extends Int32Array | Float32Array | Float64Array> {
  data: T;
  length = 0;
  constructor(private readonly make: (n: number) => T) {
    this.data = make(1024);
  }
  push(v: number): void {
    if (this.length === this.data.length) {
      const next = this.make(this.data.length * 2);
      next.set(this.data);
      this.data = next;
    }
    this.data[this.length++] = v;
  }
  trimmed(): T {
    return this.data.slice(0, this.length) as T;
  }
}

/** Accumulates rows, interning ids densely in order of first appearance. */
class RowSink {
  readonly userIndex = new Map<string, number>();
  readonly itemIndex = new Map<string, number>();
  readonly userIds: string[] = [];
  readonly itemIds: string[] = [];
  readonly user = new Growable((n) => new Int32Array(n));
  readonly item = new Growable((n) => new Int32Array(n));
  readonly rating = new Growable((n) => new Float32Array(n));
  readonly timestamp = new Growable((n) => new Float64Array(n));
  readonly line = new Growable((n) => new Int32Array(n));

  constructor(
    readonly file: string,
    readonly expected: string,
    private readonly validateIds: boolean,
  ) {}

  fail(problem: string, line: number, text: string): never {
    throw new DataFormatError(problem, { file: this.file, line, text, expected: this.expected });
  }

  userOf(id: string, line: number, text: string): number {
    let u = this.userIndex.get(id);
    if (u === undefined) {
      this.checkId(id, 'user', line, text);
      u = this.userIds.length;
      this.userIndex.set(id, u);
      this.userIds.push(id);
    }
    return u;
  }

  itemOf(id: string, line: number, text: string): number {
    let i = this.itemIndex.get(id);
    if (i === undefined) {
      this.checkId(id, 'item', line, text);
      i = this.itemIds.length;
      this.itemIndex.set(id, i);
      this.itemIds.push(id);
    }
    return i;
  }

  private checkId(id: string, what: string, line: number, text: string): void {
    if (id.length === 0) this.fail(`empty ${what} id`, line, text);
    if (this.validateIds && BAD_ID.test(id)) {
      this.fail(`${what} id ${JSON.stringify(id)} contains a separator or space`, line, text);
    }
  }

  add(u: number, i: number, rating: number, timestamp: number, line: number): void {
    this.user.push(u);
    this.item.push(i);
    this.rating.push(rating);
    this.timestamp.push(timestamp);
    this.line.push(line);
  }

  number(field: string, what: string, line: number, text: string): number {
    const v = parseNumber(field.trim());
    if (Number.isNaN(v))
      this.fail(`${what} ${JSON.stringify(field)} is not a finite number`, line, text);
    return v;
  }
}

/** Splits one CSV record (no embedded newlines); `null` when a quote is unbalanced. */
export function splitCsvLine(line: string, delimiter: string): string[] | null {
  if (line.indexOf('"') < 0) return line.split(delimiter);
  const out: string[] = [];
  let i = 0;
  const n = line.length;
  for (;;) {
    let field = '';
    if (line[i] === '"') {
      i++;
      for (;;) {
        const q = line.indexOf('"', i);
        if (q < 0) return null;
        field += line.slice(i, q);
        if (line[q + 1] === '"') {
          field += '"';
          i = q + 2;
        } else {
          i = q + 1;
          break;
        }
      }
      // only spaces may follow a closing quote before the delimiter
      while (i < n && line[i] !== delimiter) {
        if (line[i] !== ' ') return null;
        i++;
      }
    } else {
      const d = line.indexOf(delimiter, i);
      const end = d < 0 ? n : d;
      field = line.slice(i, end);
      if (field.indexOf('"') >= 0) return null;
      i = end;
    }
    out.push(field);
    if (i >= n) return out;
    i += delimiter.length; // skip the delimiter
    if (i >= n) {
      out.push('');
      return out;
    }
  }
}

interface FormatParser {
  readonly onLine: LineHandler;
  /** Implicit feedback (no ratings)? Known once parsing has finished. */
  implicit(): boolean;
  /** Number of lines consumed as header (0 or 1). */
  headerLines(): number;
}

function makeParser(sink: RowSink, options: LoadInteractionsOptions): FormatParser {
  const NaN_ = Number.NaN;
  switch (options.format) {
    case 'movielens':
      return {
        implicit: () => false,
        headerLines: () => 0,
        onLine(line, no) {
          if (BLANK.test(line)) return;
          const f = line.split('::');
          if (f.length !== 4) {
            sink.fail(`expected 4 fields separated by '::', found ${f.length}`, no, line);
          }
          const u = sink.userOf(f[0]!, no, line);
          const i = sink.itemOf(f[1]!, no, line);
          const rating = sink.number(f[2]!, 'rating', no, line);
          const ts = sink.number(f[3]!, 'timestamp', no, line);
          sink.add(u, i, rating, ts, no);
        },
      };
    case 'ml100k':
      return {
        implicit: () => false,
        headerLines: () => 0,
        onLine(line, no) {
          if (BLANK.test(line)) return;
          const f = line.split('\t');
          if (f.length !== 4) {
            sink.fail(`expected 4 tab-separated fields, found ${f.length}`, no, line);
          }
          const u = sink.userOf(f[0]!, no, line);
          const i = sink.itemOf(f[1]!, no, line);
          const rating = sink.number(f[2]!, 'rating', no, line);
          const ts = sink.number(f[3]!, 'timestamp', no, line);
          sink.add(u, i, rating, ts, no);
        },
      };
    case 'sequences': {
      let header = options.sequencesHeader === false;
      return {
        implicit: () => true,
        headerLines: () => (header && options.sequencesHeader !== false ? 1 : 0),
        onLine(line, no) {
          if (BLANK.test(line)) return;
          if (!header) {
            if (NUMERIC_SEQUENCE_LINE.test(line)) {
              sink.fail(
                'the first line looks like data, not a header (pass sequencesHeader: false for a file without one)',
                no,
                line,
              );
            }
            header = true;
            return;
          }
          const tab = line.indexOf('\t');
          if (tab < 0) sink.fail('no tab between the user and the item list', no, line);
          const u = sink.userOf(line.slice(0, tab), no, line);
          const items = line.slice(tab + 1).split(' ');
          for (const token of items) {
            if (token.length === 0) continue;
            sink.add(u, sink.itemOf(token, no, line), NaN_, NaN_, no);
          }
        },
      };
    }
    case 'lists':
      return {
        implicit: () => true,
        headerLines: () => 0,
        onLine(line, no) {
          if (BLANK.test(line)) return;
          const tokens = line.split(' ');
          let u = -1;
          for (const token of tokens) {
            if (token.length === 0) continue;
            if (u < 0) u = sink.userOf(token, no, line);
            else sink.add(u, sink.itemOf(token, no, line), NaN_, NaN_, no);
          }
        },
      };
    case 'csv':
      return makeCsvParser(sink, options);
    default: {
      const format: never = options.format;
      throw new DataFormatError(`unknown format ${JSON.stringify(format)}`, {
        file: sink.file,
        line: 0,
        text: '',
        expected: `one of ${INTERACTION_FORMATS.join(', ')}`,
      });
    }
  }
}

function makeCsvParser(sink: RowSink, options: LoadInteractionsOptions): FormatParser {
  const delimiter = options.csvDelimiter ?? ',';
  if (delimiter.length !== 1 || delimiter === '"' || delimiter === '\n' || delimiter === '\r') {
    throw new RangeError(
      `csvDelimiter must be one character other than a quote or newline, got ${JSON.stringify(delimiter)}`,
    );
  }
  const names = options.csvColumns ?? {};
  let columns: {
    user: number;
    item: number;
    rating: number;
    timestamp: number;
    count: number;
  } | null = null;
  const norm = (s: string): string => s.trim().toLowerCase();
  return {
    implicit: () => columns === null || columns.rating < 0,
    headerLines: () => (columns === null ? 0 : 1),
    onLine(line, no) {
      if (BLANK.test(line)) return;
      const f = splitCsvLine(line, delimiter);
      if (f === null) sink.fail('unbalanced double quote', no, line);
      if (columns === null) {
        const header = f.map(norm);
        const seen = new Set<string>();
        for (const h of header) {
          if (seen.has(h)) sink.fail(`duplicate header column ${JSON.stringify(h)}`, no, line);
          seen.add(h);
        }
        const find = (name: string | undefined, fallback: string, required: boolean): number => {
          const wanted = norm(name ?? fallback);
          const at = header.indexOf(wanted);
          if (at < 0 && (required || name !== undefined)) {
            sink.fail(
              `header has no column ${JSON.stringify(wanted)} (columns: ${header.join(delimiter)})`,
              no,
              line,
            );
          }
          return at;
        };
        columns = {
          user: find(names.user, 'user', true),
          item: find(names.item, 'item', true),
          rating: find(names.rating, 'rating', false),
          timestamp: find(names.timestamp, 'timestamp', false),
          count: header.length,
        };
        return;
      }
      if (f.length !== columns.count) {
        sink.fail(
          `expected ${columns.count} fields separated by ${JSON.stringify(delimiter)}, found ${f.length}`,
          no,
          line,
        );
      }
      const u = sink.userOf(f[columns.user]!.trim(), no, line);
      const i = sink.itemOf(f[columns.item]!.trim(), no, line);
      const rating =
        columns.rating < 0 ? Number.NaN : sink.number(f[columns.rating]!, 'rating', no, line);
      const ts =
        columns.timestamp < 0
          ? Number.NaN
          : sink.number(f[columns.timestamp]!, 'timestamp', no, line);
      sink.add(u, i, rating, ts, no);
    },
  };
}

function validateOptions(options: LoadInteractionsOptions, file: string): void {
  if (!INTERACTION_FORMATS.includes(options.format)) {
    throw new DataFormatError(`unknown format ${JSON.stringify(options.format)}`, {
      file,
      line: 0,
      text: '',
      expected: `format one of ${INTERACTION_FORMATS.join(', ')}`,
    });
  }
  const policy = options.duplicates ?? 'keep';
  if (!['keep', 'first', 'last', 'error'].includes(policy)) {
    throw new RangeError(
      `duplicates must be keep, first, last or error, got ${JSON.stringify(policy)}`,
    );
  }
  if (options.sequencesHeader !== undefined && options.format !== 'sequences') {
    throw new RangeError(
      `sequencesHeader applies to format 'sequences' only (format is '${options.format}')`,
    );
  }
  if (options.csvColumns !== undefined && options.format !== 'csv') {
    throw new RangeError(`csvColumns applies to format 'csv' only (format is '${options.format}')`);
  }
}

/** Applies the duplicate policy and builds the result. */
function finish(
  sink: RowSink,
  parser: FormatParser,
  options: LoadInteractionsOptions,
  lines: number,
): LoadedInteractions {
  const rows = sink.user.length;
  if (rows === 0) {
    const header = parser.headerLines() > 0 ? ' after the header' : '';
    throw new DataFormatError(lines === 0 ? 'empty file' : `no data rows${header}`, {
      file: sink.file,
      line: 0,
      text: '',
      expected: sink.expected,
    });
  }
  const base: Interactions = {
    user: sink.user.trimmed(),
    item: sink.item.trimmed(),
    rating: sink.rating.trimmed(),
    timestamp: sink.timestamp.trimmed(),
    userIds: sink.userIds,
    itemIds: sink.itemIds,
    implicit: parser.implicit(),
    source: sink.file,
  };
  const policy = options.duplicates ?? 'keep';
  const { duplicates, keep } = findDuplicates(base, policy, sink);
  const result = duplicates > 0 && keep !== null ? selectRows(base, keep) : base;
  return { ...result, format: options.format, duplicates, rowsRead: rows };
}

/**
 * Counts rows repeating an earlier (user, item) pair and, for `first` / `last`, marks the row to
 * keep of each pair. Linear time: rows grouped by user, a per-item stamp array.
 */
function findDuplicates(
  x: Interactions,
  policy: DuplicatePolicy,
  sink: RowSink,
): { duplicates: number; keep: Uint8Array | null } {
  const numUsers = x.userIds.length;
  const { start, rows } = groupRowsBy(x.user, numUsers);
  const stamp = new Int32Array(x.itemIds.length).fill(-1);
  const slot = new Int32Array(x.itemIds.length);
  const ts = x.timestamp;
  const keep = policy === 'first' || policy === 'last' ? new Uint8Array(x.user.length) : null;
  let duplicates = 0;
  for (let u = 0; u < numUsers; u++) {
    const a = start[u]!;
    const b = start[u + 1]!;
    for (let k = a; k < b; k++) {
      const r = rows[k]!;
      const i = x.item[r]!;
      if (stamp[i] !== u) {
        stamp[i] = u;
        slot[i] = r;
        continue;
      }
      duplicates++;
      const prev = slot[i]!;
      if (policy === 'error') {
        const line = sink.line.data[r]!;
        throw new DataFormatError(
          `repeated (user, item) pair; first seen on line ${sink.line.data[prev]!}`,
          {
            file: sink.file,
            line,
            text: `user ${x.userIds[u]!} item ${x.itemIds[i]!}`,
            expected: 'each (user, item) pair at most once (duplicates: "error")',
          },
        );
      }
      // rows of a user come in file order, so `r` is later in the file than `prev`
      if (policy === 'first' ? ts[r]! < ts[prev]! : !(ts[r]! < ts[prev]!)) slot[i] = r;
    }
    if (keep !== null) {
      for (let k = a; k < b; k++) {
        const r = rows[k]!;
        if (slot[x.item[r]!] === r) keep[r] = 1;
      }
    }
  }
  return { duplicates, keep };
}

/**
 * Parses interactions from an in-memory string (handy for tests and small data).
 *
 * @param text - the whole file content (plain text, not gzip)
 * @param options - format, duplicate policy, CSV columns, and a `source` label for errors
 * @returns the interactions, users/items densely re-indexed in order of first appearance
 * @throws {@link DataFormatError} on malformed lines, a missing CSV column, or no data rows
 */
export function parseInteractions(
  text: string,
  options: ParseInteractionsOptions,
): LoadedInteractions {
  const file = options.source ?? '<text>';
  validateOptions(options, file);
  const sink = new RowSink(file, EXPECTED[options.format], options.format !== 'csv');
  const parser = makeParser(sink, options);
  const lines = forEachTextLine(text, parser.onLine);
  return finish(sink, parser, options, lines);
}

/**
 * Loads interactions from a file, streaming it line by line. Gzip input is detected by its
 * magic bytes (any file name, e.g. `ratings.dat.gz`) and decompressed on the fly. `\r\n` line
 * endings, blank lines and a UTF-8 byte-order mark are accepted.
 *
 * Ratings and timestamps must be finite decimal numbers. Ids are kept as the original strings;
 * in the non-CSV formats they may not contain spaces or any of `, ; : | " '` (so a file with the
 * wrong separator fails on its first line rather than loading garbage).
 *
 * @param path - file path (plain or gzip)
 * @param options - format and parsing options
 * @returns rows in file order: `user`/`item` Int32Array [rows], `rating` Float32Array [rows]
 *   (`NaN` when implicit), `timestamp` Float64Array [rows] (`NaN` without time), original ids,
 *   plus `duplicates` and `rowsRead`
 * @throws {@link DataFormatError} for a missing/unreadable file, corrupt gzip, a malformed line
 *   (with file, 1-based line, offending text and expected format) or a file without data rows
 */
export async function loadInteractions(
  path: string,
  options: LoadInteractionsOptions,
): Promise<LoadedInteractions> {
  validateOptions(options, path);
  const sink = new RowSink(path, EXPECTED[options.format], options.format !== 'csv');
  const parser = makeParser(sink, options);
  const lines = await forEachFileLine(
    path,
    options.encoding ?? 'utf8',
    parser.onLine,
    EXPECTED[options.format],
  );
  return finish(sink, parser, options, lines);
}

/**
 * Randomized robustness: corrupted inputs fed to every parser either parse or throw a
 * DataFormatError (never another error type, never a hang). CRLF endings and blank lines
 * must parse to exactly the clean result.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { afterAll, describe, expect, it } from 'vitest';
import {
  DataFormatError,
  createRng,
  loadInteractions,
  loadMovieLensItems,
  loadMovieLensUsers,
  parseInteractions,
  parseMovieLensItems,
  parseMovieLensUsers,
} from '../src/index';
import type { InteractionFormat, Rng } from '../src/index';

interface Case {
  readonly name: string;
  readonly clean: string;
  readonly parse: (text: string) => unknown;
  readonly load: (path: string) => Promise<unknown>;
}

const interactionCase = (format: InteractionFormat, clean: string): Case => ({
  name: format,
  clean,
  parse: (text) => parseInteractions(text, { format, source: 'fuzz' }),
  load: (path) => loadInteractions(path, { format }),
});

const uItemLine = (id: number, flags: string): string =>
  `${id}|Movie ${id} (199${id})|01-Jan-199${id}||http://x/${id}|${flags}`;
const flags = (on: number): string =>
  Array.from({ length: 19 }, (_, k) => (k === on ? '1' : '0')).join('|');

const CASES: readonly Case[] = [
  interactionCase(
    'movielens',
    '1::1193::5::978300760\n1::661::3::978302109\n2::1193::4::978300275\n',
  ),
  interactionCase(
    'ml100k',
    '196\t242\t3\t881250949\n186\t302\t3\t891717742\n22\t242\t1\t878887116\n',
  ),
  interactionCase('sequences', 'UserID\tMovieIDs\n1\t3186 1721 1022\n2\t1721 48\n3\t48\n'),
  interactionCase('csv', 'user,item,rating,timestamp\n1,"a,b",4,10\n2,c,3.5,11\n1,c,2,12\n'),
  interactionCase('lists', '0 0 1 2 3\n1 2 3\n2 0 4\n'),
  {
    name: 'movies.dat',
    clean: "1::Toy Story (1995)::Animation|Children's|Comedy\n2::Jumanji (1995)::Adventure\n",
    parse: (text) => parseMovieLensItems(text, { source: 'fuzz' }),
    load: (path) => loadMovieLensItems(path),
  },
  {
    name: 'u.item',
    clean: `${uItemLine(1, flags(3))}\n${uItemLine(2, flags(0))}\n`,
    parse: (text) => parseMovieLensItems(text, { source: 'fuzz' }),
    load: (path) => loadMovieLensItems(path),
  },
  {
    name: 'users.dat',
    clean: '1::F::1::10::48067\n2::M::56::16::70072\n',
    parse: (text) => parseMovieLensUsers(text, { source: 'fuzz' }),
    load: (path) => loadMovieLensUsers(path),
  },
  {
    name: 'u.user',
    clean: '1|24|M|technician|85711\n2|53|F|other|94043\n',
    parse: (text) => parseMovieLensUsers(text, { source: 'fuzz' }),
    load: (path) => loadMovieLensUsers(path),
  },
];

const SPECIAL = [
  ':',
  '::',
  '\t',
  ',',
  ' ',
  '|',
  '"',
  '\n',
  '\r',
  '\r\n',
  '0',
  '9',
  'x',
  '.',
  '-',
  'e',
  '\u0000',
  '\uFFFD',
  'é',
];
const SEPARATORS = ['::', '\t', ',', ' ', '|', ';'];

function pick<T>(rng: Rng, xs: readonly T[]): T {
  return xs[rng.int(xs.length)]!;
}

/** One random corruption of `text`. */
function corrupt(text: string, rng: Rng): string {
  switch (rng.int(7)) {
    case 0: {
      // flip characters
      const chars = text.split('');
      const flips = 1 + rng.int(3);
      for (let f = 0; f < flips && chars.length > 0; f++) {
        chars[rng.int(chars.length)] =
          rng.next() < 0.5 ? pick(rng, SPECIAL) : String.fromCharCode(rng.int(256));
      }
      return chars.join('');
    }
    case 1: // truncate
      return text.slice(0, rng.int(text.length + 1));
    case 2: {
      // swap one separator for another everywhere
      const from = pick(rng, SEPARATORS);
      return text.split(from).join(pick(rng, SEPARATORS));
    }
    case 3: {
      // random garbage
      const n = rng.int(200);
      let s = '';
      for (let k = 0; k < n; k++)
        s += rng.next() < 0.3 ? pick(rng, SPECIAL) : String.fromCharCode(rng.int(128));
      return s;
    }
    case 4: {
      // truncate one line in the middle
      const lines = text.split('\n');
      const l = rng.int(lines.length);
      lines[l] = lines[l]!.slice(0, rng.int(lines[l]!.length + 1));
      return lines.join('\n');
    }
    case 5: {
      // duplicate or delete a line
      const lines = text.split('\n');
      const l = rng.int(lines.length);
      if (rng.next() < 0.5) lines.splice(l, 0, lines[l]!);
      else lines.splice(l, 1);
      return lines.join('\n');
    }
    default: {
      // insert a random chunk somewhere
      const at = rng.int(text.length + 1);
      return text.slice(0, at) + pick(rng, SPECIAL) + pick(rng, SPECIAL) + text.slice(at);
    }
  }
}

function expectParsesOrFormatError(c: Case, text: string): 'ok' | 'error' {
  try {
    c.parse(text);
    return 'ok';
  } catch (e) {
    if (!(e instanceof DataFormatError)) {
      throw new Error(`${c.name}: non-DataFormatError for ${JSON.stringify(text)}: ${String(e)}`);
    }
    expect(e.file).toBe('fuzz');
    expect(Number.isInteger(e.line) && e.line >= 0).toBe(true);
    expect(e.text.length).toBeLessThanOrEqual(80);
    expect(e.expected.length).toBeGreaterThan(0);
    return 'error';
  }
}

const dir = mkdtempSync(join(tmpdir(), 'dnr-fuzz-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe.each(CASES)('fuzz $name', (c) => {
  it('clean text parses; CRLF endings and blank lines give the identical result', () => {
    const base = c.parse(c.clean);
    expect(c.parse(c.clean.replace(/\n/g, '\r\n'))).toEqual(base);
    const lines = c.clean.split('\n');
    const spaced = [
      lines[0],
      '',
      ...lines.slice(1, -1).flatMap((l) => [l, '  ']),
      lines.at(-1),
    ].join('\n');
    expect(c.parse(spaced)).toEqual(base);
  });

  it('400 random corruptions: parse or DataFormatError', () => {
    const rng = createRng(`fuzz:${c.name}`);
    const outcome = { ok: 0, error: 0 };
    for (let t = 0; t < 400; t++) {
      let text = c.clean;
      const rounds = 1 + rng.int(3);
      for (let k = 0; k < rounds; k++) text = corrupt(text, rng);
      outcome[expectParsesOrFormatError(c, text)]++;
    }
    // both outcomes occur, so the corruptions are neither all harmless nor all fatal
    expect(outcome.error).toBeGreaterThan(0);
    expect(outcome.ok).toBeGreaterThan(0);
  });

  it('corrupted gzip files: load or DataFormatError', async () => {
    const rng = createRng(`gz:${c.name}`);
    const gz = gzipSync(Buffer.from(c.clean.repeat(50)));
    for (let t = 0; t < 15; t++) {
      const bytes = Buffer.from(gz);
      const mode = t % 3;
      let data: Buffer;
      if (mode === 0) {
        for (let f = 0; f < 1 + rng.int(4); f++)
          bytes[2 + rng.int(bytes.length - 2)] = rng.int(256);
        data = bytes;
      } else if (mode === 1) {
        data = bytes.subarray(0, 2 + rng.int(bytes.length - 2));
      } else {
        data = Buffer.concat([bytes, Buffer.from([rng.int(256), rng.int(256), rng.int(256)])]);
      }
      const file = join(dir, `${c.name}-${t}.gz`);
      writeFileSync(file, data);
      try {
        await c.load(file);
      } catch (e) {
        if (!(e instanceof DataFormatError)) throw new Error(`${c.name} gz ${t}: ${String(e)}`);
        expect(e.file).toBe(file);
      }
    }
  });
});

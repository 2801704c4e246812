/**
 * `dnr-bench data download`: fetches an official GroupLens MovieLens archive, checks it against the
 * MD5 GroupLens publishes beside it, and unpacks it into `<dir>/<dataset>/` atomically.
 *
 * Everything the outside world hands us is untrusted: the downloaded bytes must match the
 * published digest before they are opened, every zip entry name is checked (no absolute paths, no
 * `..`, nothing that lands outside the destination), and the marker file that lets a second run
 * skip the work is validated with zod and checked against the files on disk.
 */
import { createHash, randomBytes } from 'node:crypto';
import { mkdir, open, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { dirname, isAbsolute, join, relative, resolve, sep } from 'node:path';
import type { InteractionFormat } from '@dnr/data';
import { unzipSync } from 'fflate';
import { z } from 'zod';

/** The archives `data download` knows. */
export const DATASET_NAMES = ['ml-100k', 'ml-1m'] as const;
export type DatasetName = (typeof DATASET_NAMES)[number];

/** One downloadable archive and how its unpacked ratings file is read. */
export interface ArchiveSpec {
  readonly name: DatasetName;
  /** Official download address. */
  readonly url: string;
  /** MD5 of the archive as GroupLens publishes it at `<url>.md5` (lower-case hex). */
  readonly md5: string;
  /** The interaction file inside the unpacked folder. */
  readonly ratingsFile: string;
  /** The `data prepare --format` that reads {@link ratingsFile}. */
  readonly format: InteractionFormat;
}

/**
 * The official archives and their published MD5 digests (`<url>.md5` on files.grouplens.org).
 * The digests were checked against several independent public copies of those `.md5` files.
 */
export const ARCHIVES: Readonly<Record<DatasetName, ArchiveSpec>> = {
  'ml-100k': {
    name: 'ml-100k',
    url: 'https://files.grouplens.org/datasets/movielens/ml-100k.zip',
    md5: '0e33842e24a9c977be4e0107933c0723',
    ratingsFile: 'u.data',
    format: 'ml100k',
  },
  'ml-1m': {
    name: 'ml-1m',
    url: 'https://files.grouplens.org/datasets/movielens/ml-1m.zip',
    md5: 'c4d9eecfca2ab87c1945afe126590906',
    ratingsFile: 'ratings.dat',
    format: 'movielens',
  },
};

/** Name of the marker file written into an unpacked folder once its archive was verified. */
export const MARKER_FILE = '.dnr-download.json';

/** Default overall time limit of a download. */
export const DEFAULT_TIMEOUT_MS = 600_000;
/** Longest wait for the server's response headers (capped by the overall limit). */
export const CONNECT_TIMEOUT_MS = 30_000;
/** Largest archive accepted, and largest total unpacked size (the real ones are a few MB). */
export const DEFAULT_MAX_BYTES = 256 * 1024 * 1024;

/** Why a download failed. */
export type DownloadErrorReason =
  'network' | 'timeout' | 'http' | 'checksum' | 'archive' | 'unsafe-entry' | 'exists' | 'io';

/** A failed `data download`; the message names the URL or file, the cause and what to do. */
export class DownloadError extends Error {
  constructor(
    readonly reason: DownloadErrorReason,
    message: string,
  ) {
    super(message);
    this.name = 'DownloadError';
  }
}

/** The subset of `fetch` the downloader needs (injectable for tests). */
export type FetchLike = (url: string, init: { signal: AbortSignal }) => Promise<Response>;

export interface DownloadOptions {
  /** Parent folder; the archive unpacks into `<dir>/<dataset>/`. */
  readonly dir: string;
  /** A local copy of the archive: verified and unpacked, no network used. */
  readonly archive?: string;
  /** Download and unpack again even when a verified copy exists (or replace an unverified folder). */
  readonly force?: boolean;
  /** Overall time limit of the download in ms (default {@link DEFAULT_TIMEOUT_MS}). */
  readonly timeoutMs?: number;
  /** Time limit for the response headers in ms (default min({@link CONNECT_TIMEOUT_MS}, timeoutMs)). */
  readonly connectTimeoutMs?: number;
  /** The fetch to use (default: Node's global fetch). */
  readonly fetch?: FetchLike;
  /** Called with bytes received so far and the announced total, at most every `progressIntervalMs`. */
  readonly onProgress?: (received: number, total: number | undefined) => void;
  /** Minimum ms between two progress calls (default 1000); the last call always happens. */
  readonly progressIntervalMs?: number;
  /** One line per step (downloading, verified, unpacked). */
  readonly log?: (line: string) => void;
  /** Overrides of the URL and expected MD5 (a mirror, or tests). */
  readonly source?: { readonly url?: string; readonly md5?: string };
  /** Largest archive / unpacked total accepted (default {@link DEFAULT_MAX_BYTES}). */
  readonly maxBytes?: number;
}

export interface DownloadResult {
  readonly dataset: DatasetName;
  /** The unpacked folder `<dir>/<dataset>`. */
  readonly dest: string;
  /** Path of the interaction file inside {@link dest}. */
  readonly ratingsPath: string;
  readonly format: InteractionFormat;
  /** The verified MD5 of the archive. */
  readonly md5: string;
  /** Number of files in the unpacked folder (marker excluded). */
  readonly files: number;
  /** Where the bytes came from: downloaded, a local `--archive`, or an existing verified copy. */
  readonly source: 'download' | 'archive' | 'existing';
  /** The command that turns the unpacked file into a reranking dataset. */
  readonly next: string;
}

const markerSchema = z.object({
  dataset: z.string(),
  url: z.string(),
  md5: z.string().regex(/^[0-9a-f]{32}$/),
  unpackedAt: z.string(),
  files: z.array(z.object({ path: z.string().min(1), bytes: z.int().min(0) })),
});
type Marker = z.infer<typeof markerSchema>;

/** The archive spec of `name`, with optional URL / digest overrides checked. */
export function archiveSpec(
  name: DatasetName,
  source: DownloadOptions['source'] = {},
): ArchiveSpec {
  const base = ARCHIVES[name];
  if (!base) {
    throw new DownloadError(
      'archive',
      `unknown dataset ${JSON.stringify(name)}; valid names: ${DATASET_NAMES.join(', ')}`,
    );
  }
  const md5 = (source.md5 ?? base.md5).toLowerCase();
  if (!/^[0-9a-f]{32}$/.test(md5)) {
    throw new DownloadError('archive', `expected MD5 must be 32 hex digits, got ${source.md5}`);
  }
  return { ...base, url: source.url ?? base.url, md5 };
}

/**
 * Checks one zip entry name and returns it as a safe relative path with '/' separators, or null
 * for a directory entry (a name ending in '/'). Throws for absolute paths, drive letters, `..` segments and NUL bytes
 * (backslashes count as separators, so `..\x` is caught too).
 */
export function safeEntryPath(name: string): string | null {
  const unsafe = (why: string): DownloadError =>
    new DownloadError('unsafe-entry', `unsafe entry ${JSON.stringify(name)} in archive: ${why}`);
  if (name.includes('\0')) throw unsafe('NUL byte in the name');
  const slashed = name.replace(/\\/g, '/');
  if (slashed.startsWith('/') || /^[A-Za-z]:/.test(slashed)) throw unsafe('absolute path');
  const parts = slashed.split('/').filter((p) => p !== '' && p !== '.');
  if (parts.includes('..')) throw unsafe("'..' leads outside the destination");
  if (parts.length === 0 || slashed.endsWith('/')) return null;
  return parts.join('/');
}

function hex(hash: ReturnType<typeof createHash>): string {
  return hash.digest('hex');
}

function seconds(ms: number): string {
  return `${Number((ms / 1000).toFixed(3))} s`;
}

function errnoCode(error: unknown): string | undefined {
  if (error === null || typeof error !== 'object') return undefined;
  const e = error as { code?: unknown; errors?: unknown };
  if (typeof e.code === 'string') return e.code;
  if (Array.isArray(e.errors)) {
    for (const inner of e.errors) {
      const code = errnoCode(inner);
      if (code) return code;
    }
  }
  return undefined;
}

/** A short human description of a fetch failure: DNS, refused, reset, TLS, ... */
function describeNetworkError(error: unknown, url: string): string {
  const cause = (error as { cause?: unknown } | null)?.cause ?? error;
  const code = errnoCode(cause) ?? errnoCode(error);
  const host = (() => {
    try {
      return new URL(url).host;
    } catch {
      return url;
    }
  })();
  switch (code) {
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
    case 'EAI_NONAME':
      return `cannot resolve host ${host} (DNS lookup failed, ${code}; no network?)`;
    case 'ECONNREFUSED':
      return `connection to ${host} refused (ECONNREFUSED)`;
    case 'ECONNRESET':
    case 'UND_ERR_SOCKET':
      return `connection to ${host} was reset (${code})`;
    case 'ETIMEDOUT':
    case 'UND_ERR_CONNECT_TIMEOUT':
      return `connection to ${host} timed out (${code})`;
    case 'ENETUNREACH':
    case 'EHOSTUNREACH':
    case 'ENETDOWN':
      return `network unreachable (${code}; no network?)`;
    default: {
      const message = cause instanceof Error ? cause.message : String(cause);
      return code ? `${message} (${code})` : message;
    }
  }
}

/** What to do when the archive cannot be fetched from here. */
function wayOut(spec: ArchiveSpec): string {
  return (
    `without network access: download ${spec.url} by hand (browser, another machine), ` +
    `then run \`dnr-bench data download ${spec.name} --archive <file.zip>\` to verify and unpack it, ` +
    `or pass an interaction file you already have to \`dnr-bench data prepare --input <file>\``
  );
}

/** Hashes (and size-checks) a local archive; returns its bytes. */
async function readLocalArchive(path: string, maxBytes: number): Promise<Uint8Array> {
  let size: number;
  try {
    const info = await stat(path);
    if (!info.isFile()) throw new DownloadError('archive', `--archive ${path} is not a file`);
    size = info.size;
  } catch (error) {
    if (error instanceof DownloadError) throw error;
    const code = (error as NodeJS.ErrnoException).code;
    throw new DownloadError(
      'archive',
      `cannot read --archive ${path}: ${code === 'ENOENT' ? 'no such file' : String(error)}`,
    );
  }
  if (size > maxBytes) {
    throw new DownloadError('archive', `--archive ${path} is ${size} bytes, over ${maxBytes}`);
  }
  return new Uint8Array(await readFile(path));
}

function checksumError(spec: ArchiveSpec, where: string, actual: string, extra: string): never {
  throw new DownloadError(
    'checksum',
    `checksum mismatch for ${where}: expected md5 ${spec.md5} (published for ${spec.url}), ` +
      `got ${actual}${extra}`,
  );
}

/**
 * Streams `spec.url` into `tmp` while hashing it; fails within the time limits with a message
 * naming the URL, the cause and the way out. Returns the MD5 of what was received.
 */
async function fetchToFile(
  spec: ArchiveSpec,
  tmp: string,
  options: DownloadOptions,
  maxBytes: number,
): Promise<string> {
  const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  const connectMs = Math.min(options.connectTimeoutMs ?? CONNECT_TIMEOUT_MS, timeoutMs);
  const doFetch: FetchLike = options.fetch ?? ((url, init) => fetch(url, init));
  const controller = new AbortController();
  let expired: 'connect' | 'overall' | undefined;
  const overall = setTimeout(() => {
    expired ??= 'overall';
    controller.abort(new Error('overall timeout'));
  }, timeoutMs);
  const connect = setTimeout(() => {
    expired ??= 'connect';
    controller.abort(new Error('connect timeout'));
  }, connectMs);
  const fail = (cause: string, reason: DownloadErrorReason): DownloadError =>
    new DownloadError(
      reason,
      `cannot download ${spec.name} from ${spec.url}: ${cause}; ${wayOut(spec)}`,
    );
  let responded = false;
  const timedOut = (): DownloadError => {
    if (expired === 'connect') return fail(`no response within ${seconds(connectMs)}`, 'timeout');
    return responded
      ? fail(`the download did not finish within ${seconds(timeoutMs)} (--timeout)`, 'timeout')
      : fail(`no response within ${seconds(timeoutMs)} (--timeout)`, 'timeout');
  };

  const hash = createHash('md5');
  const handle = await open(tmp, 'w');
  try {
    let response: Response;
    try {
      response = await doFetch(spec.url, { signal: controller.signal });
    } catch (error) {
      if (expired) throw timedOut();
      throw fail(describeNetworkError(error, spec.url), 'network');
    } finally {
      clearTimeout(connect);
    }
    responded = true;
    if (!response.ok || !response.body) {
      void response.body?.cancel().catch(() => undefined);
      throw fail(`the server answered HTTP ${response.status} ${response.statusText}`, 'http');
    }
    const length = Number(response.headers.get('content-length'));
    const total = Number.isFinite(length) && length > 0 ? length : undefined;
    if (total !== undefined && total > maxBytes) {
      void response.body.cancel().catch(() => undefined);
      throw fail(`the archive announces ${total} bytes, over the ${maxBytes} accepted`, 'http');
    }
    const interval = options.progressIntervalMs ?? 1000;
    let received = 0;
    let reported = -1;
    let lastReport = 0;
    const report = (force: boolean): void => {
      if (!options.onProgress || received === reported) return;
      const now = Date.now();
      if (!force && now - lastReport < interval) return;
      lastReport = now;
      reported = received;
      options.onProgress(received, total);
    };
    report(true);
    try {
      for await (const chunk of response.body as unknown as AsyncIterable<Uint8Array>) {
        received += chunk.byteLength;
        if (received > maxBytes) {
          controller.abort(new Error('too large'));
          throw new DownloadError(
            'http',
            `cannot download ${spec.name} from ${spec.url}: more than ${maxBytes} bytes received`,
          );
        }
        hash.update(chunk);
        try {
          await handle.write(chunk);
        } catch (error) {
          throw new DownloadError('io', `cannot write ${tmp}: ${(error as Error).message}`);
        }
        report(false);
      }
    } catch (error) {
      if (error instanceof DownloadError) throw error;
      if (expired) throw timedOut();
      throw fail(`the transfer broke off: ${describeNetworkError(error, spec.url)}`, 'network');
    }
    if (total !== undefined && received !== total) {
      throw fail(`the transfer ended after ${received} of ${total} bytes`, 'network');
    }
    report(true);
    await handle.sync();
    return hex(hash);
  } finally {
    clearTimeout(overall);
    clearTimeout(connect);
    await handle.close();
  }
}

/** Reads the marker of `dest`; verified when it names this archive's digest and every file matches. */
async function verifiedCopy(
  dest: string,
  spec: ArchiveSpec,
): Promise<
  { state: 'absent' } | { state: 'unverified'; why: string } | { state: 'verified'; marker: Marker }
> {
  try {
    await stat(dest);
  } catch {
    return { state: 'absent' };
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(await readFile(join(dest, MARKER_FILE), 'utf8'));
  } catch {
    return { state: 'unverified', why: `no readable ${MARKER_FILE}` };
  }
  const checked = markerSchema.safeParse(parsed);
  if (!checked.success) return { state: 'unverified', why: `${MARKER_FILE} is malformed` };
  const marker = checked.data;
  if (marker.dataset !== spec.name || marker.md5 !== spec.md5) {
    return {
      state: 'unverified',
      why: `${MARKER_FILE} records another archive (md5 ${marker.md5})`,
    };
  }
  for (const file of marker.files) {
    let rel: string | null;
    try {
      rel = safeEntryPath(file.path);
    } catch {
      return { state: 'unverified', why: `${MARKER_FILE} lists an unsafe path` };
    }
    if (rel === null) return { state: 'unverified', why: `${MARKER_FILE} lists an empty path` };
    try {
      const info = await stat(join(dest, rel));
      if (!info.isFile() || info.size !== file.bytes) {
        return { state: 'unverified', why: `${rel} changed since it was unpacked` };
      }
    } catch {
      return { state: 'unverified', why: `${rel} is missing` };
    }
  }
  if (!marker.files.some((f) => f.path === spec.ratingsFile)) {
    return { state: 'unverified', why: `${MARKER_FILE} does not list ${spec.ratingsFile}` };
  }
  return { state: 'verified', marker };
}

/**
 * Unpacks verified zip bytes into a temporary sibling of `dest`, writes the marker, then renames
 * it into place (replacing an existing folder only after the new one is complete).
 */
async function unpackAtomic(
  zip: Uint8Array,
  spec: ArchiveSpec,
  dest: string,
  where: string,
  maxBytes: number,
): Promise<number> {
  let declared = 0;
  let entries: Record<string, Uint8Array>;
  try {
    entries = unzipSync(zip, {
      filter: (file) => {
        safeEntryPath(file.name);
        declared += file.originalSize;
        if (declared > maxBytes) {
          throw new DownloadError('archive', `${where} unpacks to more than ${maxBytes} bytes`);
        }
        return true;
      },
    });
  } catch (error) {
    if (error instanceof DownloadError) throw error;
    throw new DownloadError(
      'archive',
      `${where} is not a readable zip archive: ${(error as Error).message}`,
    );
  }
  const files: Array<[string, Uint8Array]> = [];
  for (const [name, data] of Object.entries(entries)) {
    const rel = safeEntryPath(name);
    // Directory entries carry no data; macOS resource forks are not part of the dataset.
    if (rel === null || rel.startsWith('__MACOSX/')) continue;
    files.push([rel, data]);
  }
  // The official archives hold one folder named like the dataset: its content becomes `dest`.
  const prefix = `${spec.name}/`;
  const stripped = files.every(([rel]) => rel.startsWith(prefix));
  const planned = files.map(
    ([rel, data]) => [stripped ? rel.slice(prefix.length) : rel, data] as const,
  );
  const seen = new Set<string>();
  for (const [rel] of planned) {
    if (rel === '' || rel === MARKER_FILE) {
      throw new DownloadError(
        'archive',
        `${where} holds an unexpected entry ${JSON.stringify(rel)}`,
      );
    }
    if (seen.has(rel)) throw new DownloadError('archive', `${where} holds ${rel} twice`);
    seen.add(rel);
  }
  if (!seen.has(spec.ratingsFile)) {
    throw new DownloadError(
      'archive',
      `${where} has no ${spec.name}/${spec.ratingsFile}; is it the ${spec.name} archive?`,
    );
  }

  const parent = dirname(dest);
  const tag = `${process.pid}-${randomBytes(4).toString('hex')}`;
  const tmpDir = join(parent, `.${spec.name}.unpack-${tag}`);
  await mkdir(tmpDir, { recursive: true });
  try {
    const root = resolve(tmpDir);
    for (const [rel, data] of planned) {
      const target = resolve(root, rel);
      const inside = relative(root, target);
      if (inside === '' || inside.startsWith(`..${sep}`) || inside === '..' || isAbsolute(inside)) {
        throw new DownloadError('unsafe-entry', `unsafe entry ${JSON.stringify(rel)} in ${where}`);
      }
      await mkdir(dirname(target), { recursive: true });
      await writeFile(target, data, { flag: 'wx' });
    }
    const marker: Marker = {
      dataset: spec.name,
      url: spec.url,
      md5: spec.md5,
      unpackedAt: new Date().toISOString(),
      files: planned.map(([rel, data]) => ({ path: rel, bytes: data.byteLength })),
    };
    await writeFile(join(tmpDir, MARKER_FILE), `${JSON.stringify(marker, null, 2)}\n`);
    let old: string | undefined;
    try {
      await stat(dest);
      old = join(parent, `.${spec.name}.old-${tag}`);
      await rename(dest, old);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
    }
    try {
      await rename(tmpDir, dest);
    } catch (error) {
      if (old) await rename(old, dest).catch(() => undefined);
      throw error;
    }
    if (old) await rm(old, { recursive: true, force: true });
  } catch (error) {
    await rm(tmpDir, { recursive: true, force: true });
    throw error;
  }
  return planned.length;
}

/** Quotes a path for a POSIX shell when it needs it. */
function shellArg(value: string): string {
  return /^[\w@%+=:,./-]+$/.test(value) ? value : `'${value.replace(/'/g, `'\\''`)}'`;
}

/** The `data prepare` command that reads the unpacked ratings of `spec` under `dest`. */
export function nextCommand(spec: ArchiveSpec, dest: string): string {
  return `dnr-bench data prepare --format ${spec.format} --input ${shellArg(join(dest, spec.ratingsFile))}`;
}

/**
 * Downloads (or takes from `options.archive`) the archive of `name`, verifies its MD5, and unpacks
 * it into `<dir>/<name>/`. A folder that already holds a verified copy is kept (unless `force`);
 * a folder without one is never overwritten silently (an error asks for `force`).
 */
export async function downloadDataset(
  name: DatasetName,
  options: DownloadOptions,
): Promise<DownloadResult> {
  const spec = archiveSpec(name, options.source);
  const dest = join(options.dir, spec.name);
  const maxBytes = options.maxBytes ?? DEFAULT_MAX_BYTES;
  const log = options.log ?? (() => undefined);
  const result = (source: DownloadResult['source'], files: number): DownloadResult => ({
    dataset: spec.name,
    dest,
    ratingsPath: join(dest, spec.ratingsFile),
    format: spec.format,
    md5: spec.md5,
    files,
    source,
    next: nextCommand(spec, dest),
  });

  const existing = await verifiedCopy(dest, spec);
  if (!options.force) {
    if (existing.state === 'verified') return result('existing', existing.marker.files.length);
    if (existing.state === 'unverified') {
      throw new DownloadError(
        'exists',
        `${dest} exists but holds no verified copy of ${spec.name} (${existing.why}); ` +
          'pass --force to replace it, or --dir to unpack elsewhere',
      );
    }
  }

  await mkdir(options.dir, { recursive: true });
  let zip: Uint8Array;
  let where: string;
  if (options.archive !== undefined) {
    where = options.archive;
    zip = await readLocalArchive(options.archive, maxBytes);
    const actual = createHash('md5').update(zip).digest('hex');
    if (actual !== spec.md5) {
      checksumError(spec, `--archive ${options.archive}`, actual, '; is it the right file?');
    }
    log(`${spec.name}: ${options.archive} verified (md5 ${actual})`);
  } else {
    where = spec.url;
    const tmp = join(
      options.dir,
      `.${spec.name}.zip.${process.pid}-${randomBytes(4).toString('hex')}.part`,
    );
    try {
      log(`${spec.name}: downloading ${spec.url}`);
      const actual = await fetchToFile(spec, tmp, options, maxBytes);
      if (actual !== spec.md5) {
        checksumError(
          spec,
          spec.url,
          actual,
          '; the download was deleted (a proxy page or a changed archive?)',
        );
      }
      log(`${spec.name}: verified (md5 ${actual})`);
      zip = new Uint8Array(await readFile(tmp));
    } finally {
      await rm(tmp, { force: true });
    }
  }
  const files = await unpackAtomic(zip, spec, dest, where, maxBytes);
  log(`${spec.name}: unpacked ${files} files into ${dest}`);
  return result(options.archive !== undefined ? 'archive' : 'download', files);
}

/** `2.4 / 5.9 MB (41%)`, or `2.4 MB` without an announced total. */
export function formatProgress(received: number, total: number | undefined): string {
  const mb = (n: number): string => (n / 1e6).toFixed(1);
  if (total === undefined) return `${mb(received)} MB`;
  return `${mb(received)} / ${mb(total)} MB (${Math.floor((100 * received) / total)}%)`;
}

/** The terminal summary of a finished `data download`. */
export function formatDownloadSummary(result: DownloadResult): string {
  const what =
    result.source === 'existing'
      ? `${result.dest} already holds a verified copy (md5 ${result.md5}); --force downloads it again`
      : `verified (md5 ${result.md5}) and unpacked ${result.files} files into ${result.dest}`;
  return `${result.dataset}: ${what}\nnext: ${result.next}`;
}

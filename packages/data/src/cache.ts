/**
 * On-disk cache for typed-array bundles (datasets, trained retrievers...).
 *
 * File layout (all integers little-endian):
 *
 * ```
 * offset 0   8 bytes   magic "DNRCACHE"
 * offset 8   uint32    format version (CACHE_FORMAT_VERSION)
 * offset 12  uint32    header length h (bytes of UTF-8 JSON)
 * offset 16  32 bytes  sha256 of the header bytes
 * offset 48  h bytes   header JSON: { format, version, kind, key, fields[{name,dtype,length,offset}],
 *                      payloadBytes, payloadSha256, meta }
 * ...        zeros     up to payloadOffset = align64(48 + h)
 * payload    raw typed-array bytes; each field at payloadOffset + offset (offset 64-aligned)
 * ```
 *
 * The header and the payload are both checksummed; sizes are validated against the file size before
 * anything is allocated; the header is parsed with `JSON.parse` only (never evaluated). Writes go to a
 * temporary file in the same directory, are fsynced and then renamed over the target, so a reader
 * sees either the old file or the complete new one.
 */
import { createHash, randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import { endianness } from 'node:os';
import { dirname } from 'node:path';
import { RerankDatasetError, validateRerankDataset } from './dataset';
import type { RerankDataset } from './types';

/** Version of the binary layout written by {@link saveBundle}; files of another version are refused. */
export const CACHE_FORMAT_VERSION = 1;
const MAGIC = 'DNRCACHE';
const PREAMBLE = 48;
const ALIGN = 64;
/** Largest header accepted when loading (bytes). */
const MAX_HEADER_BYTES = 64 * 1024 * 1024;
const MAX_FIELDS = 4096;
const NAME_RE = /^[A-Za-z_][A-Za-z0-9_.-]{0,127}$/;
const CHUNK = 1 << 30;

/** Typed arrays a bundle can hold. */
export type TypedArray =
  | Int8Array
  | Uint8Array
  | Int16Array
  | Uint16Array
  | Int32Array
  | Uint32Array
  | Float32Array
  | Float64Array;

/** Element type names as written in the header. */
export type DType =
  'int8' | 'uint8' | 'int16' | 'uint16' | 'int32' | 'uint32' | 'float32' | 'float64';

type TypedCtor = {
  new (buffer: ArrayBuffer, offset: number, length: number): TypedArray;
  BYTES_PER_ELEMENT: number;
};

const DTYPES: Readonly<Record<DType, TypedCtor>> = {
  int8: Int8Array,
  uint8: Uint8Array,
  int16: Int16Array,
  uint16: Uint16Array,
  int32: Int32Array,
  uint32: Uint32Array,
  float32: Float32Array,
  float64: Float64Array,
};

function dtypeOf(a: unknown): DType | undefined {
  if (a instanceof Int8Array) return 'int8';
  if (a instanceof Uint8Array) return 'uint8';
  if (a instanceof Int16Array) return 'int16';
  if (a instanceof Uint16Array) return 'uint16';
  if (a instanceof Int32Array) return 'int32';
  if (a instanceof Uint32Array) return 'uint32';
  if (a instanceof Float32Array) return 'float32';
  if (a instanceof Float64Array) return 'float64';
  return undefined;
}

/** Why a cache file could not be used. */
export type CacheErrorReason =
  | 'missing'
  | 'io'
  | 'truncated'
  | 'bad-magic'
  | 'bad-version'
  | 'bad-header'
  | 'checksum'
  | 'wrong-kind'
  | 'stale-key'
  | 'invalid'
  | 'unsupported';

/** A cache file is missing, corrupt, stale or of the wrong kind; `reason` says which. */
export class CacheError extends Error {
  readonly reason: CacheErrorReason;
  readonly path: string;
  constructor(
    reason: CacheErrorReason,
    path: string,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(`cache ${path}: ${message}`, options);
    this.name = 'CacheError';
    this.reason = reason;
    this.path = path;
  }
}

// ---------------------------------------------------------------------------------------------
// Keys

/**
 * Canonical JSON of a value, for hashing: object keys sorted, no whitespace, `undefined` object
 * entries left out (as JSON does). Typed arrays / DataViews are replaced by
 * `{"$typed":"Float32Array","length":n,"sha256":"..."}` of their bytes. Throws TypeError on
 * non-finite numbers, bigint, functions, symbols, Map/Set and cycles (values JSON would silently
 * change).
 */
export function canonicalJson(value: unknown): string {
  const stack: object[] = [];
  const enc = (v: unknown, where: string): string => {
    if (v === null) return 'null';
    switch (typeof v) {
      case 'boolean':
      case 'string':
        return JSON.stringify(v);
      case 'number':
        if (!Number.isFinite(v)) throw new TypeError(`canonicalJson: ${where} is ${v}`);
        return JSON.stringify(v);
      case 'object':
        break;
      default:
        throw new TypeError(`canonicalJson: ${where} has unsupported type ${typeof v}`);
    }
    if (ArrayBuffer.isView(v)) {
      const bytes = new Uint8Array(v.buffer, v.byteOffset, v.byteLength);
      const length = 'length' in v ? (v as { length: number }).length : v.byteLength;
      return `{"$typed":${JSON.stringify(v.constructor.name)},"length":${length},"sha256":"${createHash('sha256').update(bytes).digest('hex')}"}`;
    }
    if (v instanceof Map || v instanceof Set) {
      throw new TypeError(`canonicalJson: ${where} is a Map/Set; convert it to an array or object`);
    }
    if (stack.includes(v)) throw new TypeError(`canonicalJson: ${where} is a cycle`);
    const toJSON = (v as { toJSON?: unknown }).toJSON;
    if (typeof toJSON === 'function') return enc(toJSON.call(v), where);
    stack.push(v);
    let out: string;
    if (Array.isArray(v)) {
      out = `[${v.map((x, i) => (x === undefined ? 'null' : enc(x, `${where}[${i}]`))).join(',')}]`;
    } else {
      const rec = v as Record<string, unknown>;
      const parts: string[] = [];
      for (const k of Object.keys(rec).sort()) {
        const x = rec[k];
        if (x === undefined) continue;
        parts.push(`${JSON.stringify(k)}:${enc(x, `${where}.${k}`)}`);
      }
      out = `{${parts.join(',')}}`;
    }
    stack.pop();
    return out;
  };
  return enc(value, 'value');
}

/**
 * A cache key: hex sha256 (64 chars) of `"dnr-cache-key/v<CACHE_FORMAT_VERSION>\n"` followed by
 * {@link canonicalJson}(parts). Equal inputs (up to key order) give equal keys; bumping the format
 * version invalidates every key.
 *
 * @example cacheKey({ dataset: 'ml-1m', kcore: 20, listSize: 50, seed: 1, retriever: retrieverKey })
 */
export function cacheKey(parts: unknown): string {
  return createHash('sha256')
    .update(`dnr-cache-key/v${CACHE_FORMAT_VERSION}\n`)
    .update(canonicalJson(parts))
    .digest('hex');
}

// ---------------------------------------------------------------------------------------------
// Atomic writes

function writeAll(fd: number, data: Uint8Array): void {
  let off = 0;
  while (off < data.byteLength) {
    off += fs.writeSync(fd, data, off, Math.min(CHUNK, data.byteLength - off));
  }
}

/**
 * Writes `chunks` to `path` atomically: into `path + '.tmp-<pid>-<random>'` in the same directory,
 * fsync, rename over `path`, then fsync the directory (best effort). Parent directories are
 * created. On failure the temporary file is removed and the old `path` (if any) is untouched.
 */
export function writeFileAtomic(path: string, chunks: Uint8Array | readonly Uint8Array[]): void {
  const dir = dirname(path);
  fs.mkdirSync(dir, { recursive: true });
  const tmp = `${path}.tmp-${process.pid}-${randomBytes(6).toString('hex')}`;
  let fd: number | undefined = fs.openSync(tmp, 'wx', 0o644);
  try {
    for (const c of chunks instanceof Uint8Array ? [chunks] : chunks) writeAll(fd, c);
    fs.fsyncSync(fd);
    fs.closeSync(fd);
    fd = undefined;
    fs.renameSync(tmp, path);
  } catch (e) {
    if (fd !== undefined) {
      try {
        fs.closeSync(fd);
      } catch {
        // already failing
      }
    }
    try {
      fs.unlinkSync(tmp);
    } catch {
      // nothing to remove
    }
    throw e;
  }
  try {
    const dfd = fs.openSync(dir, 'r');
    try {
      fs.fsyncSync(dfd);
    } finally {
      fs.closeSync(dfd);
    }
  } catch {
    // Directory fsync is not supported everywhere (e.g. Windows); the rename already happened.
  }
}

// ---------------------------------------------------------------------------------------------
// Bundles

/** A named set of typed arrays plus JSON metadata, the unit the cache stores. */
export interface ArrayBundle {
  /** What the bundle holds, e.g. `'rerank-dataset'` or `'mf-retriever'`; checked on load. */
  readonly kind: string;
  /** Arrays by name (names: letters, digits, `_ . -`, at most 128 chars). */
  readonly arrays: Readonly<Record<string, TypedArray>>;
  /** JSON-serializable metadata (finite numbers, strings, booleans, null, arrays, plain objects). */
  readonly meta: Readonly<Record<string, unknown>>;
}

/** One array's entry in the header. */
export interface CacheField {
  readonly name: string;
  readonly dtype: DType;
  /** Element count. */
  readonly length: number;
  /** Byte offset inside the payload (64-aligned). */
  readonly offset: number;
}

/** The parsed, validated header of a cache file. */
export interface CacheHeader {
  readonly format: 'dnr-cache';
  readonly version: number;
  readonly kind: string;
  /** The cache key the file was written under (null if none). */
  readonly key: string | null;
  readonly fields: readonly CacheField[];
  readonly payloadBytes: number;
  readonly payloadSha256: string;
  readonly meta: Readonly<Record<string, unknown>>;
  /** Absolute byte offset of the payload in the file. */
  readonly payloadOffset: number;
}

const align = (x: number): number => Math.ceil(x / ALIGN) * ALIGN;

function checkJsonValue(v: unknown, where: string): void {
  if (v === null || typeof v === 'string' || typeof v === 'boolean') return;
  if (typeof v === 'number') {
    if (!Number.isFinite(v)) throw new TypeError(`${where} is ${v}, which JSON cannot store`);
    return;
  }
  if (typeof v !== 'object')
    throw new TypeError(`${where} has type ${typeof v}, which JSON cannot store`);
  if (ArrayBuffer.isView(v))
    throw new TypeError(`${where} is a typed array; store it as an array of the bundle`);
  if (Array.isArray(v)) {
    v.forEach((x, i) => checkJsonValue(x, `${where}[${i}]`));
    return;
  }
  const proto = Object.getPrototypeOf(v) as unknown;
  if (proto !== Object.prototype && proto !== null) {
    throw new TypeError(`${where} is not a plain object`);
  }
  for (const [k, x] of Object.entries(v)) if (x !== undefined) checkJsonValue(x, `${where}.${k}`);
}

function checkLittleEndian(path: string): void {
  if (endianness() !== 'LE') {
    throw new CacheError('unsupported', path, 'the cache format is little-endian only');
  }
}

/** Options of {@link saveBundle}. */
export interface SaveOptions {
  /** Cache key stored in the header (see {@link cacheKey}); loaders can require it. */
  readonly key?: string;
}

/**
 * Saves a bundle atomically (see the module doc for the layout). Arrays are written as raw
 * little-endian bytes, each 64-byte aligned; header and payload carry sha256 checksums.
 *
 * @throws TypeError for bad names, non-typed arrays or non-JSON `meta`.
 */
export function saveBundle(path: string, bundle: ArrayBundle, options: SaveOptions = {}): void {
  checkLittleEndian(path);
  if (typeof bundle.kind !== 'string' || bundle.kind.length === 0) {
    throw new TypeError('saveBundle: kind must be a non-empty string');
  }
  checkJsonValue(bundle.meta, 'saveBundle: meta');
  const fields: CacheField[] = [];
  const views: Uint8Array[] = [];
  let offset = 0;
  for (const [name, arr] of Object.entries(bundle.arrays)) {
    if (!NAME_RE.test(name)) throw new TypeError(`saveBundle: bad array name '${name}'`);
    const dtype = dtypeOf(arr);
    if (!dtype) throw new TypeError(`saveBundle: arrays.${name} is not a supported typed array`);
    fields.push({ name, dtype, length: arr.length, offset });
    views.push(new Uint8Array(arr.buffer, arr.byteOffset, arr.byteLength));
    offset = align(offset + arr.byteLength);
  }
  const payloadBytes = offset;
  // Payload with padding: field bytes, then zeros up to the next field's offset.
  const chunks: Uint8Array[] = [];
  let pos = 0;
  fields.forEach((f, i) => {
    if (f.offset > pos) chunks.push(new Uint8Array(f.offset - pos));
    const v = views[i]!;
    chunks.push(v);
    pos = f.offset + v.byteLength;
  });
  if (payloadBytes > pos) chunks.push(new Uint8Array(payloadBytes - pos));
  const hash = createHash('sha256');
  for (const c of chunks) hash.update(c);
  const header = {
    format: 'dnr-cache',
    version: CACHE_FORMAT_VERSION,
    kind: bundle.kind,
    key: options.key ?? null,
    fields,
    payloadBytes,
    payloadSha256: hash.digest('hex'),
    meta: bundle.meta,
  };
  const headerBytes = Buffer.from(JSON.stringify(header), 'utf8');
  const payloadOffset = align(PREAMBLE + headerBytes.byteLength);
  const pre = Buffer.alloc(payloadOffset);
  pre.write(MAGIC, 0, 'latin1');
  pre.writeUInt32LE(CACHE_FORMAT_VERSION, 8);
  pre.writeUInt32LE(headerBytes.byteLength, 12);
  createHash('sha256').update(headerBytes).digest().copy(pre, 16);
  headerBytes.copy(pre, PREAMBLE);
  writeFileAtomic(path, [pre, ...chunks]);
}

function readExactly(fd: number, dst: Uint8Array, position: number): number {
  let got = 0;
  while (got < dst.byteLength) {
    const n = fs.readSync(fd, dst, got, Math.min(CHUNK, dst.byteLength - got), position + got);
    if (n === 0) break;
    got += n;
  }
  return got;
}

function openForRead(path: string): number {
  try {
    return fs.openSync(path, 'r');
  } catch (e) {
    const code = (e as { code?: string }).code;
    if (code === 'ENOENT') throw new CacheError('missing', path, 'no such file', { cause: e });
    throw new CacheError('io', path, `cannot open (${code ?? String(e)})`, { cause: e });
  }
}

function isSafeNonNegInt(x: unknown): x is number {
  return typeof x === 'number' && Number.isSafeInteger(x) && x >= 0;
}

/** Reads and validates the header from an open file (no payload read). */
function readHeaderFd(fd: number, path: string): CacheHeader {
  checkLittleEndian(path);
  const size = fs.fstatSync(fd).size;
  if (size < PREAMBLE)
    throw new CacheError(
      'truncated',
      path,
      `file has ${size} bytes, less than the ${PREAMBLE}-byte preamble`,
    );
  const pre = Buffer.alloc(PREAMBLE);
  if (readExactly(fd, pre, 0) !== PREAMBLE)
    throw new CacheError('truncated', path, 'short read of the preamble');
  if (pre.toString('latin1', 0, 8) !== MAGIC)
    throw new CacheError('bad-magic', path, 'not a DNR cache file (bad magic)');
  const version = pre.readUInt32LE(8);
  if (version !== CACHE_FORMAT_VERSION) {
    throw new CacheError(
      'bad-version',
      path,
      `format version ${version}, this library reads ${CACHE_FORMAT_VERSION}`,
    );
  }
  const h = pre.readUInt32LE(12);
  if (h === 0 || h > MAX_HEADER_BYTES)
    throw new CacheError('bad-header', path, `header length ${h} is out of range`);
  if (PREAMBLE + h > size)
    throw new CacheError(
      'truncated',
      path,
      `header of ${h} bytes runs past the end of the file (${size} bytes)`,
    );
  const hb = Buffer.alloc(h);
  if (readExactly(fd, hb, PREAMBLE) !== h)
    throw new CacheError('truncated', path, 'short read of the header');
  const hsum = createHash('sha256').update(hb).digest();
  if (!hsum.equals(pre.subarray(16, 48)))
    throw new CacheError('checksum', path, 'header checksum mismatch (corrupt header)');
  let raw: unknown;
  try {
    raw = JSON.parse(hb.toString('utf8'));
  } catch (e) {
    throw new CacheError('bad-header', path, 'header is not valid JSON', { cause: e });
  }
  const bad = (msg: string): never => {
    throw new CacheError('bad-header', path, msg);
  };
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) bad('header is not an object');
  const o = raw as Record<string, unknown>;
  if (o.format !== 'dnr-cache') bad(`header.format is ${JSON.stringify(o.format)}`);
  if (o.version !== CACHE_FORMAT_VERSION) bad(`header.version is ${JSON.stringify(o.version)}`);
  if (typeof o.kind !== 'string') bad('header.kind is not a string');
  if (o.key !== null && typeof o.key !== 'string') bad('header.key is not a string or null');
  if (!isSafeNonNegInt(o.payloadBytes)) bad('header.payloadBytes is not a non-negative integer');
  if (typeof o.payloadSha256 !== 'string' || !/^[0-9a-f]{64}$/.test(o.payloadSha256))
    bad('header.payloadSha256 is not a sha256 hex digest');
  if (typeof o.meta !== 'object' || o.meta === null || Array.isArray(o.meta))
    bad('header.meta is not an object');
  if (!Array.isArray(o.fields) || o.fields.length > MAX_FIELDS)
    bad('header.fields is not an array of at most 4096 entries');
  const payloadBytes = o.payloadBytes as number;
  const fields: CacheField[] = [];
  const names = new Set<string>();
  let end = 0;
  (o.fields as unknown[]).forEach((f, i) => {
    if (typeof f !== 'object' || f === null) bad(`header.fields[${i}] is not an object`);
    const r = f as Record<string, unknown>;
    if (typeof r.name !== 'string' || !NAME_RE.test(r.name) || names.has(r.name))
      bad(`header.fields[${i}].name is invalid or repeated`);
    const name = r.name as string;
    if (typeof r.dtype !== 'string' || !Object.hasOwn(DTYPES, r.dtype))
      bad(`header.fields[${i}] (${name}).dtype is invalid`);
    const dtype = r.dtype as DType;
    if (!isSafeNonNegInt(r.length) || !isSafeNonNegInt(r.offset))
      bad(`header.fields[${i}] (${name}) length/offset are not non-negative integers`);
    const length = r.length as number;
    const offset = r.offset as number;
    const bytes = length * DTYPES[dtype].BYTES_PER_ELEMENT;
    if (offset % ALIGN !== 0 || offset < end || offset + bytes > payloadBytes) {
      bad(
        `header.fields[${i}] (${name}) offset ${offset} / ${bytes} bytes do not fit the payload of ${payloadBytes} bytes`,
      );
    }
    end = offset + bytes;
    names.add(name);
    fields.push({ name, dtype, length, offset });
  });
  const payloadOffset = align(PREAMBLE + h);
  if (size < payloadOffset + payloadBytes) {
    throw new CacheError(
      'truncated',
      path,
      `file has ${size} bytes, header announces ${payloadOffset + payloadBytes}`,
    );
  }
  if (size > payloadOffset + payloadBytes) {
    throw new CacheError(
      'bad-header',
      path,
      `file has ${size} bytes, header announces ${payloadOffset + payloadBytes} (trailing bytes)`,
    );
  }
  return {
    format: 'dnr-cache',
    version: CACHE_FORMAT_VERSION,
    kind: o.kind as string,
    key: (o.key as string | null) ?? null,
    fields,
    payloadBytes,
    payloadSha256: o.payloadSha256 as string,
    meta: o.meta as Record<string, unknown>,
    payloadOffset,
  };
}

/** Reads and validates only the header of a cache file (cheap: does not read the payload). */
export function readCacheHeader(path: string): CacheHeader {
  const fd = openForRead(path);
  try {
    return readHeaderFd(fd, path);
  } finally {
    fs.closeSync(fd);
  }
}

/** Options of {@link loadBundle}. */
export interface LoadOptions {
  /** Required kind; a different one throws `CacheError('wrong-kind')`. */
  readonly kind?: string;
  /** Required key; a different one throws `CacheError('stale-key')` before the payload is read. */
  readonly key?: string;
}

/**
 * Loads a bundle written by {@link saveBundle}, verifying magic, version, header checksum, header
 * fields, file size and the payload checksum. The arrays are views into one freshly allocated,
 * 64-byte-aligned ArrayBuffer (no further copies).
 *
 * @throws CacheError with `reason` missing | truncated | bad-magic | bad-version | bad-header |
 *   checksum | wrong-kind | stale-key | io.
 */
export function loadBundle(
  path: string,
  options: LoadOptions = {},
): ArrayBundle & { key: string | null } {
  const fd = openForRead(path);
  try {
    const header = readHeaderFd(fd, path);
    if (options.kind !== undefined && header.kind !== options.kind) {
      throw new CacheError(
        'wrong-kind',
        path,
        `holds '${header.kind}', expected '${options.kind}'`,
      );
    }
    if (options.key !== undefined && header.key !== options.key) {
      throw new CacheError(
        'stale-key',
        path,
        `was written for key ${header.key ?? 'null'}, expected ${options.key}`,
      );
    }
    const buf = new ArrayBuffer(header.payloadBytes);
    const bytes = new Uint8Array(buf);
    if (readExactly(fd, bytes, header.payloadOffset) !== header.payloadBytes) {
      throw new CacheError('truncated', path, 'short read of the payload');
    }
    const sum = createHash('sha256').update(bytes).digest('hex');
    if (sum !== header.payloadSha256)
      throw new CacheError('checksum', path, 'payload checksum mismatch (corrupt data)');
    const arrays: Record<string, TypedArray> = {};
    for (const f of header.fields) arrays[f.name] = new DTYPES[f.dtype](buf, f.offset, f.length);
    return { kind: header.kind, key: header.key, arrays, meta: header.meta };
  } finally {
    fs.closeSync(fd);
  }
}

// ---------------------------------------------------------------------------------------------
// Datasets

/** The `kind` of dataset bundles. */
export const DATASET_KIND = 'rerank-dataset';

const DATASET_FIELDS: readonly (readonly [keyof RerankDataset, DType, boolean])[] = [
  ['user', 'int32', true],
  ['history', 'int32', true],
  ['historyCount', 'int32', true],
  ['items', 'int32', true],
  ['scores', 'float32', true],
  ['labels', 'uint8', true],
  ['split', 'uint8', true],
  ['trueProbs', 'float32', false],
  ['userFeatures', 'float32', false],
  ['itemFeatures', 'float32', false],
];

/**
 * Saves a RerankDataset atomically (kind `'rerank-dataset'`). Sizes go to the header, `ds.meta`
 * must be JSON-serializable. Extra fields beyond the RerankDataset contract are not stored.
 */
export function saveDataset(path: string, ds: RerankDataset, options: SaveOptions = {}): void {
  const arrays: Record<string, TypedArray> = {};
  for (const [name, , required] of DATASET_FIELDS) {
    const a = ds[name] as TypedArray | undefined;
    if (a === undefined) {
      if (required) throw new TypeError(`saveDataset: dataset.${name} is missing`);
      continue;
    }
    arrays[name] = a;
  }
  saveBundle(
    path,
    {
      kind: DATASET_KIND,
      arrays,
      meta: {
        dataset: {
          numUsers: ds.numUsers,
          numItems: ds.numItems,
          listSize: ds.listSize,
          historyLength: ds.historyLength,
          ...(ds.userFeatures ? { userFeatureDim: ds.userFeatureDim } : {}),
          ...(ds.itemFeatures ? { itemFeatureDim: ds.itemFeatureDim } : {}),
        },
        meta: ds.meta,
      },
    },
    options,
  );
}

/** Options of {@link loadDataset}. */
export interface LoadDatasetOptions {
  /** Required cache key (stale files throw `CacheError('stale-key')`). */
  readonly key?: string;
  /** Run {@link validateRerankDataset} on the loaded data (default true). */
  readonly validate?: boolean;
}

/**
 * Loads a dataset saved by {@link saveDataset}. Besides the bundle checks, verifies field dtypes
 * and (by default) the full {@link validateRerankDataset} contract; failures are
 * `CacheError('invalid')` naming the field.
 */
export function loadDataset(path: string, options: LoadDatasetOptions = {}): RerankDataset {
  const b = loadBundle(path, {
    kind: DATASET_KIND,
    ...(options.key !== undefined ? { key: options.key } : {}),
  });
  const info = b.meta.dataset as Record<string, unknown> | undefined;
  const meta = b.meta.meta as Record<string, unknown> | undefined;
  if (typeof info !== 'object' || info === null || typeof meta !== 'object' || meta === null) {
    throw new CacheError('invalid', path, 'header meta lacks dataset sizes or meta');
  }
  const out: Record<string, unknown> = {};
  for (const [name, dtype, required] of DATASET_FIELDS) {
    const a = b.arrays[name];
    if (a === undefined) {
      if (required) throw new CacheError('invalid', path, `dataset field '${name}' is missing`);
      continue;
    }
    if (dtypeOf(a) !== dtype)
      throw new CacheError(
        'invalid',
        path,
        `dataset field '${name}' has dtype ${dtypeOf(a)}, expected ${dtype}`,
      );
    out[name] = a;
  }
  for (const k of [
    'numUsers',
    'numItems',
    'listSize',
    'historyLength',
    'userFeatureDim',
    'itemFeatureDim',
  ]) {
    if (info[k] !== undefined) out[k] = info[k];
  }
  out.meta = meta;
  const ds = out as unknown as RerankDataset;
  if (options.validate ?? true) {
    try {
      validateRerankDataset(ds);
    } catch (e) {
      if (e instanceof RerankDatasetError)
        throw new CacheError('invalid', path, e.message, { cause: e });
      throw e;
    }
  }
  return ds;
}

/** Options of {@link loadOrBuild} and {@link loadOrBuildBundle}. */
export interface LoadOrBuildOptions {
  /**
   * Receives one line saying why the cache was (re)built or that a save failed. Default:
   * `console.warn` for stale, corrupt or unsaved files; silent on a plain cache miss.
   */
  readonly log?: (message: string, reason: CacheErrorReason | 'save-failed') => void;
}

function defaultLog(message: string, reason: CacheErrorReason | 'save-failed'): void {
  if (reason !== 'missing') console.warn(`[@dnr/data] ${message}`);
}

async function loadOrBuildGeneric<T>(
  path: string,
  load: () => T,
  build: () => T | Promise<T>,
  save: (value: T) => void,
  options: LoadOrBuildOptions,
): Promise<T> {
  const log = options.log ?? defaultLog;
  try {
    return load();
  } catch (e) {
    if (!(e instanceof CacheError)) throw e;
    const why =
      e.reason === 'missing' ? 'cache miss' : `unusable cache (${e.reason}): ${e.message}`;
    log(`${why}; building ${path}`, e.reason);
  }
  const value = await build();
  try {
    save(value);
  } catch (e) {
    log(`could not save ${path}: ${(e as Error).message}`, 'save-failed');
  }
  return value;
}

/**
 * Returns the dataset cached at `path` under `key`, or builds, saves (atomically) and returns it.
 * A missing, stale (other key), corrupt or invalid file is rebuilt, and `options.log` says why.
 * A failed save is logged, not thrown (the built dataset is still returned).
 *
 * @param key usually {@link cacheKey} of everything the dataset depends on.
 */
export function loadOrBuild(
  path: string,
  key: string,
  build: () => RerankDataset | Promise<RerankDataset>,
  options: LoadOrBuildOptions = {},
): Promise<RerankDataset> {
  return loadOrBuildGeneric(
    path,
    () => loadDataset(path, { key }),
    build,
    (ds) => saveDataset(path, ds, { key }),
    options,
  );
}

/**
 * {@link loadOrBuild} for any bundle (e.g. a trained retriever's weights): loads `path` when its
 * kind and key match, else builds, saves and returns the bundle.
 */
export function loadOrBuildBundle(
  path: string,
  key: string,
  kind: string,
  build: () => ArrayBundle | Promise<ArrayBundle>,
  options: LoadOrBuildOptions = {},
): Promise<ArrayBundle> {
  return loadOrBuildGeneric<ArrayBundle>(
    path,
    () => loadBundle(path, { kind, key }),
    async () => {
      const b = await build();
      if (b.kind !== kind)
        throw new TypeError(
          `loadOrBuildBundle: build() returned kind '${b.kind}', expected '${kind}'`,
        );
      return b;
    },
    (b) => saveBundle(path, b, { key }),
    options,
  );
}

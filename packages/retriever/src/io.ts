import { mkdir, readFile, rename, unlink, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import type { MFModel } from './mf';

/** The 8 ASCII bytes every serialized MF model starts with. */
export const MF_MAGIC = 'DNRMFBIN';
/** Current version of the binary format. */
export const MF_FORMAT_VERSION = 1;

/** The JSON header of a serialized model. */
export interface MFFileHeader {
  format: 'dnr-mf';
  version: number;
  numUsers: number;
  numItems: number;
  dim: number;
  dtype: 'float32';
  byteOrder: 'little';
  /** Payload bytes after the header: 4 * (numUsers*dim + numItems*dim + numUsers + numItems + 1). */
  payloadBytes: number;
  /** CRC-32 (IEEE) of the payload, 8 lowercase hex digits. */
  crc32: string;
  meta: Record<string, unknown>;
}

let crcTable: Uint32Array | undefined;

/** CRC-32 (IEEE 802.3, as in zlib/PNG) of `bytes`. */
export function crc32(bytes: Uint8Array): number {
  if (crcTable === undefined) {
    crcTable = new Uint32Array(256);
    for (let n = 0; n < 256; n++) {
      let c = n;
      for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
      crcTable[n] = c >>> 0;
    }
  }
  const t = crcTable;
  let c = 0xffffffff;
  for (let k = 0; k < bytes.length; k++) c = t[(c ^ bytes[k]!) & 0xff]! ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

const LITTLE_ENDIAN_HOST = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

function parts(model: MFModel): Float32Array[] {
  return [model.userEmb, model.itemEmb, model.userBias, model.itemBias, model.globalBias];
}

function payloadFloats(numUsers: number, numItems: number, dim: number): number {
  return numUsers * dim + numItems * dim + numUsers + numItems + 1;
}

/**
 * Serializes a model: magic (8 bytes) | header length (uint32 LE) | JSON header (space-padded to
 * a 4-byte boundary) | float32 LE payload (userEmb, itemEmb, userBias, itemBias, globalBias).
 * @returns the bytes (a fresh Uint8Array).
 */
export function serializeMF(model: MFModel): Uint8Array {
  const { numUsers, numItems, dim } = model;
  const nFloats = payloadFloats(numUsers, numItems, dim);
  const arrays = parts(model);
  const expected = [numUsers * dim, numItems * dim, numUsers, numItems, 1];
  arrays.forEach((a, k) => {
    if (a.length !== expected[k]) {
      throw new RangeError(
        `serializeMF: parameter ${k} has ${a.length} values, expected ${expected[k]} for ` +
          `${numUsers} users, ${numItems} items, dim ${dim}`,
      );
    }
  });
  const payload = new Uint8Array(nFloats * 4);
  let off = 0;
  if (LITTLE_ENDIAN_HOST) {
    const f = new Float32Array(payload.buffer);
    for (const a of arrays) {
      f.set(a, off);
      off += a.length;
    }
  } else {
    const view = new DataView(payload.buffer);
    for (const a of arrays)
      for (let k = 0; k < a.length; k++, off++) view.setFloat32(off * 4, a[k]!, true);
  }
  const header: MFFileHeader = {
    format: 'dnr-mf',
    version: MF_FORMAT_VERSION,
    numUsers,
    numItems,
    dim,
    dtype: 'float32',
    byteOrder: 'little',
    payloadBytes: payload.length,
    crc32: crc32(payload).toString(16).padStart(8, '0'),
    meta: model.meta,
  };
  let json = JSON.stringify(header);
  const enc = new TextEncoder();
  let hb = enc.encode(json);
  const pad = (4 - ((12 + hb.length) % 4)) % 4;
  if (pad > 0) {
    json += ' '.repeat(pad);
    hb = enc.encode(json);
  }
  const out = new Uint8Array(12 + hb.length + payload.length);
  out.set(enc.encode(MF_MAGIC), 0);
  new DataView(out.buffer).setUint32(8, hb.length, true);
  out.set(hb, 12);
  out.set(payload, 12 + hb.length);
  return out;
}

function bad(source: string, msg: string): Error {
  return new Error(`${source}: not a valid DNR MF model: ${msg}`);
}

function checkInt(source: string, header: Record<string, unknown>, field: string): number {
  const v = header[field];
  if (typeof v !== 'number' || !Number.isInteger(v) || v <= 0) {
    throw bad(
      source,
      `header field '${field}' must be a positive integer, got ${JSON.stringify(v)}`,
    );
  }
  return v;
}

/**
 * Parses bytes written by {@link serializeMF}, validating magic, version, sizes, checksum and that
 * every parameter is finite before building the model.
 * @param source a name for error messages (e.g. the file path)
 * @throws Error naming `source` and the failed check.
 */
export function deserializeMF(bytes: Uint8Array, source = 'bytes'): MFModel {
  if (bytes.length < 12)
    throw bad(source, `only ${bytes.length} bytes, too short for the preamble`);
  const magic = new TextDecoder().decode(bytes.subarray(0, 8));
  if (magic !== MF_MAGIC)
    throw bad(source, `bad magic ${JSON.stringify(magic)} (expected ${MF_MAGIC})`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const hlen = view.getUint32(8, true);
  if (12 + hlen > bytes.length) {
    throw bad(
      source,
      `header length ${hlen} exceeds the ${bytes.length - 12} bytes after the preamble`,
    );
  }
  let header: Record<string, unknown>;
  try {
    const parsed: unknown = JSON.parse(
      new TextDecoder('utf-8', { fatal: true }).decode(bytes.subarray(12, 12 + hlen)),
    );
    if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed))
      throw new Error('not an object');
    header = parsed as Record<string, unknown>;
  } catch (e) {
    throw bad(source, `header is not a JSON object (${(e as Error).message})`);
  }
  if (header.format !== 'dnr-mf')
    throw bad(source, `format ${JSON.stringify(header.format)}, expected "dnr-mf"`);
  if (header.version !== MF_FORMAT_VERSION) {
    throw bad(
      source,
      `unsupported version ${JSON.stringify(header.version)} (this reader supports ${MF_FORMAT_VERSION})`,
    );
  }
  if (header.dtype !== 'float32' || header.byteOrder !== 'little') {
    throw bad(
      source,
      `dtype/byteOrder must be float32/little, got ${String(header.dtype)}/${String(header.byteOrder)}`,
    );
  }
  const numUsers = checkInt(source, header, 'numUsers');
  const numItems = checkInt(source, header, 'numItems');
  const dim = checkInt(source, header, 'dim');
  const nFloats = payloadFloats(numUsers, numItems, dim);
  const payloadBytes = bytes.length - 12 - hlen;
  if (header.payloadBytes !== nFloats * 4 || payloadBytes !== nFloats * 4) {
    throw bad(
      source,
      `payload is ${payloadBytes} bytes, header says ${String(header.payloadBytes)}, ` +
        `sizes (${numUsers} users, ${numItems} items, dim ${dim}) need ${nFloats * 4}`,
    );
  }
  const payload = bytes.subarray(12 + hlen);
  const crc = crc32(payload).toString(16).padStart(8, '0');
  if (header.crc32 !== crc) {
    throw bad(
      source,
      `checksum mismatch: header ${String(header.crc32)}, payload ${crc} (file corrupted?)`,
    );
  }
  const meta = header.meta;
  if (meta === null || typeof meta !== 'object' || Array.isArray(meta)) {
    throw bad(source, 'header field "meta" must be an object');
  }
  const all = new Float32Array(nFloats);
  if (LITTLE_ENDIAN_HOST) {
    new Uint8Array(all.buffer).set(payload);
  } else {
    const pv = new DataView(payload.buffer, payload.byteOffset, payload.byteLength);
    for (let k = 0; k < nFloats; k++) all[k] = pv.getFloat32(k * 4, true);
  }
  for (let k = 0; k < nFloats; k++) {
    if (!Number.isFinite(all[k]!)) throw bad(source, `parameter ${k} is not finite (${all[k]})`);
  }
  let o = 0;
  const take = (n: number): Float32Array => all.subarray(o, (o += n));
  return {
    numUsers,
    numItems,
    dim,
    userEmb: take(numUsers * dim),
    itemEmb: take(numItems * dim),
    userBias: take(numUsers),
    itemBias: take(numItems),
    globalBias: take(1),
    meta: meta as Record<string, unknown>,
  };
}

let tmpCounter = 0;

/**
 * Writes a model atomically: serialize, write `<path>.<pid>.<time>.<n>.tmp`, then rename over
 * `path` (parent directories are created). A crash never leaves a half-written `path`.
 */
export async function saveMF(path: string, model: MFModel): Promise<void> {
  const bytes = serializeMF(model);
  await mkdir(dirname(path), { recursive: true });
  const tmp = `${path}.${process.pid}.${Date.now()}.${tmpCounter++}.tmp`;
  try {
    await writeFile(tmp, bytes);
    await rename(tmp, path);
  } catch (e) {
    await unlink(tmp).catch(() => undefined);
    throw e;
  }
}

/** Reads and validates a model written by {@link saveMF}. @throws Error naming the path and the failed check. */
export async function loadMF(path: string): Promise<MFModel> {
  const buf = await readFile(path);
  return deserializeMF(new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength), path);
}

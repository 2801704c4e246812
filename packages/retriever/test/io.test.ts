import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import {
  crc32,
  createMF,
  deserializeMF,
  loadMF,
  MF_MAGIC,
  saveMF,
  serializeMF,
  trainMF,
} from '../src/index';
import { plantedWorld, worldPairs } from './helpers';

const dirs: string[] = [];
afterAll(async () => {
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});

function model() {
  const m = createMF(3, 4, { dim: 5, initStd: 0.1, seed: 2 });
  m.userBias.set([0.5, -1, 2]);
  m.globalBias[0] = -0.25;
  m.meta.note = 'fixture';
  return m;
}

/** Replaces `from` by `to` (same length) inside the JSON header of `bytes`. */
function patchHeader(bytes: Uint8Array, from: string, to: string): Uint8Array {
  const hlen = new DataView(bytes.buffer, bytes.byteOffset).getUint32(8, true);
  const json = new TextDecoder().decode(bytes.subarray(12, 12 + hlen));
  expect(json).toContain(from);
  const patched = new TextEncoder().encode(json.replace(from, to));
  expect(patched.length).toBe(hlen);
  const out = bytes.slice();
  out.set(patched, 12);
  return out;
}

describe('serializeMF / deserializeMF', () => {
  it('round-trips every parameter and the meta exactly', () => {
    const m = model();
    const bytes = serializeMF(m);
    expect(new TextDecoder().decode(bytes.subarray(0, 8))).toBe(MF_MAGIC);
    const payloadFloats = 3 * 5 + 4 * 5 + 3 + 4 + 1;
    const hlen = new DataView(bytes.buffer).getUint32(8, true);
    expect((12 + hlen) % 4).toBe(0);
    expect(bytes.length).toBe(12 + hlen + payloadFloats * 4);
    const back = deserializeMF(bytes);
    expect(back.dim).toBe(5);
    expect(Array.from(back.userEmb)).toEqual(Array.from(m.userEmb));
    expect(Array.from(back.itemEmb)).toEqual(Array.from(m.itemEmb));
    expect(Array.from(back.userBias)).toEqual([0.5, -1, 2]);
    expect(back.globalBias[0]).toBe(-0.25);
    expect(back.meta).toEqual({ note: 'fixture' });
    expect(serializeMF(back)).toEqual(bytes);
  });

  it('computes the standard CRC-32', () => {
    expect(crc32(new TextEncoder().encode('123456789'))).toBe(0xcbf43926);
  });

  it('rejects corrupted or foreign bytes with a clear reason', () => {
    const bytes = serializeMF(model());
    expect(() => deserializeMF(bytes.subarray(0, 5), 'm.bin')).toThrow(/m\.bin: .*too short/);
    const magic = bytes.slice();
    magic[0] = 0x58;
    expect(() => deserializeMF(magic)).toThrow(/bad magic/);
    const flipped = bytes.slice();
    flipped[bytes.length - 3]! ^= 0x10;
    expect(() => deserializeMF(flipped)).toThrow(/checksum mismatch/);
    expect(() => deserializeMF(bytes.subarray(0, bytes.length - 4))).toThrow(/payload is/);
    expect(() => deserializeMF(patchHeader(bytes, '"version":1', '"version":9'))).toThrow(
      /unsupported version 9/,
    );
    expect(() => deserializeMF(patchHeader(bytes, '"numUsers":3', '"numUsers":2'))).toThrow(/need/);
    expect(() => deserializeMF(patchHeader(bytes, '"dim":5', '"dim":0'))).toThrow(/'dim'/);
    const hugeHeader = bytes.slice();
    new DataView(hugeHeader.buffer).setUint32(8, 1e6, true);
    expect(() => deserializeMF(hugeHeader)).toThrow(/header length/);
    expect(() => deserializeMF(patchHeader(bytes, '{"format"', '["format"'))).toThrow(/JSON/);
  });

  it('rejects non-finite parameters even with a matching checksum', () => {
    const m = model();
    m.itemBias[1] = NaN;
    expect(() => deserializeMF(serializeMF(m))).toThrow(/not finite/);
  });
});

describe('saveMF / loadMF', () => {
  it('writes atomically (no temp file left) and loads the same model', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'dnr-mf-'));
    dirs.push(dir);
    const world = plantedWorld({ numUsers: 10, numItems: 20, perUser: 8, seed: 1 });
    const cfg = { dim: 4, epochs: 2, seed: 3 };
    const a = trainMF(worldPairs(world, 0, 8), cfg).model;
    const path = join(dir, 'sub', 'mf.bin');
    await saveMF(path, a);
    await saveMF(path, a); // overwrite
    expect(await readdir(join(dir, 'sub'))).toEqual(['mf.bin']);
    const back = await loadMF(path);
    expect(serializeMF(back)).toEqual(serializeMF(a));
    expect((back.meta.config as { seed: number }).seed).toBe(3);
    // same seed -> same model -> same bytes on disk
    const b = trainMF(worldPairs(world, 0, 8), cfg).model;
    expect(new Uint8Array(await readFile(path))).toEqual(serializeMF(b));
    await writeFile(join(dir, 'bad.bin'), 'hello world, not a model');
    await expect(loadMF(join(dir, 'bad.bin'))).rejects.toThrow(/bad\.bin: .*bad magic/);
    await expect(loadMF(join(dir, 'missing.bin'))).rejects.toThrow(/ENOENT/);
  });
});

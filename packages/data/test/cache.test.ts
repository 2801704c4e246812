import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import {
  CacheError,
  cacheKey,
  canonicalJson,
  generateLabDataset,
  loadBundle,
  loadDataset,
  loadOrBuild,
  loadOrBuildBundle,
  readCacheHeader,
  saveBundle,
  saveDataset,
  writeFileAtomic,
} from '../src/index';
import type { CacheErrorReason, RerankDataset } from '../src/index';

const dir = fs.mkdtempSync(join(tmpdir(), 'dnr-cache-test-'));
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

const small = generateLabDataset({
  seed: 5,
  numUsers: 20,
  numItems: 60,
  trainLists: 30,
  validationLists: 5,
  testLists: 5,
  listSize: 10,
  historyLength: 4,
});

function expectSame(a: RerankDataset, b: RerankDataset): void {
  for (const k of ['numUsers', 'numItems', 'listSize', 'historyLength'] as const) {
    expect(b[k]).toBe(a[k]);
  }
  for (const k of [
    'user',
    'history',
    'historyCount',
    'items',
    'scores',
    'labels',
    'split',
    'trueProbs',
    'userFeatures',
    'itemFeatures',
  ] as const) {
    const x = a[k];
    const y = b[k];
    expect(y?.constructor).toBe(x?.constructor);
    expect(Array.from(y ?? [])).toEqual(Array.from(x ?? []));
  }
  expect(b.userFeatureDim).toBe(a.userFeatureDim);
  expect(b.itemFeatureDim).toBe(a.itemFeatureDim);
  expect(b.meta).toEqual(JSON.parse(JSON.stringify(a.meta)));
}

function reasonOf(fn: () => unknown): CacheErrorReason | undefined {
  try {
    fn();
  } catch (e) {
    if (e instanceof CacheError) return e.reason;
    throw e;
  }
  return undefined;
}

describe('cacheKey / canonicalJson', () => {
  it('is stable under key order and sensitive to values', () => {
    expect(canonicalJson({ b: 1, a: [1, 'x', null, { d: true, c: 2 }] })).toBe(
      '{"a":[1,"x",null,{"c":2,"d":true}],"b":1}',
    );
    expect(cacheKey({ a: 1, b: { c: 2 } })).toBe(cacheKey({ b: { c: 2 }, a: 1 }));
    expect(cacheKey({ a: 1 })).not.toBe(cacheKey({ a: 2 }));
    expect(cacheKey({ a: 1, u: undefined })).toBe(cacheKey({ a: 1 }));
    expect(cacheKey({ a: 1 })).toMatch(/^[0-9a-f]{64}$/);
  });

  it('hashes typed-array contents and rejects values JSON would mangle', () => {
    const x = Float32Array.from([1, 2, 3]);
    expect(cacheKey({ x })).toBe(cacheKey({ x: Float32Array.from([1, 2, 3]) }));
    expect(cacheKey({ x })).not.toBe(cacheKey({ x: Float32Array.from([1, 2, 4]) }));
    expect(cacheKey({ x })).not.toBe(cacheKey({ x: Int32Array.from([1, 2, 3]) }));
    expect(() => cacheKey({ a: Number.NaN })).toThrow(/value\.a is NaN/);
    expect(() => cacheKey({ f: () => 1 })).toThrow(/function/);
    expect(() => cacheKey(new Map())).toThrow(/Map/);
    const cyc: Record<string, unknown> = {};
    cyc.self = cyc;
    expect(() => cacheKey(cyc)).toThrow(/cycle/);
  });
});

describe('saveDataset / loadDataset', () => {
  it('round-trips a dataset exactly, with aligned zero-copy views', () => {
    const p = join(dir, 'rt', 'lab.dnrc');
    saveDataset(p, small, { key: 'k1' });
    const back = loadDataset(p, { key: 'k1' });
    expectSame(small, back);
    expect(back.scores.byteOffset % 64).toBe(0);
    const h = readCacheHeader(p);
    expect(h.kind).toBe('rerank-dataset');
    expect(h.key).toBe('k1');
    expect(h.fields.map((f) => f.name)).toContain('itemFeatures');
    // No temporary files are left behind.
    expect(fs.readdirSync(join(dir, 'rt'))).toEqual(['lab.dnrc']);
  });

  it('refuses a stale key or the wrong kind before reading the payload', () => {
    const p = join(dir, 'stale.dnrc');
    saveDataset(p, small, { key: 'old' });
    expect(reasonOf(() => loadDataset(p, { key: 'new' }))).toBe('stale-key');
    saveBundle(p, { kind: 'mf-retriever', arrays: { w: new Float32Array(4) }, meta: {} });
    expect(reasonOf(() => loadDataset(p))).toBe('wrong-kind');
    expect(reasonOf(() => loadDataset(join(dir, 'none.dnrc')))).toBe('missing');
  });

  it('detects truncation at any offset', () => {
    const p = join(dir, 'trunc.dnrc');
    saveDataset(p, small);
    const bytes = fs.readFileSync(p);
    const q = join(dir, 'trunc-cut.dnrc');
    const h = readCacheHeader(p);
    const cuts = [0, 7, 20, 47, 100, h.payloadOffset, h.payloadOffset + 1, bytes.length - 1];
    for (const cut of cuts) {
      fs.writeFileSync(q, bytes.subarray(0, cut));
      const r = reasonOf(() => loadDataset(q));
      expect(r, `cut at ${cut}`).toBeDefined();
      expect(['truncated', 'bad-magic']).toContain(r);
    }
    fs.writeFileSync(q, Buffer.concat([bytes, Buffer.from([0])]));
    expect(reasonOf(() => loadDataset(q))).toBe('bad-header');
  });

  it('detects flipped payload and header bytes and a corrupt preamble', () => {
    const p = join(dir, 'flip.dnrc');
    saveDataset(p, small);
    const bytes = fs.readFileSync(p);
    const h = readCacheHeader(p);
    const q = join(dir, 'flip-bad.dnrc');
    const flip = (offset: number): CacheErrorReason | undefined => {
      const b = Buffer.from(bytes);
      b[offset] = b[offset]! ^ 0x5a;
      fs.writeFileSync(q, b);
      return reasonOf(() => loadDataset(q));
    };
    expect(flip(h.payloadOffset + 3)).toBe('checksum');
    expect(flip(bytes.length - 1)).toBe('checksum');
    expect(flip(60)).toBe('checksum'); // inside the header JSON
    expect(flip(20)).toBe('checksum'); // the header checksum itself
    expect(flip(0)).toBe('bad-magic');
    expect(flip(8)).toBe('bad-version');
    // A huge announced header length is refused without allocating it.
    const b = Buffer.from(bytes);
    b.writeUInt32LE(0xfffffff0, 12);
    fs.writeFileSync(q, b);
    expect(reasonOf(() => loadDataset(q))).toBe('bad-header');
  });

  it('refuses a well-formed file whose header lies about sizes', () => {
    // Rewrite the header with a field longer than the payload, re-checksummed.
    const p = join(dir, 'lie.dnrc');
    saveBundle(p, { kind: 'x', arrays: { a: Int32Array.from([1, 2, 3]) }, meta: {} });
    const bytes = fs.readFileSync(p);
    const hlen = bytes.readUInt32LE(12);
    const header = JSON.parse(bytes.toString('utf8', 48, 48 + hlen)) as {
      fields: { length: number }[];
    };
    header.fields[0]!.length = 1e12;
    const hb = Buffer.from(JSON.stringify(header));
    const pre = Buffer.alloc(48);
    bytes.copy(pre, 0, 0, 48);
    pre.writeUInt32LE(hb.length, 12);
    createHash('sha256').update(hb).digest().copy(pre, 16);
    fs.writeFileSync(join(dir, 'lie2.dnrc'), Buffer.concat([pre, hb]));
    const r = reasonOf(() => loadBundle(join(dir, 'lie2.dnrc')));
    expect(r).toBe('bad-header');
  });

  it('validates the loaded dataset contract', () => {
    const p = join(dir, 'invalid.dnrc');
    const bad = { ...small, labels: Uint8Array.from(small.labels) };
    bad.labels[0] = 7;
    saveDataset(p, bad);
    expect(reasonOf(() => loadDataset(p))).toBe('invalid');
    expect(() => loadDataset(p)).toThrow(/labels\[0\]/);
    expect(loadDataset(p, { validate: false }).labels[0]).toBe(7);
  });
});

describe('atomic writes', () => {
  it('an interrupted write leaves the old file loadable and no partial file under the name', () => {
    const p = join(dir, 'atomic.dnrc');
    saveDataset(p, small, { key: 'v1' });
    // Simulate a crash mid-write: a partial temporary file next to the target.
    const full = fs.readFileSync(p);
    const tmp = `${p}.tmp-999-deadbeef`;
    fs.writeFileSync(tmp, full.subarray(0, full.length >> 1));
    expect(loadDataset(p, { key: 'v1' }).items.length).toBe(small.items.length);
    expect(reasonOf(() => loadDataset(tmp))).toBe('truncated');
    fs.unlinkSync(tmp);
  });

  it('removes its temporary file when the rename fails', () => {
    const target = join(dir, 'is-a-dir');
    fs.mkdirSync(join(target, 'child'), { recursive: true });
    expect(() => writeFileAtomic(target, new Uint8Array([1, 2, 3]))).toThrow();
    expect(fs.readdirSync(dir).filter((f) => f.startsWith('is-a-dir.tmp-'))).toEqual([]);
  });
});

describe('loadOrBuild', () => {
  it('builds on a miss, loads on a hit, rebuilds a stale or corrupt file and says why', async () => {
    const p = join(dir, 'lob.dnrc');
    const logs: [string, string][] = [];
    const log = (m: string, r: string) => logs.push([r, m]);
    let builds = 0;
    const build = () => {
      builds++;
      return small;
    };
    const a = await loadOrBuild(p, 'key-a', build, { log });
    expect(builds).toBe(1);
    expect(logs[0]![0]).toBe('missing');
    const b = await loadOrBuild(p, 'key-a', build, { log });
    expect(builds).toBe(1);
    expectSame(a, b);
    await loadOrBuild(p, 'key-b', async () => build(), { log });
    expect(builds).toBe(2);
    expect(logs[1]![0]).toBe('stale-key');
    expect(logs[1]![1]).toMatch(/key-a.*key-b/);
    const bytes = fs.readFileSync(p);
    bytes[bytes.length - 5] = bytes[bytes.length - 5]! ^ 1;
    fs.writeFileSync(p, bytes);
    await loadOrBuild(p, 'key-b', build, { log });
    expect(builds).toBe(3);
    expect(logs[2]![0]).toBe('checksum');
    await loadOrBuild(p, 'key-b', build, { log });
    expect(builds).toBe(3);
    expect(logs.length).toBe(3);
  });

  it('caches generic bundles (e.g. model weights) the same way', async () => {
    const p = join(dir, 'model.dnrc');
    const w = Float64Array.from([0.5, -1.25, 3]);
    const mk = () => ({ kind: 'mf', arrays: { w, b: Int8Array.from([-1, 2]) }, meta: { dim: 3 } });
    let builds = 0;
    const first = await loadOrBuildBundle(p, 'k', 'mf', () => (builds++, mk()), { log: () => {} });
    const second = await loadOrBuildBundle(p, 'k', 'mf', () => (builds++, mk()), { log: () => {} });
    expect(builds).toBe(1);
    expect(first.arrays.w).toBe(w);
    expect(Array.from(second.arrays.w!)).toEqual([0.5, -1.25, 3]);
    expect(second.arrays.b).toBeInstanceOf(Int8Array);
    expect(Array.from(second.arrays.b!)).toEqual([-1, 2]);
    expect(second.meta).toEqual({ dim: 3 });
    expect(() =>
      saveBundle(p, { kind: 'mf', arrays: {}, meta: { x: Number.POSITIVE_INFINITY } }),
    ).toThrow(/meta\.x is Infinity/);
    expect(() =>
      saveBundle(p, { kind: 'mf', arrays: { 'bad name': new Uint8Array(1) }, meta: {} }),
    ).toThrow(/bad array name/);
  });
});

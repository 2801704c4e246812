import type { NamedWeight } from './engine/params';
import { createReranker } from './registry';
import type { Reranker, RerankerConfig } from './reranker';

/** A reranker as plain data: enough to rebuild it with {@link loadReranker}. */
export interface SerializedReranker {
  format: 'dnr-reranker';
  version: 1;
  name: string;
  config: RerankerConfig;
  weights: NamedWeight[];
}

const MAGIC = [0x44, 0x4e, 0x52, 0x52]; // "DNRR"
const VERSION = 1;

/** Copies a reranker's name, config and weights out. */
export function serializeReranker(model: Reranker): SerializedReranker {
  return {
    format: 'dnr-reranker',
    version: 1,
    name: model.name,
    config: JSON.parse(JSON.stringify(model.config)) as RerankerConfig,
    weights: model.getWeights(),
  };
}

/**
 * Builds the registered reranker named in `data` from its config and assigns the weights.
 * A weight whose shape differs from the model built from the config throws an error naming the
 * weight and both shapes (the half-built model is disposed).
 */
export function loadReranker(data: SerializedReranker): Reranker {
  if (data.format !== 'dnr-reranker')
    throw new Error(`not a dnr-reranker (format '${String(data.format)}')`);
  if (data.version !== 1)
    throw new Error(`unsupported dnr-reranker version ${String(data.version)}`);
  const model = createReranker(data.name, data.config);
  try {
    model.setWeights(data.weights);
  } catch (e) {
    model.dispose();
    throw e;
  }
  return model;
}

interface HeaderWeight {
  name: string;
  shape: number[];
  offset: number;
  length: number;
}

/**
 * Binary form: `"DNRR"` magic, uint32 version, uint32 header byte length, UTF-8 JSON header
 * `{format, version, name, config, weights: [{name, shape, offset, length}]}`, zero padding to a
 * multiple of 4, then the float32 values (little-endian) of every weight, in header order.
 */
export function encodeReranker(data: SerializedReranker): Uint8Array {
  let offset = 0;
  const headerWeights: HeaderWeight[] = data.weights.map((w) => {
    const hw = { name: w.name, shape: [...w.shape], offset, length: w.data.length };
    offset += w.data.length;
    return hw;
  });
  const header = new TextEncoder().encode(
    JSON.stringify({
      format: data.format,
      version: data.version,
      name: data.name,
      config: data.config,
      weights: headerWeights,
    }),
  );
  const dataStart = Math.ceil((12 + header.length) / 4) * 4;
  const out = new Uint8Array(dataStart + offset * 4);
  out.set(MAGIC, 0);
  const view = new DataView(out.buffer);
  view.setUint32(4, VERSION, true);
  view.setUint32(8, header.length, true);
  out.set(header, 12);
  let p = dataStart;
  for (const w of data.weights) {
    for (let i = 0; i < w.data.length; i++, p += 4) view.setFloat32(p, w.data[i] as number, true);
  }
  return out;
}

function fail(msg: string): never {
  throw new Error(`invalid dnr-reranker file: ${msg}`);
}

/** Parses {@link encodeReranker}'s output (JSON.parse only; nothing is evaluated). */
export function decodeReranker(bytes: Uint8Array): SerializedReranker {
  if (bytes.length < 12) fail(`too short (${bytes.length} bytes)`);
  for (let i = 0; i < 4; i++) if (bytes[i] !== MAGIC[i]) fail('bad magic (expected "DNRR")');
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const version = view.getUint32(4, true);
  if (version !== VERSION) fail(`unsupported version ${version} (this library reads ${VERSION})`);
  const headerLength = view.getUint32(8, true);
  if (12 + headerLength > bytes.length) fail('header runs past the end');
  let header: unknown;
  try {
    header = JSON.parse(new TextDecoder().decode(bytes.subarray(12, 12 + headerLength)));
  } catch {
    fail('header is not valid JSON');
  }
  const h = header as Partial<Omit<SerializedReranker, 'weights'>> & { weights?: HeaderWeight[] };
  if (typeof h !== 'object' || h === null) fail('header is not an object');
  if (h.format !== 'dnr-reranker') fail(`format '${String(h.format)}'`);
  if (h.version !== 1) fail(`header version ${String(h.version)}`);
  if (typeof h.name !== 'string') fail('missing name');
  if (typeof h.config !== 'object' || h.config === null) fail('missing config');
  if (!Array.isArray(h.weights)) fail('missing weights');
  const dataStart = Math.ceil((12 + headerLength) / 4) * 4;
  const total = (bytes.length - dataStart) / 4;
  const weights: NamedWeight[] = h.weights.map((w, i) => {
    if (
      typeof w?.name !== 'string' ||
      !Array.isArray(w.shape) ||
      !w.shape.every((s) => Number.isInteger(s) && s > 0) ||
      !Number.isInteger(w.offset) ||
      !Number.isInteger(w.length)
    ) {
      fail(`weight #${i} has a malformed entry`);
    }
    const size = w.shape.reduce((a, b) => a * b, 1);
    if (size !== w.length)
      fail(`weight '${w.name}': shape [${w.shape.join(',')}] vs length ${w.length}`);
    if (w.offset < 0 || w.offset + w.length > total) fail(`weight '${w.name}' runs past the end`);
    const data = new Float32Array(w.length);
    const base = dataStart + w.offset * 4;
    for (let k = 0; k < w.length; k++) data[k] = view.getFloat32(base + k * 4, true);
    return { name: w.name, shape: [...w.shape], data };
  });
  return { format: 'dnr-reranker', version: 1, name: h.name, config: h.config, weights };
}

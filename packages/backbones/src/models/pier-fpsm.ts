/**
 * Pier's FPSM (Fine-grained Permutation Selection Module) as pure JavaScript on typed arrays:
 * candidate permutations by seeded swaps, position-weighted permutation embeddings, SimHash
 * signatures from random hyperplanes, Hamming similarity and the top-M selection. Used by
 * `Pier.rerank`; exported for tests and reuse. No tensors here.
 */
import { deriveSeed, mulberry32 } from '../engine/random';

/** Position weight of FPSM's permutation embedding: `1 / log2(pos + 2)` (pos 0 → 1). */
export function positionWeight(pos: number): number {
  return 1 / Math.log2(pos + 2);
}

/**
 * Candidate permutations of length K from an order of candidates (best first): the base
 * permutation `order[0..K-1]` followed by up to `count` distinct variants, each the base with one
 * position `p` (uniform in `[0, K)`) replaced by a candidate from `order[K..L-1]` (uniform).
 * Duplicates are skipped (at most `10 * count + 10` draws), so fewer variants come back when
 * `K * (L - K)` is small. Deterministic for a given `rand`.
 *
 * @param order candidate indices, best first, length L
 * @param k permutation length K (`1 <= K <= L`)
 * @param count number of variants wanted (>= 0)
 * @param rand uniform `[0, 1)` generator (e.g. `mulberry32(seed)`)
 * @returns permutations of candidate indices, the base first
 */
export function candidatePermutations(
  order: ArrayLike<number>,
  k: number,
  count: number,
  rand: () => number,
): Int32Array[] {
  const l = order.length;
  if (!Number.isInteger(k) || k < 1 || k > l) {
    throw new RangeError(`permutation length ${k} must be in [1, ${l}]`);
  }
  const base = Int32Array.from({ length: k }, (_, i) => order[i] as number);
  const out = [base];
  if (k === l || count <= 0) return out;
  const seen = new Set([base.join(',')]);
  for (let draws = 0; out.length < count + 1 && draws < 10 * count + 10; draws++) {
    const p = Math.floor(rand() * k);
    const q = k + Math.floor(rand() * (l - k));
    const perm = Int32Array.from(base);
    perm[p] = order[q] as number;
    const key = perm.join(',');
    if (seen.has(key)) continue;
    seen.add(key);
    out.push(perm);
  }
  return out;
}

/**
 * FPSM's permutation embedding `sum_k w_k e[perm[k]]` with `w_k = 1 / log2(k + 2)`.
 *
 * @param perm candidate indices `[K]`
 * @param embeddings row-major `[L, d]` embeddings of the list's candidates
 * @param dim d
 * @returns `[d]`
 */
export function permutationEmbedding(
  perm: ArrayLike<number>,
  embeddings: ArrayLike<number>,
  dim: number,
): Float64Array {
  const out = new Float64Array(dim);
  for (let k = 0; k < perm.length; k++) {
    const w = positionWeight(k);
    const row = (perm[k] as number) * dim;
    for (let j = 0; j < dim; j++) out[j] = (out[j] as number) + w * (embeddings[row + j] as number);
  }
  return out;
}

/**
 * Random hyperplanes for SimHash: `bits` standard-normal vectors of dimension `dim`, from a seed
 * (Mulberry32 + Box-Muller), so that signatures are reproducible on every backend.
 *
 * @returns row-major `[bits, dim]`
 */
export function simHashPlanes(bits: number, dim: number, seed: number): Float64Array {
  const rand = mulberry32(deriveSeed(seed, 'simhash'));
  const out = new Float64Array(bits * dim);
  for (let i = 0; i < out.length; i += 2) {
    const r = Math.sqrt(-2 * Math.log(Math.max(rand(), 1e-12)));
    const t = 2 * Math.PI * rand();
    out[i] = r * Math.cos(t);
    if (i + 1 < out.length) out[i + 1] = r * Math.sin(t);
  }
  return out;
}

/**
 * SimHash signature: bit `i` is 1 when `planes[i] · v > 0` (so a zero vector hashes to all 0).
 *
 * @param v `[dim]`
 * @param planes row-major `[bits, dim]`
 * @returns `[bits]` of 0 / 1
 */
export function simHash(v: ArrayLike<number>, planes: ArrayLike<number>, bits: number): Uint8Array {
  const dim = v.length;
  if (planes.length !== bits * dim) {
    throw new RangeError(`planes has ${planes.length} values, expected bits*dim = ${bits * dim}`);
  }
  const out = new Uint8Array(bits);
  for (let i = 0; i < bits; i++) {
    let s = 0;
    for (let j = 0; j < dim; j++) s += (planes[i * dim + j] as number) * (v[j] as number);
    out[i] = s > 0 ? 1 : 0;
  }
  return out;
}

/** Number of equal bits of two signatures (`bits - Hamming distance`). */
export function hammingSimilarity(a: Uint8Array, b: Uint8Array): number {
  if (a.length !== b.length) throw new RangeError(`signatures differ in length`);
  let same = 0;
  for (let i = 0; i < a.length; i++) if (a[i] === b[i]) same++;
  return same;
}

/**
 * FPSM's user-interest embedding for one request: target attention of the base permutation's
 * embedding over the history item embeddings, `sum_j softmax_j(v · e_j / sqrt(d)) e_j` over the
 * real (non-padding) history items; a zero vector when the history is all padding.
 *
 * @param query `[d]` (the base permutation's embedding)
 * @param history row-major `[H, d]` history item embeddings
 * @param valid `[H]`, non-zero for real history items
 * @returns `[d]`
 */
export function interestEmbedding(
  query: ArrayLike<number>,
  history: ArrayLike<number>,
  valid: ArrayLike<number>,
): Float64Array {
  const d = query.length;
  const h = valid.length;
  const logits = new Float64Array(h);
  let max = -Infinity;
  for (let j = 0; j < h; j++) {
    if (!valid[j]) continue;
    let s = 0;
    for (let t = 0; t < d; t++) s += (query[t] as number) * (history[j * d + t] as number);
    logits[j] = s / Math.sqrt(d);
    if ((logits[j] as number) > max) max = logits[j] as number;
  }
  const out = new Float64Array(d);
  if (max === -Infinity) return out;
  let z = 0;
  for (let j = 0; j < h; j++) {
    if (!valid[j]) continue;
    const a = Math.exp((logits[j] as number) - max);
    z += a;
    for (let t = 0; t < d; t++) out[t] = (out[t] as number) + a * (history[j * d + t] as number);
  }
  for (let t = 0; t < d; t++) out[t] = (out[t] as number) / z;
  return out;
}

/**
 * Indices of the top-M permutations by Hamming similarity of their SimHash signature to the
 * interest signature; ties keep the earlier permutation (the base first).
 *
 * @param permSignatures one signature per permutation
 * @param interest the interest signature
 * @param keep M (>= 1)
 * @returns indices into `permSignatures`, best first, length `min(M, count)`
 */
export function selectBySimHash(
  permSignatures: readonly Uint8Array[],
  interest: Uint8Array,
  keep: number,
): number[] {
  const sims = permSignatures.map((s) => hammingSimilarity(s, interest));
  return sims
    .map((_, i) => i)
    .sort((a, b) => (sims[b] as number) - (sims[a] as number) || a - b)
    .slice(0, keep);
}

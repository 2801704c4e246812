import type { Rng } from '@dnr/data';

/**
 * Positive (user, item) interactions used to fit or evaluate a retriever, columnar.
 * Row `k` is the pair `(user[k], item[k])`; users lie in `[0, numUsers)`, items in `[0, numItems)`.
 */
export interface InteractionPairs {
  readonly numUsers: number;
  readonly numItems: number;
  /** User of each pair [P]. */
  readonly user: Int32Array;
  /** Item of each pair [P]. */
  readonly item: Int32Array;
}

/**
 * A per-user set of items in compressed-sparse-row form: user `u` owns the sorted, duplicate-free
 * slice `items[start[u] .. start[u+1])`. Used to reject negatives the user interacted with.
 */
export interface UserItemIndex {
  readonly numUsers: number;
  readonly numItems: number;
  /** Row offsets [numUsers + 1]. */
  readonly start: Int32Array;
  /** Sorted unique items of every user, concatenated [nnz]. */
  readonly items: Int32Array;
}

/**
 * Checks that a pair set is well formed: equal column lengths, indices in range.
 * @throws RangeError naming the offending field and row.
 */
export function validatePairs(pairs: InteractionPairs, what = 'pairs'): void {
  const { numUsers, numItems, user, item } = pairs;
  if (!Number.isInteger(numUsers) || numUsers <= 0) {
    throw new RangeError(`${what}.numUsers must be a positive integer, got ${numUsers}`);
  }
  if (!Number.isInteger(numItems) || numItems <= 0) {
    throw new RangeError(`${what}.numItems must be a positive integer, got ${numItems}`);
  }
  if (user.length !== item.length) {
    throw new RangeError(
      `${what}.user and ${what}.item must have the same length, got ${user.length} and ${item.length}`,
    );
  }
  for (let k = 0; k < user.length; k++) {
    const u = user[k]!;
    const i = item[k]!;
    if (u < 0 || u >= numUsers) {
      throw new RangeError(`${what}.user[${k}] = ${u} is outside [0, ${numUsers})`);
    }
    if (i < 0 || i >= numItems) {
      throw new RangeError(`${what}.item[${k}] = ${i} is outside [0, ${numItems})`);
    }
  }
}

/**
 * Builds a {@link UserItemIndex} from one or more pair sets over the same user/item spaces.
 * Duplicates are removed; each user's items are sorted ascending. O(P + nnz log(nnz/users)).
 * @throws RangeError when the sources disagree on `numUsers`/`numItems` or hold out-of-range ids.
 */
export function buildUserItemIndex(...sources: readonly InteractionPairs[]): UserItemIndex {
  const first = sources[0];
  if (first === undefined) throw new RangeError('buildUserItemIndex needs at least one pair set');
  const { numUsers, numItems } = first;
  let total = 0;
  sources.forEach((s, n) => {
    if (s.numUsers !== numUsers || s.numItems !== numItems) {
      throw new RangeError(
        `buildUserItemIndex: source ${n} has ${s.numUsers} users / ${s.numItems} items, ` +
          `expected ${numUsers} / ${numItems}`,
      );
    }
    validatePairs(s, `source ${n}`);
    total += s.user.length;
  });
  const counts = new Int32Array(numUsers + 1);
  for (const s of sources) for (let k = 0; k < s.user.length; k++) counts[s.user[k]! + 1]!++;
  for (let u = 0; u < numUsers; u++) counts[u + 1]! += counts[u]!;
  const fill = counts.slice(0, numUsers);
  const raw = new Int32Array(total);
  for (const s of sources) {
    for (let k = 0; k < s.user.length; k++) raw[fill[s.user[k]!]!++] = s.item[k]!;
  }
  // sort and dedupe per user, compacting in place
  const start = new Int32Array(numUsers + 1);
  let w = 0;
  for (let u = 0; u < numUsers; u++) {
    const a = counts[u]!;
    const b = counts[u + 1]!;
    start[u] = w;
    raw.subarray(a, b).sort();
    for (let k = a; k < b; k++) {
      const v = raw[k]!;
      if (w === start[u] || raw[w - 1] !== v) raw[w++] = v;
    }
  }
  start[numUsers] = w;
  return { numUsers, numItems, start, items: raw.slice(0, w) };
}

/** True when `item` is in user `u`'s set (binary search; O(log nnz_u)). */
export function hasItem(index: UserItemIndex, u: number, item: number): boolean {
  const items = index.items;
  let lo = index.start[u]!;
  let hi = index.start[u + 1]! - 1;
  while (lo <= hi) {
    const mid = (lo + hi) >>> 1;
    const v = items[mid]!;
    if (v === item) return true;
    if (v < item) lo = mid + 1;
    else hi = mid - 1;
  }
  return false;
}

/**
 * Draws one item uniformly from the items user `u` is NOT linked to in `index`.
 * Rejection sampling (binary search per try); after 32 rejections it switches to an exact
 * enumeration of the complement, so nearly-full users cost O(nnz_u) and stay uniform.
 * @returns the item, or -1 when the user is linked to every item.
 */
export function sampleNegative(index: UserItemIndex, u: number, rng: Rng): number {
  const numItems = index.numItems;
  const a = index.start[u]!;
  const b = index.start[u + 1]!;
  const count = b - a;
  if (count >= numItems) return -1;
  for (let tries = 0; tries < 32; tries++) {
    const j = rng.int(numItems);
    if (!hasItem(index, u, j)) return j;
  }
  // r-th item (0-based) missing from the sorted list
  let r = rng.int(numItems - count);
  let prev = -1;
  const items = index.items;
  for (let k = a; k < b; k++) {
    const v = items[k]!;
    const gap = v - prev - 1;
    if (r < gap) return prev + 1 + r;
    r -= gap;
    prev = v;
  }
  return prev + 1 + r;
}

/**
 * Row selection with dense re-indexing, shared by de-duplication and the k-core filter.
 */
import type { Interactions } from '../types';

/**
 * Groups row indices by user (counting sort; rows of a user stay in file order).
 *
 * @param user - dense user index per row
 * @param numUsers - number of users
 * @returns `start` [numUsers + 1] and `rows` [rows]: user u owns `rows[start[u] .. start[u+1])`
 */
export function groupRowsBy(
  user: Int32Array,
  numUsers: number,
): { start: Int32Array; rows: Int32Array } {
  const start = new Int32Array(numUsers + 1);
  for (let r = 0; r < user.length; r++) start[user[r]! + 1]! += 1;
  for (let u = 0; u < numUsers; u++) start[u + 1]! += start[u]!;
  const fill = start.slice(0, numUsers);
  const rows = new Int32Array(user.length);
  for (let r = 0; r < user.length; r++) {
    const u = user[r]!;
    rows[fill[u]!] = r;
    fill[u]! += 1;
  }
  return { start, rows };
}

/**
 * Keeps the rows with `keep[r] !== 0` (in their original order) and re-indexes users and items
 * densely in order of first appearance among the kept rows; original ids are carried over.
 *
 * @param x - interactions to filter
 * @param keep - one flag per row [rows]
 * @returns new interactions (fresh arrays; `x` is not modified)
 */
export function selectRows(x: Interactions, keep: Uint8Array): Interactions {
  const n = x.user.length;
  if (keep.length !== n) {
    throw new RangeError(`selectRows: keep has length ${keep.length}, expected ${n}`);
  }
  let count = 0;
  for (let r = 0; r < n; r++) if (keep[r] !== 0) count++;
  const userMap = new Int32Array(x.userIds.length).fill(-1);
  const itemMap = new Int32Array(x.itemIds.length).fill(-1);
  const userIds: string[] = [];
  const itemIds: string[] = [];
  const user = new Int32Array(count);
  const item = new Int32Array(count);
  const rating = new Float32Array(count);
  const timestamp = new Float64Array(count);
  let k = 0;
  for (let r = 0; r < n; r++) {
    if (keep[r] === 0) continue;
    const u = x.user[r]!;
    const i = x.item[r]!;
    let nu = userMap[u]!;
    if (nu < 0) {
      nu = userIds.length;
      userMap[u] = nu;
      userIds.push(x.userIds[u]!);
    }
    let ni = itemMap[i]!;
    if (ni < 0) {
      ni = itemIds.length;
      itemMap[i] = ni;
      itemIds.push(x.itemIds[i]!);
    }
    user[k] = nu;
    item[k] = ni;
    rating[k] = x.rating[r]!;
    timestamp[k] = x.timestamp[r]!;
    k++;
  }
  return {
    user,
    item,
    rating,
    timestamp,
    userIds,
    itemIds,
    implicit: x.implicit,
    source: x.source,
  };
}

/**
 * Iterative k-core filtering of a user-item interaction graph.
 */
import { groupRowsBy, selectRows } from '../io/rows';
import type { Interactions } from '../types';

/** Options of {@link kCore}. */
export interface KCoreOptions {
  /** Minimum number of rows a kept user has (default 20). */
  readonly minUserInteractions?: number;
  /** Minimum number of rows a kept item has (default 20). */
  readonly minItemInteractions?: number;
}

function checkThreshold(name: string, v: number): void {
  if (!Number.isInteger(v) || v < 0) {
    throw new RangeError(`${name} must be a non-negative integer, got ${v}`);
  }
}

/**
 * Iterative k-core filter: removes users with fewer than `minUserInteractions` rows and items
 * with fewer than `minItemInteractions` rows, repeatedly, until every remaining user and item
 * meets its threshold. The result is the unique largest such subset (removal order does not
 * matter); it is computed by peeling with a queue in time linear in the number of rows.
 * Every row counts, so repeated (user, item) rows kept by the loader count several times.
 *
 * @param interactions - rows to filter (not modified)
 * @param options - thresholds (defaults 20 / 20, the paper's 20-core)
 * @returns new interactions: the surviving rows in their original order, users and items
 *   re-indexed densely in order of first appearance, original ids kept. May be empty.
 */
export function kCore(interactions: Interactions, options: KCoreOptions = {}): Interactions {
  const minU = options.minUserInteractions ?? 20;
  const minI = options.minItemInteractions ?? 20;
  checkThreshold('minUserInteractions', minU);
  checkThreshold('minItemInteractions', minI);
  const { user, item } = interactions;
  const numUsers = interactions.userIds.length;
  const numItems = interactions.itemIds.length;
  const rows = user.length;
  const byUser = groupRowsBy(user, numUsers);
  const byItem = groupRowsBy(item, numItems);
  const userDeg = new Int32Array(numUsers);
  const itemDeg = new Int32Array(numItems);
  for (let u = 0; u < numUsers; u++) userDeg[u] = byUser.start[u + 1]! - byUser.start[u]!;
  for (let i = 0; i < numItems; i++) itemDeg[i] = byItem.start[i + 1]! - byItem.start[i]!;
  const alive = new Uint8Array(rows).fill(1);
  const userDead = new Uint8Array(numUsers);
  const itemDead = new Uint8Array(numItems);
  // queue of removed nodes: users as u, items as numUsers + i
  const queue = new Int32Array(numUsers + numItems);
  let head = 0;
  let tail = 0;
  for (let u = 0; u < numUsers; u++) {
    if (userDeg[u]! < minU) {
      userDead[u] = 1;
      queue[tail++] = u;
    }
  }
  for (let i = 0; i < numItems; i++) {
    if (itemDeg[i]! < minI) {
      itemDead[i] = 1;
      queue[tail++] = numUsers + i;
    }
  }
  while (head < tail) {
    const node = queue[head++]!;
    if (node < numUsers) {
      for (let k = byUser.start[node]!; k < byUser.start[node + 1]!; k++) {
        const r = byUser.rows[k]!;
        if (alive[r] === 0) continue;
        alive[r] = 0;
        const i = item[r]!;
        itemDeg[i]! -= 1;
        if (itemDead[i] === 0 && itemDeg[i]! < minI) {
          itemDead[i] = 1;
          queue[tail++] = numUsers + i;
        }
      }
    } else {
      const i = node - numUsers;
      for (let k = byItem.start[i]!; k < byItem.start[i + 1]!; k++) {
        const r = byItem.rows[k]!;
        if (alive[r] === 0) continue;
        alive[r] = 0;
        const u = user[r]!;
        userDeg[u]! -= 1;
        if (userDead[u] === 0 && userDeg[u]! < minU) {
          userDead[u] = 1;
          queue[tail++] = u;
        }
      }
    }
  }
  return selectRows(interactions, alive);
}

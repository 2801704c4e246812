import { createRng, shuffleInPlace } from '@dnr/data';
import type { RequestSet } from '@dnr/data';
import type { InteractionPairs } from '../src/index';

/** A synthetic world with a planted low-rank preference: users pick items by Gumbel-top-k. */
export interface PlantedWorld {
  numUsers: number;
  numItems: number;
  /** Each user's distinct items in "time" order (random). */
  sequences: Int32Array[];
}

/**
 * Users and items get N(0, 1) factors of size `rank`; user u's `perUser` distinct items are the
 * top of `strength * <a_u, b_i> / sqrt(rank) + Gumbel noise`, then shuffled (time order).
 */
export function plantedWorld(opts: {
  numUsers: number;
  numItems: number;
  perUser: number;
  rank?: number;
  strength?: number;
  seed: number;
}): PlantedWorld {
  const { numUsers, numItems, perUser } = opts;
  const rank = opts.rank ?? 4;
  const strength = opts.strength ?? 6;
  const rng = createRng(opts.seed);
  const a = Float64Array.from({ length: numUsers * rank }, () => rng.normal());
  const b = Float64Array.from({ length: numItems * rank }, () => rng.normal());
  const sequences: Int32Array[] = [];
  const keys = new Float64Array(numItems);
  for (let u = 0; u < numUsers; u++) {
    for (let i = 0; i < numItems; i++) {
      let dot = 0;
      for (let k = 0; k < rank; k++) dot += a[u * rank + k]! * b[i * rank + k]!;
      const g = -Math.log(-Math.log(Math.max(rng.next(), 1e-12)));
      keys[i] = (strength * dot) / Math.sqrt(rank) + g;
    }
    const idx = Array.from({ length: numItems }, (_, i) => i).sort((x, y) => keys[y]! - keys[x]!);
    // the chosen items in a random "time" order, so any later part is an iid hold-out
    sequences.push(shuffleInPlace(Int32Array.from(idx.slice(0, perUser)), rng));
  }
  return { numUsers, numItems, sequences };
}

/** Pairs of the items at positions [from, to) of every user's sequence. */
export function worldPairs(w: PlantedWorld, from: number, to: number): InteractionPairs {
  const user: number[] = [];
  const item: number[] = [];
  w.sequences.forEach((s, u) => {
    for (let k = from; k < Math.min(to, s.length); k++) {
      user.push(u);
      item.push(s[k]!);
    }
  });
  return {
    numUsers: w.numUsers,
    numItems: w.numItems,
    user: Int32Array.from(user),
    item: Int32Array.from(item),
  };
}

/**
 * A RequestSet over the world: windows of `windowSize` from position 0, the last window of each
 * user is test, the one before validation, the rest train. Every interaction is positive except
 * those at positions listed in `negativeEvery` (position % negativeEvery === negativeEvery - 1).
 */
export function worldRequests(w: PlantedWorld, windowSize = 6, negativeEvery = 0): RequestSet {
  const seqStart = new Int32Array(w.numUsers + 1);
  w.sequences.forEach((s, u) => (seqStart[u + 1] = seqStart[u]! + s.length));
  const seqItems = new Int32Array(seqStart[w.numUsers]!);
  const seqPositive = new Uint8Array(seqItems.length);
  const user: number[] = [];
  const pos: number[] = [];
  const windowIndex: number[] = [];
  const split: number[] = [];
  w.sequences.forEach((s, u) => {
    seqItems.set(s, seqStart[u]!);
    for (let k = 0; k < s.length; k++) {
      const neg = negativeEvery > 0 && k % negativeEvery === negativeEvery - 1;
      seqPositive[seqStart[u]! + k] = neg ? 0 : 1;
    }
    const nw = Math.floor(s.length / windowSize);
    for (let t = 0; t < nw; t++) {
      user.push(u);
      pos.push(t * windowSize);
      windowIndex.push(t);
      split.push(nw >= 3 ? (t === nw - 1 ? 2 : t === nw - 2 ? 1 : 0) : 0);
    }
  });
  return {
    numUsers: w.numUsers,
    numItems: w.numItems,
    windowSize,
    seqStart,
    seqItems,
    seqPositive,
    user: Int32Array.from(user),
    pos: Int32Array.from(pos),
    windowIndex: Int32Array.from(windowIndex),
    split: Uint8Array.from(split),
    userIds: Array.from({ length: w.numUsers }, (_, u) => `u${u}`),
    itemIds: Array.from({ length: w.numItems }, (_, i) => `i${i}`),
  };
}

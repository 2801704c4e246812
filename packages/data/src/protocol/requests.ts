/**
 * The reranking request protocol: per-user chronological sequences cut into non-overlapping
 * windows, windows without a positive dropped, and per-user chronological splits.
 */
import { groupRowsBy } from '../io/rows';
import type { Interactions, RequestSet } from '../types';
import { Split } from '../types';

/**
 * How each user's kept windows are split, in time order.
 *
 * - `ratio` (default, protocol.md §2.6): first `train` of the windows train, next `validation`
 *   validation, the rest test; see {@link splitWindowCounts} for the exact rounding.
 * - `leave-last` (GFN4Rec precedent): last window test, second-last validation, the rest train.
 *
 * In both modes a user with fewer than `minWindowsForSplit` (default 3) kept windows has all of
 * them in train.
 */
export type SplitSpec =
  | { readonly mode: 'ratio'; readonly train?: number; readonly validation?: number }
  | { readonly mode: 'leave-last' };

/** Options of {@link buildRequests}. */
export interface BuildRequestsOptions {
  /** Exposed items per window (default 6, the paper's K). */
  readonly windowSize?: number;
  /** An interaction is positive when `rating >= positiveThreshold` (default 3); implicit data: always. */
  readonly positiveThreshold?: number;
  /**
   * History cap recorded for consumers (default 50). Requests store the full history implicitly
   * (every earlier interaction of the user); the cap applies when a RerankDataset is built.
   */
  readonly historyCap?: number;
  /** Drop windows in which no item is positive (default true). */
  readonly dropNoPositiveWindows?: boolean;
  /** Per-user split of the kept windows (default `{ mode: 'ratio', train: 0.8, validation: 0.1 }`). */
  readonly split?: SplitSpec;
  /** Users with fewer kept windows than this have every window in train (default 3). */
  readonly minWindowsForSplit?: number;
}

/** The resolved options a {@link BuiltRequestSet} was built with (for provenance). */
export interface RequestProtocol {
  readonly windowSize: number;
  readonly positiveThreshold: number;
  readonly historyCap: number;
  readonly dropNoPositiveWindows: boolean;
  readonly split:
    | { readonly mode: 'ratio'; readonly train: number; readonly validation: number }
    | { readonly mode: 'leave-last' };
  readonly minWindowsForSplit: number;
}

/** A {@link RequestSet} plus how it was built. */
export interface BuiltRequestSet extends RequestSet {
  /** The resolved options. */
  readonly protocol: RequestProtocol;
  /** Complete windows dropped because none of their items was positive. */
  readonly droppedWindows: number;
  /** Requests per split: `[train, validation, test]`. */
  readonly splitSizes: readonly [number, number, number];
}

function roundHalfUp(x: number): number {
  return Math.floor(x + 0.5 + 1e-9);
}

function resolveSplit(spec: SplitSpec | undefined): RequestProtocol['split'] {
  if (spec === undefined) return { mode: 'ratio', train: 0.8, validation: 0.1 };
  if (spec.mode === 'leave-last') return { mode: 'leave-last' };
  if (spec.mode !== 'ratio') {
    throw new RangeError(
      `split.mode must be 'ratio' or 'leave-last', got ${JSON.stringify((spec as { mode: unknown }).mode)}`,
    );
  }
  const train = spec.train ?? 0.8;
  const validation = spec.validation ?? 0.1;
  if (
    !(train > 0 && train <= 1) ||
    !(validation >= 0 && validation <= 1) ||
    train + validation > 1 + 1e-12
  ) {
    throw new RangeError(
      `split ratios need 0 < train <= 1, 0 <= validation, train + validation <= 1; got train ${train}, validation ${validation}`,
    );
  }
  return { mode: 'ratio', train, validation };
}

/**
 * Number of train / validation / test windows for a user with `n` kept windows.
 *
 * - `n < minWindows` (default 3): `[n, 0, 0]`.
 * - `leave-last`: `[n - 2, 1, 1]` (with `minWindows` below 3: the last window test, the one
 *   before it validation, as far as there are windows).
 * - `ratio` with fractions `train`, `validation` and `test = 1 - train - validation`:
 *   `nVal = round(n * validation)` and `nTest = round(n * test)`, rounding halves up, and at
 *   least 1 each when its fraction is positive; then, while `nTrain = n - nVal - nTest < 1`, the
 *   larger of nVal / nTest (validation on a tie) is reduced by one. With the default 0.8 / 0.1 /
 *   0.1: n = 3..14 gives 1 validation and 1 test window, n = 15..24 gives 2 and 2, n = 25..34
 *   gives 3 and 3.
 *
 * @returns `[nTrain, nValidation, nTest]`, summing to `n`
 */
export function splitWindowCounts(
  n: number,
  split: SplitSpec = { mode: 'ratio' },
  minWindows = 3,
): [number, number, number] {
  if (!Number.isInteger(n) || n < 0)
    throw new RangeError(`n must be a non-negative integer, got ${n}`);
  const s = resolveSplit(split);
  if (n < minWindows || n === 0) return [n, 0, 0];
  if (s.mode === 'leave-last') {
    const nTest = Math.min(1, n);
    const nVal = Math.min(1, n - nTest);
    return [n - nVal - nTest, nVal, nTest];
  }
  const testFrac = Math.max(0, 1 - s.train - s.validation);
  let nVal = s.validation > 1e-12 ? Math.max(1, roundHalfUp(n * s.validation)) : 0;
  let nTest = testFrac > 1e-12 ? Math.max(1, roundHalfUp(n * testFrac)) : 0;
  while (n - nVal - nTest < 1 && nVal + nTest > 0) {
    if (nVal >= nTest) nVal--;
    else nTest--;
  }
  return [n - nVal - nTest, nVal, nTest];
}

function checkInt(name: string, v: number, min: number): void {
  if (!Number.isInteger(v) || v < min)
    throw new RangeError(`${name} must be an integer >= ${min}, got ${v}`);
}

/**
 * Builds the reranking requests (protocol.md §2.3 and §2.6).
 *
 * Per user, interactions are ordered by timestamp with ties kept in file (row) order; when the
 * data has no timestamps (all `NaN`), file order is time order. The sequence is cut into
 * non-overlapping windows of `windowSize` starting at its first interaction; a partial last
 * window is dropped. With `dropNoPositiveWindows`, a window with no positive item is dropped;
 * this does NOT renumber positions: the dropped window's interactions stay in the sequence and
 * belong to the history of later requests. History of a request = every earlier interaction of
 * the user, i.e. `seqItems[seqStart[u] + max(0, pos - cap) .. seqStart[u] + pos)` (`pos` is the
 * offset inside the user's sequence, see {@link requestRanges}).
 *
 * Users keep their dense indices from `interactions` (users without any request keep their
 * sequence), so side features stay aligned.
 *
 * @param interactions - rows to use, usually the output of {@link kCore}
 * @param options - window size, positive threshold, history cap, drop rule and split
 * @returns a {@link RequestSet}: `seqStart` Int32Array [numUsers + 1], `seqItems` Int32Array
 *   [rows], `seqPositive` Uint8Array [rows], and per request [R] `user`, `pos`, `windowIndex`
 *   (Int32Array) and `split` (Uint8Array), requests ordered by user then time; plus `protocol`,
 *   `droppedWindows` and `splitSizes`
 * @throws RangeError for invalid options or timestamps that are NaN for some rows only
 */
export function buildRequests(
  interactions: Interactions,
  options: BuildRequestsOptions = {},
): BuiltRequestSet {
  const windowSize = options.windowSize ?? 6;
  const positiveThreshold = options.positiveThreshold ?? 3;
  const historyCap = options.historyCap ?? 50;
  const dropNoPositiveWindows = options.dropNoPositiveWindows ?? true;
  const minWindowsForSplit = options.minWindowsForSplit ?? 3;
  checkInt('windowSize', windowSize, 1);
  checkInt('minWindowsForSplit', minWindowsForSplit, 0);
  if (!(historyCap >= 0) || (!Number.isInteger(historyCap) && historyCap !== Infinity)) {
    throw new RangeError(
      `historyCap must be a non-negative integer or Infinity, got ${historyCap}`,
    );
  }
  if (!Number.isFinite(positiveThreshold)) {
    throw new RangeError(`positiveThreshold must be a finite number, got ${positiveThreshold}`);
  }
  const split = resolveSplit(options.split);
  const protocol: RequestProtocol = {
    windowSize,
    positiveThreshold,
    historyCap,
    dropNoPositiveWindows,
    split,
    minWindowsForSplit,
  };

  const { user, item, rating, timestamp, implicit } = interactions;
  const rows = user.length;
  if (item.length !== rows || rating.length !== rows || timestamp.length !== rows) {
    throw new RangeError(
      'interactions: user, item, rating and timestamp must have the same length',
    );
  }
  let nanTimes = 0;
  for (let r = 0; r < rows; r++) if (Number.isNaN(timestamp[r]!)) nanTimes++;
  if (nanTimes !== 0 && nanTimes !== rows) {
    throw new RangeError(
      `interactions from ${interactions.source}: ${nanTimes} of ${rows} timestamps are NaN; expected all or none`,
    );
  }
  const timed = nanTimes === 0;
  const numUsers = interactions.userIds.length;
  const numItems = interactions.itemIds.length;
  const { start, rows: order } = groupRowsBy(user, numUsers);

  const cmp = (a: number, b: number): number => {
    const ta = timestamp[a]!;
    const tb = timestamp[b]!;
    return ta < tb ? -1 : ta > tb ? 1 : a - b;
  };
  const seqItems = new Int32Array(rows);
  const seqPositive = new Uint8Array(rows);
  let maxWindows = 0;
  for (let u = 0; u < numUsers; u++) {
    const a = start[u]!;
    const b = start[u + 1]!;
    if (timed) {
      let sorted = true;
      for (let k = a + 1; k < b; k++) {
        if (timestamp[order[k]!]! < timestamp[order[k - 1]!]!) {
          sorted = false;
          break;
        }
      }
      // rows of a user are in file order, so a non-decreasing run is already the stable order
      if (!sorted) order.subarray(a, b).sort(cmp);
    }
    for (let k = a; k < b; k++) {
      const r = order[k]!;
      seqItems[k] = item[r]!;
      seqPositive[k] = implicit || rating[r]! >= positiveThreshold ? 1 : 0;
    }
    maxWindows += Math.floor((b - a) / windowSize);
  }

  const reqUser = new Int32Array(maxWindows);
  const reqPos = new Int32Array(maxWindows);
  const reqWindow = new Int32Array(maxWindows);
  const reqSplit = new Uint8Array(maxWindows);
  const splitSizes: [number, number, number] = [0, 0, 0];
  let count = 0;
  let droppedWindows = 0;
  for (let u = 0; u < numUsers; u++) {
    const a = start[u]!;
    const n = start[u + 1]! - a;
    const first = count;
    for (let pos = 0; pos + windowSize <= n; pos += windowSize) {
      if (dropNoPositiveWindows) {
        let any = 0;
        for (let k = a + pos; k < a + pos + windowSize; k++) any |= seqPositive[k]!;
        if (any === 0) {
          droppedWindows++;
          continue;
        }
      }
      reqUser[count] = u;
      reqPos[count] = pos;
      reqWindow[count] = count - first;
      count++;
    }
    const kept = count - first;
    const [nTrain, nVal] = splitWindowCounts(kept, split, minWindowsForSplit);
    for (let k = 0; k < kept; k++) {
      const code = k < nTrain ? Split.train : k < nTrain + nVal ? Split.validation : Split.test;
      reqSplit[first + k] = code;
      splitSizes[code]++;
    }
  }
  return {
    numUsers,
    numItems,
    windowSize,
    seqStart: start,
    seqItems,
    seqPositive,
    user: reqUser.slice(0, count),
    pos: reqPos.slice(0, count),
    windowIndex: reqWindow.slice(0, count),
    split: reqSplit.slice(0, count),
    userIds: interactions.userIds,
    itemIds: interactions.itemIds,
    protocol,
    droppedWindows,
    splitSizes,
  };
}

/** Absolute index ranges of one request inside `seqItems` (see {@link requestRanges}). */
export interface RequestRanges {
  /** First history index (inclusive), after applying the history cap. */
  readonly historyStart: number;
  /** First window index = end of the history (exclusive). */
  readonly windowStart: number;
  /** End of the window (exclusive). */
  readonly windowEnd: number;
}

/**
 * Where request `r`'s capped history and window lie in `requests.seqItems` (absolute indices):
 * history = `[seqStart[u] + max(0, pos - historyCap), seqStart[u] + pos)`, window =
 * `[seqStart[u] + pos, seqStart[u] + pos + windowSize)`. For hot loops, inline this arithmetic.
 *
 * @param requests - the request set
 * @param r - request index in `[0, R)`
 * @param historyCap - maximum history length (default 50; `Infinity` for all)
 */
export function requestRanges(requests: RequestSet, r: number, historyCap = 50): RequestRanges {
  if (!Number.isInteger(r) || r < 0 || r >= requests.user.length) {
    throw new RangeError(`request index ${r} out of range [0, ${requests.user.length})`);
  }
  const base = requests.seqStart[requests.user[r]!]!;
  const pos = requests.pos[r]!;
  return {
    historyStart: base + Math.max(0, pos - historyCap),
    windowStart: base + pos,
    windowEnd: base + pos + requests.windowSize,
  };
}

/**
 * Candidate lists for reranking (protocol.md §2.4): each request's exposed window plus negatives,
 * scored by a frozen retriever and ordered by that score.
 *
 * Pipeline: {@link sampleCandidates} (or {@link topCandidates}) -> {@link scoreAndOrder} ->
 * {@link buildRerankDataset}, which also attaches histories ({@link buildHistories}).
 */
import { createRng } from './rng';
import type { Rng } from './rng';
import type { RequestSet, RerankDataset } from './types';

/**
 * A frozen retriever as seen by candidate assembly. Implemented by the MF retriever (with
 * cross-fitting: the model that scores a list may depend on the request, so every call says which
 * requests it scores). `requestIds` are row indices into the {@link RequestSet} the lists came from.
 */
export interface CandidateScorer {
  /** Scores candidates of the given requests. requestIds [n], items [n*listSize] list-major. Returns Float32Array [n*listSize]. */
  scoreLists(requestIds: Int32Array, items: Int32Array, listSize: number): Float32Array;
  /** Optional: scores of every item for one request (for the 'top' candidate mode). Float32Array [numItems]. */
  scoreAll?(requestId: number): Float32Array;
}

/**
 * How the non-exposed candidates are chosen.
 * - `'sampled'` (default, protocol §2.4): negatives uniform without replacement from unseen items.
 * - `'top'` (ablation, "option B"): the retriever's highest-scored unseen items.
 */
export type CandidateMode = 'sampled' | 'top';

/**
 * Unordered candidate lists, one per request: the request's distinct exposed items first, then the
 * negatives. Per-candidate arrays are list-major `[n * listSize]`.
 */
export interface CandidateLists {
  readonly numItems: number;
  readonly listSize: number;
  /** Window size of the source requests (exposed items per request before de-duplication). */
  readonly windowSize: number;
  /** Row of the {@link RequestSet} each list belongs to [n] (here always `0..n-1`). */
  readonly request: Int32Array;
  /** Number of distinct exposed items at the front of each list [n] (`windowSize` unless the window repeats an item). */
  readonly exposedCount: Int32Array;
  /** Candidate items [n * listSize]: exposed items (window order) then negatives (draw order). */
  readonly items: Int32Array;
  /** 1 for a positive exposed item, else 0 [n * listSize]. */
  readonly labels: Uint8Array;
}

/** Candidate lists ordered by retriever score (descending within each list). Arrays `[n * listSize]`. */
export interface OrderedLists {
  readonly items: Int32Array;
  readonly scores: Float32Array;
  readonly labels: Uint8Array;
}

/** Options of {@link sampleCandidates}. */
export interface SampleCandidatesOptions {
  /** Candidates per list (default 50); must be >= `windowSize` and <= `numItems`. */
  readonly listSize?: number;
  /** Seed of the negative sampler (required; same seed and requests -> identical lists). */
  readonly seed: number | string;
  /** Only `'sampled'` here; `'top'` lists need a scorer, see {@link topCandidates}. */
  readonly mode?: 'sampled';
}

/** Options of {@link scoreAndOrder}. */
export interface ScoreAndOrderOptions {
  /** Seed of the random tie-break (required). */
  readonly seed: number | string;
  /** Lists scored per `scoreLists` call, bounding memory (default 4096). */
  readonly chunkSize?: number;
}

/** Options of {@link buildRerankDataset}. */
export interface BuildRerankDatasetOptions {
  /** Candidates per list (default 50). */
  readonly listSize?: number;
  /** History length H: the last `historyCap` interactions before the window (default 50). */
  readonly historyCap?: number;
  /** Seed for negatives and tie-breaks (required). */
  readonly seed: number | string;
  /** `'sampled'` (default) or `'top'` (needs `scorer.scoreAll`). */
  readonly candidateMode?: CandidateMode;
  /** Lists per scorer call (default 4096). */
  readonly chunkSize?: number;
  /** Extra provenance merged into the dataset's `meta`. */
  readonly meta?: Readonly<Record<string, unknown>>;
}

function checkPositiveInt(name: string, value: number): void {
  if (!Number.isInteger(value) || value < 1) {
    throw new RangeError(`${name} must be a positive integer, got ${value}`);
  }
}

/**
 * Checks the parts of a RequestSet that candidate assembly relies on; throws naming the field and
 * the first bad index.
 */
function checkRequests(rs: RequestSet): void {
  const fn = 'RequestSet';
  checkPositiveInt(`${fn}.numUsers`, rs.numUsers);
  checkPositiveInt(`${fn}.numItems`, rs.numItems);
  checkPositiveInt(`${fn}.windowSize`, rs.windowSize);
  if (rs.seqStart.length !== rs.numUsers + 1) {
    throw new RangeError(
      `${fn}.seqStart must have numUsers + 1 = ${rs.numUsers + 1} entries, got ${rs.seqStart.length}`,
    );
  }
  if (rs.seqStart[0] !== 0 || rs.seqStart[rs.numUsers] !== rs.seqItems.length) {
    throw new RangeError(`${fn}.seqStart must start at 0 and end at seqItems.length`);
  }
  for (let u = 0; u < rs.numUsers; u++) {
    if (rs.seqStart[u + 1]! < rs.seqStart[u]!) {
      throw new RangeError(`${fn}.seqStart must be non-decreasing (index ${u + 1})`);
    }
  }
  if (rs.seqPositive.length !== rs.seqItems.length) {
    throw new RangeError(
      `${fn}.seqPositive length ${rs.seqPositive.length} != seqItems length ${rs.seqItems.length}`,
    );
  }
  for (let i = 0; i < rs.seqItems.length; i++) {
    const it = rs.seqItems[i]!;
    if (it < 0 || it >= rs.numItems) {
      throw new RangeError(`${fn}.seqItems[${i}] = ${it} is outside [0, ${rs.numItems})`);
    }
  }
  const r = rs.user.length;
  for (const [name, arr] of [
    ['pos', rs.pos],
    ['windowIndex', rs.windowIndex],
    ['split', rs.split],
  ] as const) {
    if (arr.length !== r) {
      throw new RangeError(`${fn}.${name} length ${arr.length} != user length ${r}`);
    }
  }
  for (let i = 0; i < r; i++) {
    const u = rs.user[i]!;
    if (u < 0 || u >= rs.numUsers) {
      throw new RangeError(`${fn}.user[${i}] = ${u} is outside [0, ${rs.numUsers})`);
    }
    const len = rs.seqStart[u + 1]! - rs.seqStart[u]!;
    const p = rs.pos[i]!;
    if (p < 0 || p + rs.windowSize > len) {
      throw new RangeError(
        `${fn}.pos[${i}] = ${p}: window of ${rs.windowSize} does not fit user ${u}'s sequence of length ${len}`,
      );
    }
    if (rs.split[i]! > 2) {
      throw new RangeError(`${fn}.split[${i}] = ${rs.split[i]} is not a split code 0..2`);
    }
  }
}

/** Request rows sorted by (user, pos), so "seen" markers can grow incrementally per user. */
function requestOrder(rs: RequestSet): Int32Array {
  const n = rs.user.length;
  const order = new Int32Array(n);
  for (let i = 0; i < n; i++) order[i] = i;
  const user = rs.user;
  const pos = rs.pos;
  order.sort((a, b) => user[a]! - user[b]! || pos[a]! - pos[b]! || a - b);
  return order;
}

/**
 * Shared walk: for each request (in (user, pos) order) marks the user's items up to the end of the
 * window in `seen` (stamp = user + 1), writes the distinct exposed items and labels at the front of
 * its list, then calls `fill` to write `needed` negatives at `offset`.
 */
function assemble(
  rs: RequestSet,
  listSize: number,
  fill: (
    items: Int32Array,
    request: number,
    offset: number,
    needed: number,
    available: number,
    seen: Int32Array,
    stamp: number,
  ) => void,
  caller: string,
): CandidateLists {
  checkRequests(rs);
  checkPositiveInt(`${caller}: listSize`, listSize);
  const w = rs.windowSize;
  if (listSize < w) {
    throw new RangeError(`${caller}: listSize ${listSize} must be >= windowSize ${w}`);
  }
  if (listSize > rs.numItems) {
    throw new RangeError(
      `${caller}: listSize ${listSize} exceeds the catalog size numItems = ${rs.numItems}`,
    );
  }
  const n = rs.user.length;
  const items = new Int32Array(n * listSize);
  const labels = new Uint8Array(n * listSize);
  const exposedCount = new Int32Array(n);
  const request = new Int32Array(n);
  for (let i = 0; i < n; i++) request[i] = i;
  const seen = new Int32Array(rs.numItems);
  const order = requestOrder(rs);
  let curUser = -1;
  let markedTo = 0; // absolute index in seqItems up to which the current user is marked
  let seenCount = 0;
  for (let oi = 0; oi < n; oi++) {
    const r = order[oi]!;
    const u = rs.user[r]!;
    const s0 = rs.seqStart[u]!;
    if (u !== curUser) {
      curUser = u;
      markedTo = s0;
      seenCount = 0;
    }
    const wStart = s0 + rs.pos[r]!;
    const wEnd = wStart + w;
    const stamp = u + 1;
    for (; markedTo < wEnd; markedTo++) {
      const it = rs.seqItems[markedTo]!;
      if (seen[it] !== stamp) {
        seen[it] = stamp;
        seenCount++;
      }
    }
    const base = r * listSize;
    let k = 0;
    for (let j = wStart; j < wEnd; j++) {
      const it = rs.seqItems[j]!;
      const lab = rs.seqPositive[j]! ? 1 : 0;
      let dup = -1;
      for (let q = 0; q < k; q++) {
        if (items[base + q] === it) {
          dup = q;
          break;
        }
      }
      if (dup >= 0) {
        if (lab) labels[base + dup] = 1;
      } else {
        items[base + k] = it;
        labels[base + k] = lab;
        k++;
      }
    }
    exposedCount[r] = k;
    const needed = listSize - k;
    const available = rs.numItems - seenCount;
    if (available < needed) {
      throw new RangeError(
        `${caller}: request ${r} (user ${u}) has only ${available} unseen items but needs ${needed} ` +
          `negatives (listSize ${listSize}, numItems ${rs.numItems}); use a smaller listSize`,
      );
    }
    if (needed > 0) fill(items, r, base + k, needed, available, seen, stamp);
  }
  return { numItems: rs.numItems, listSize, windowSize: w, request, exposedCount, items, labels };
}

/**
 * Candidate lists for every request (protocol.md §2.4, default mode): the window's exposed items
 * (label = `seqPositive`, so a non-positive exposed item has label 0) plus `listSize - windowSize`
 * negatives drawn uniformly WITHOUT replacement from items the user has not interacted with up to
 * the end of the window (`seqItems[seqStart[u] .. seqStart[u] + pos + windowSize)`). Negatives have
 * label 0. A window that repeats an item keeps it once (label = OR of its labels) and gets one more
 * negative instead.
 *
 * Deterministic: the same requests and seed give identical lists. Rejection sampling with an
 * `Int32Array` stamp per item (no per-request sets); when few unseen items remain the sampler
 * switches to a partial Fisher-Yates over the enumerated unseen items.
 *
 * @param requests the RequestSet (R requests).
 * @returns lists with `items`, `labels` of shape [R * listSize] in unsorted order (exposed first).
 * @throws RangeError when `listSize < windowSize`, `listSize > numItems`, or a user has fewer
 *   unseen items than needed negatives (the error names the request and user).
 */
export function sampleCandidates(
  requests: RequestSet,
  options: SampleCandidatesOptions,
): CandidateLists {
  const listSize = options.listSize ?? 50;
  if (options.mode !== undefined && options.mode !== 'sampled') {
    throw new RangeError(
      `sampleCandidates: mode must be 'sampled' (got '${String(options.mode)}'); use topCandidates for 'top'`,
    );
  }
  const rng: Rng = createRng(options.seed).fork('negatives');
  const numItems = requests.numItems;
  const chosen = new Int32Array(numItems); // stamp = request + 1
  let scratch: Int32Array | undefined;
  return assemble(
    requests,
    listSize,
    (items, r, offset, needed, available, seen, stamp) => {
      const mark = r + 1;
      if ((available - needed) * 4 >= numItems) {
        // Acceptance probability >= 1/4 on every draw.
        let got = 0;
        while (got < needed) {
          const it = rng.int(numItems);
          if (seen[it] === stamp || chosen[it] === mark) continue;
          chosen[it] = mark;
          items[offset + got] = it;
          got++;
        }
      } else {
        scratch ??= new Int32Array(numItems);
        let m = 0;
        for (let it = 0; it < numItems; it++) if (seen[it] !== stamp) scratch[m++] = it;
        for (let g = 0; g < needed; g++) {
          const j = g + rng.int(m - g);
          const tmp = scratch[j]!;
          scratch[j] = scratch[g]!;
          scratch[g] = tmp;
          items[offset + g] = tmp;
        }
      }
    },
    'sampleCandidates',
  );
}

/** Options of {@link topCandidates}. */
export interface TopCandidatesOptions {
  /** Candidates per list (default 50). */
  readonly listSize?: number;
}

/** True when item `a` ranks below item `b` (lower score, or equal score and higher index). */
function ranksBelow(a: number, b: number, s: Float32Array): boolean {
  const sa = s[a]!;
  const sb = s[b]!;
  return sa < sb || (sa === sb && a > b);
}

function siftDown(heap: Int32Array, size: number, i: number, s: Float32Array): void {
  for (;;) {
    const l = 2 * i + 1;
    if (l >= size) return;
    const r = l + 1;
    let w = l;
    if (r < size && ranksBelow(heap[r]!, heap[l]!, s)) w = r;
    if (!ranksBelow(heap[w]!, heap[i]!, s)) return;
    const t = heap[w]!;
    heap[w] = heap[i]!;
    heap[i] = t;
    i = w;
  }
}

/**
 * Candidate lists for the `'top'` ablation (protocol.md §2.4 option B): the window's exposed items
 * plus the retriever's `listSize - windowSize` highest-scored items among those the user has not
 * interacted with up to the end of the window (ties: lower item index first). Deterministic.
 *
 * @param scorer must implement `scoreAll(requestId)` returning Float32Array [numItems].
 * @returns lists with `items`, `labels` [R * listSize] (exposed first, negatives in heap order).
 */
export function topCandidates(
  requests: RequestSet,
  scorer: CandidateScorer,
  options: TopCandidatesOptions = {},
): CandidateLists {
  const scoreAll = scorer.scoreAll?.bind(scorer);
  if (!scoreAll) {
    throw new TypeError("topCandidates: candidate mode 'top' needs a scorer with scoreAll()");
  }
  const numItems = requests.numItems;
  let heap: Int32Array | undefined;
  return assemble(
    requests,
    options.listSize ?? 50,
    (items, r, offset, needed, _available, seen, stamp) => {
      const s = scoreAll(r);
      if (s.length !== numItems) {
        throw new RangeError(
          `topCandidates: scoreAll(${r}) returned ${s.length} scores, expected numItems = ${numItems}`,
        );
      }
      heap ??= new Int32Array(numItems);
      let size = 0;
      for (let it = 0; it < numItems; it++) {
        const v = s[it]!;
        if (!Number.isFinite(v)) {
          throw new RangeError(`topCandidates: scoreAll(${r})[${it}] = ${v} is not finite`);
        }
        if (seen[it] === stamp) continue;
        if (size < needed) {
          // Sift up.
          let i = size++;
          heap[i] = it;
          while (i > 0) {
            const p = (i - 1) >> 1;
            if (!ranksBelow(heap[i]!, heap[p]!, s)) break;
            const t = heap[p]!;
            heap[p] = heap[i]!;
            heap[i] = t;
            i = p;
          }
        } else if (ranksBelow(heap[0]!, it, s)) {
          heap[0] = it;
          siftDown(heap, size, 0, s);
        }
      }
      for (let g = 0; g < needed; g++) items[offset + g] = heap[g]!;
    },
    'topCandidates',
  );
}

/**
 * Scores every candidate list with a frozen retriever and orders each list by score, descending.
 * Ties are broken uniformly at random (seeded), so exposed items (stored first) never keep fixed
 * positions when scores tie (protocol.md §2.4). The scorer is called on chunks of `chunkSize` lists
 * with the lists' request ids, so a cross-fitted retriever can pick the model per request.
 * The input is not modified.
 *
 * @param candidates lists from {@link sampleCandidates} or {@link topCandidates}, n lists.
 * @returns fresh `items`, `scores`, `labels` of shape [n * listSize], each list sorted by score.
 * @throws RangeError when the scorer returns a wrong length or a non-finite score.
 */
export function scoreAndOrder(
  candidates: CandidateLists,
  scorer: CandidateScorer,
  options: ScoreAndOrderOptions,
): OrderedLists {
  const { listSize, request } = candidates;
  const chunkSize = options.chunkSize ?? 4096;
  checkPositiveInt('scoreAndOrder: chunkSize', chunkSize);
  const n = request.length;
  if (candidates.items.length !== n * listSize || candidates.labels.length !== n * listSize) {
    throw new RangeError(
      `scoreAndOrder: candidates.items/labels must have n * listSize = ${n * listSize} entries`,
    );
  }
  const rng = createRng(options.seed).fork('ties');
  const items = new Int32Array(n * listSize);
  const scores = new Float32Array(n * listSize);
  const labels = new Uint8Array(n * listSize);
  const perm = new Int32Array(listSize);
  const key = new Float64Array(listSize);
  let raw: Float32Array = new Float32Array(0);
  let base = 0;
  const cmp = (a: number, b: number): number => {
    const d = raw[base + b]! - raw[base + a]!;
    return d !== 0 ? d : key[a]! - key[b]!;
  };
  for (let c0 = 0; c0 < n; c0 += chunkSize) {
    const c1 = Math.min(n, c0 + chunkSize);
    const m = c1 - c0;
    raw = scorer.scoreLists(
      request.subarray(c0, c1),
      candidates.items.subarray(c0 * listSize, c1 * listSize),
      listSize,
    );
    if (raw.length !== m * listSize) {
      throw new RangeError(
        `scoreAndOrder: scoreLists returned ${raw.length} scores for ${m} lists of ${listSize} (expected ${m * listSize})`,
      );
    }
    for (let i = 0; i < raw.length; i++) {
      if (!Number.isFinite(raw[i]!)) {
        const li = c0 + Math.floor(i / listSize);
        throw new RangeError(
          `scoreAndOrder: score of list ${li} (request ${request[li]}), position ${i % listSize} is ${raw[i]}`,
        );
      }
    }
    for (let li = 0; li < m; li++) {
      base = li * listSize;
      for (let j = 0; j < listSize; j++) {
        perm[j] = j;
        key[j] = rng.next();
      }
      perm.sort(cmp);
      const src = (c0 + li) * listSize;
      for (let j = 0; j < listSize; j++) {
        const p = perm[j]!;
        items[src + j] = candidates.items[src + p]!;
        labels[src + j] = candidates.labels[src + p]!;
        scores[src + j] = raw[base + p]!;
      }
    }
  }
  return { items, scores, labels };
}

/**
 * Histories of every request: the last `historyCap` interactions of the user before the window
 * (all interactions, positive or not), most recent last, left-padded with the padding index
 * `numItems`.
 *
 * @returns `history` Int32Array [R * historyCap] and `historyCount` Int32Array [R] (real items).
 */
export function buildHistories(
  requests: RequestSet,
  historyCap: number,
): { history: Int32Array; historyCount: Int32Array } {
  if (!Number.isInteger(historyCap) || historyCap < 0) {
    throw new RangeError(`historyCap must be a non-negative integer, got ${historyCap}`);
  }
  const n = requests.user.length;
  const pad = requests.numItems;
  const history = new Int32Array(n * historyCap).fill(pad);
  const historyCount = new Int32Array(n);
  for (let r = 0; r < n; r++) {
    const s0 = requests.seqStart[requests.user[r]!]!;
    const wStart = s0 + requests.pos[r]!;
    const from = Math.max(s0, wStart - historyCap);
    const count = wStart - from;
    historyCount[r] = count;
    const dst = r * historyCap + (historyCap - count);
    history.set(requests.seqItems.subarray(from, wStart), dst);
  }
  return { history, historyCount };
}

/**
 * Assembles the reranking dataset from requests and a frozen retriever: candidates (`'sampled'`
 * by default, or `'top'`), scored and ordered by {@link scoreAndOrder}, histories from
 * {@link buildHistories}; `user` and `split` copied from the RequestSet. One list per request, in
 * request order.
 *
 * `meta` records `{ source: 'requests', candidateMode, listSize, historyCap, windowSize, seed }`
 * merged with `options.meta`.
 *
 * @returns a RerankDataset with n = R lists: items/scores/labels [R * listSize],
 *   history [R * historyCap], historyCount/user/split [R].
 */
export function buildRerankDataset(
  requests: RequestSet,
  scorer: CandidateScorer,
  options: BuildRerankDatasetOptions,
): RerankDataset {
  const listSize = options.listSize ?? 50;
  const historyCap = options.historyCap ?? 50;
  const mode = options.candidateMode ?? 'sampled';
  let candidates: CandidateLists;
  if (mode === 'sampled') {
    candidates = sampleCandidates(requests, { listSize, seed: options.seed });
  } else if (mode === 'top') {
    candidates = topCandidates(requests, scorer, { listSize });
  } else {
    throw new RangeError(`buildRerankDataset: unknown candidateMode '${String(mode)}'`);
  }
  const ordered = scoreAndOrder(candidates, scorer, {
    seed: options.seed,
    ...(options.chunkSize !== undefined ? { chunkSize: options.chunkSize } : {}),
  });
  const { history, historyCount } = buildHistories(requests, historyCap);
  return {
    numUsers: requests.numUsers,
    numItems: requests.numItems,
    listSize,
    historyLength: historyCap,
    user: Int32Array.from(requests.user),
    history,
    historyCount,
    items: ordered.items,
    scores: ordered.scores,
    labels: ordered.labels,
    split: Uint8Array.from(requests.split),
    meta: {
      source: 'requests',
      candidateMode: mode,
      listSize,
      historyCap,
      windowSize: requests.windowSize,
      seed: options.seed,
      ...options.meta,
    },
  };
}

/**
 * Input validation shared by every entry point. Errors name the offending field and, for
 * per-row problems, the row index, its list and its position inside the list.
 */
import type { LabelArray, ScoreArray } from './types';

/** Throws a `TypeError` unless `value` is an array or typed array (anything with a numeric `length`). */
export function assertArrayLike(value: unknown, field: string): asserts value is ArrayLike<number> {
  if (
    value === null ||
    typeof value !== 'object' ||
    typeof (value as { length?: unknown }).length !== 'number'
  ) {
    throw new TypeError(
      `${field} must be an array or typed array of numbers, got ${describe(value)}`,
    );
  }
}

/** Throws a `RangeError` unless `value` is an integer `>= 1`. */
export function assertPositiveInteger(value: unknown, field: string): asserts value is number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 1) {
    throw new RangeError(`${field} must be a positive integer, got ${describe(value)}`);
  }
}

/** Validates a list of cut-offs and returns it as an `Int32Array`. */
export function toKs(ks: unknown, field = 'ks'): Int32Array {
  if (!Array.isArray(ks)) {
    throw new TypeError(`${field} must be an array of positive integers, got ${describe(ks)}`);
  }
  if (ks.length === 0) throw new RangeError(`${field} must hold at least one cut-off`);
  const out = new Int32Array(ks.length);
  for (let t = 0; t < ks.length; t++) {
    const k: unknown = ks[t];
    assertPositiveInteger(k, `${field}[${t}]`);
    if (k > 0x7fffffff) throw new RangeError(`${field}[${t}] is too large: ${k}`);
    out[t] = k;
  }
  return out;
}

/**
 * Checks the shape of a batch of lists: both arrays array-like, equal lengths, `listSize` a
 * positive integer dividing the length. With `allowEmpty = false` an empty batch is an error.
 * Returns the number of lists.
 */
export function checkShape(
  scores: unknown,
  labels: unknown,
  listSize: unknown,
  allowEmpty: boolean,
): number {
  assertArrayLike(scores, 'scores');
  assertArrayLike(labels, 'labels');
  assertPositiveInteger(listSize, 'listSize');
  const n = scores.length;
  if (labels.length !== n) {
    throw new RangeError(`labels.length (${labels.length}) must equal scores.length (${n})`);
  }
  if (n === 0 && !allowEmpty) {
    throw new RangeError('scores is empty: at least one list of candidates is required');
  }
  if (n % listSize !== 0) {
    throw new RangeError(
      `scores.length (${n}) is not a multiple of listSize (${listSize}): every list must be complete`,
    );
  }
  return n / listSize;
}

/**
 * One pass over the rows: every score must be a finite number and every label exactly 0 or 1.
 * The first bad row throws a `RangeError` naming its index, list and position.
 */
export function checkRows(scores: ScoreArray, labels: LabelArray, listSize: number): void {
  const n = scores.length;
  for (let i = 0; i < n; i++) {
    const s = scores[i];
    if (!Number.isFinite(s)) {
      throw new RangeError(
        `scores[${i}] (list ${Math.floor(i / listSize)}, position ${i % listSize}) must be a finite number, got ${describe(s)}`,
      );
    }
    const y = labels[i];
    if (y !== 0 && y !== 1) {
      throw new RangeError(
        `labels[${i}] (list ${Math.floor(i / listSize)}, position ${i % listSize}) must be 0 or 1, got ${describe(y)}`,
      );
    }
  }
}

function describe(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value);
  if (typeof value === 'number' || typeof value === 'boolean' || typeof value === 'bigint') {
    return String(value);
  }
  if (value === null || value === undefined) return String(value);
  if (Array.isArray(value)) return 'an array';
  return typeof value === 'object' ? (value.constructor?.name ?? 'an object') : typeof value;
}

/**
 * Validates one list (the whole array is the list): array-like inputs of equal, non-zero
 * length, finite scores and 0/1 labels.
 */
export function checkSingleList(scores: unknown, labels: unknown): void {
  assertArrayLike(scores, 'scores');
  assertArrayLike(labels, 'labels');
  const n = scores.length;
  checkShape(scores, labels, n === 0 ? 1 : n, false);
  checkRows(scores, labels, n);
}

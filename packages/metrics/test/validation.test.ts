import { describe, expect, it } from 'vitest';
import {
  auc,
  createListMetricsAccumulator,
  createListMetricsAccumulatorAtKs,
  evaluateLists,
  evaluateListsAtKs,
  hitRatioAtK,
} from '../src/index';

const base = { scores: [0.1, 0.2, 0.3, 0.4], labels: [0, 1, 1, 0], listSize: 2, k: 1 };

describe('evaluateLists validation', () => {
  it('rejects non-arrays with a TypeError naming the field', () => {
    expect(() => evaluateLists({ ...base, scores: 5 as unknown as number[] })).toThrow(
      new TypeError('scores must be an array or typed array of numbers, got 5'),
    );
    expect(() => evaluateLists({ ...base, labels: null as unknown as number[] })).toThrow(
      /^labels must be an array/,
    );
    expect(() => evaluateLists(undefined as never)).toThrow(TypeError);
  });

  it('rejects a length mismatch', () => {
    expect(() => evaluateLists({ ...base, labels: [0, 1, 1] })).toThrow(
      new RangeError('labels.length (3) must equal scores.length (4)'),
    );
  });

  it('rejects empty input', () => {
    expect(() => evaluateLists({ ...base, scores: [], labels: [] })).toThrow(/^scores is empty/);
  });

  it('rejects a bad listSize', () => {
    expect(() => evaluateLists({ ...base, listSize: 3 })).toThrow(
      new RangeError(
        'scores.length (4) is not a multiple of listSize (3): every list must be complete',
      ),
    );
    for (const listSize of [0, -2, 1.5, NaN]) {
      expect(() => evaluateLists({ ...base, listSize })).toThrow(
        new RangeError(`listSize must be a positive integer, got ${listSize}`),
      );
    }
  });

  it('rejects a bad k', () => {
    for (const k of [0, -1, 2.5, Infinity]) {
      expect(() => evaluateLists({ ...base, k })).toThrow(
        new RangeError(`k must be a positive integer, got ${k}`),
      );
    }
    expect(() => evaluateLists({ ...base, k: '2' as unknown as number })).toThrow(
      'k must be a positive integer, got "2"',
    );
  });

  it('rejects non-finite scores naming index, list and position', () => {
    expect(() => evaluateLists({ ...base, scores: [0.1, 0.2, NaN, 0.4] })).toThrow(
      new RangeError('scores[2] (list 1, position 0) must be a finite number, got NaN'),
    );
    expect(() =>
      evaluateLists({ ...base, scores: Float32Array.from([0.1, 0.2, 0.3, -Infinity]) }),
    ).toThrow('scores[3] (list 1, position 1) must be a finite number, got -Infinity');
    expect(() =>
      evaluateLists({ ...base, scores: [0.1, '0.2', 0.3, 0.4] as unknown as number[] }),
    ).toThrow('scores[1] (list 0, position 1) must be a finite number, got "0.2"');
  });

  it('rejects labels other than 0/1 naming index and value', () => {
    expect(() => evaluateLists({ ...base, labels: [0, 1, 2, 0] })).toThrow(
      new RangeError('labels[2] (list 1, position 0) must be 0 or 1, got 2'),
    );
    expect(() => evaluateLists({ ...base, labels: Float32Array.from([0, 0.5, 1, 0]) })).toThrow(
      'labels[1] (list 0, position 1) must be 0 or 1, got 0.5',
    );
    expect(() => evaluateLists({ ...base, labels: [0, 1, 1, NaN] })).toThrow(
      'labels[3] (list 1, position 1) must be 0 or 1, got NaN',
    );
  });
});

describe('other entry points validate too', () => {
  it('evaluateListsAtKs checks ks', () => {
    const { k: _k, ...rest } = base;
    expect(() => evaluateListsAtKs({ ...rest, ks: [] })).toThrow(
      new RangeError('ks must hold at least one cut-off'),
    );
    expect(() => evaluateListsAtKs({ ...rest, ks: [1, 0] })).toThrow(
      new RangeError('ks[1] must be a positive integer, got 0'),
    );
    expect(() => evaluateListsAtKs({ ...rest, ks: 3 as unknown as number[] })).toThrow(TypeError);
  });

  it('single-list functions', () => {
    expect(() => hitRatioAtK([], [], 1)).toThrow(/^scores is empty/);
    expect(() => hitRatioAtK([1, 2], [1, 0], 0)).toThrow('k must be a positive integer, got 0');
    expect(() => auc([1, Infinity], [1, 0])).toThrow(
      'scores[1] (list 0, position 1) must be a finite number, got Infinity',
    );
    expect(() => auc([1, 2], [1])).toThrow('labels.length (1) must equal scores.length (2)');
  });

  it('accumulator options and batches', () => {
    expect(() => createListMetricsAccumulator({ listSize: 0, k: 1 })).toThrow(
      'listSize must be a positive integer, got 0',
    );
    expect(() => createListMetricsAccumulator({ listSize: 2, k: 0 })).toThrow(
      'k must be a positive integer, got 0',
    );
    expect(() => createListMetricsAccumulator({ listSize: 2, k: 1, aucHistogramBits: 7 })).toThrow(
      'aucHistogramBits must be an integer in [8, 20], got 7',
    );
    expect(() => createListMetricsAccumulator({ listSize: 2, k: 1, aucHistogramBits: 21 })).toThrow(
      RangeError,
    );
    expect(() => createListMetricsAccumulatorAtKs({ listSize: 2, ks: [] })).toThrow(
      'ks must hold at least one cut-off',
    );
    const acc = createListMetricsAccumulator({ listSize: 2, k: 1 });
    expect(() => acc.add([1, 2, 3], [0, 1, 0])).toThrow(
      'scores.length (3) is not a multiple of listSize (2): every list must be complete',
    );
    expect(() => acc.add([1, 2, 3, 4], [0, 1, 0, 3])).toThrow(
      'labels[3] (list 1, position 1) must be 0 or 1, got 3',
    );
  });
});

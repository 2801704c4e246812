import { describe, expect, it } from 'vitest';
import { generateLabDataset, idealAugmentLab, validateRerankDataset } from '../src/index';

const small = generateLabDataset({
  seed: 7,
  numUsers: 40,
  numItems: 120,
  trainLists: 30,
  validationLists: 10,
  testLists: 12,
  retrieverNoise: { train: 0.2, eval: 3 },
});
const L = small.listSize;
const H = small.historyLength;

/** Sorted multiset of (item, label, prob) of one list, to compare lists up to order. */
function content(ds: typeof small, row: number): string[] {
  const out: string[] = [];
  for (let g = 0; g < L; g++) {
    const k = row * L + g;
    out.push(`${ds.items[k]}:${ds.labels[k]}:${ds.trueProbs[k]}`);
  }
  return out.sort();
}

describe('idealAugmentLab', () => {
  it('returns the dataset itself for 0 copies and rejects bad counts', () => {
    expect(idealAugmentLab(small, 0, 1)).toBe(small);
    expect(() => idealAugmentLab(small, -1, 1)).toThrow(/integer >= 0/);
    expect(() => idealAugmentLab(small, 1.5, 1)).toThrow(/integer >= 0/);
  });

  it('appends copies of the training lists and keeps validation and test lists as they were', () => {
    const aug = idealAugmentLab(small, 2, 3);
    validateRerankDataset(aug);
    const n = small.split.length;
    expect(aug.split.length).toBe(n + 2 * 30);
    // Layout: 90 training lists (30 real, then 2 x 30 copies), then the 22 evaluation lists unchanged.
    expect(Array.from(aug.split.subarray(0, 90)).every((s) => s === 0)).toBe(true);
    for (let r = 30; r < n; r++) {
      const to = r + 60;
      expect(aug.split[to]).toBe(small.split[r]);
      expect(aug.user[to]).toBe(small.user[r]);
      expect(Array.from(aug.scores.subarray(to * L, to * L + L))).toEqual(
        Array.from(small.scores.subarray(r * L, r * L + L)),
      );
      expect(Array.from(aug.history.subarray(to * H, to * H + H))).toEqual(
        Array.from(small.history.subarray(r * H, r * H + H)),
      );
    }
    // Copy c of training list r has the same user, history and candidates, with fresh scores, sorted.
    for (const c of [1, 2]) {
      for (const r of [0, 17, 29]) {
        const to = r + 30 * c;
        expect(aug.user[to]).toBe(small.user[r]);
        expect(aug.historyCount[to]).toBe(small.historyCount[r]);
        expect(content(aug, to)).toEqual(content(small, r));
        const s = aug.scores.subarray(to * L, to * L + L);
        for (let g = 1; g < L; g++) expect(s[g - 1]!).toBeGreaterThanOrEqual(s[g]!);
        expect(Array.from(s)).not.toEqual(Array.from(small.scores.subarray(r * L, r * L + L)));
      }
    }
    expect(aug.meta.idealAugmentation).toEqual({ copies: 2, seed: 3, std: 3 });
  });

  it('draws the copies at the evaluation noise level, not the training one', () => {
    // With train noise 0.2 the real training scores almost equal the true probabilities; the copies
    // are drawn with noise 3 in logit units, so they are much farther from them.
    const aug = idealAugmentLab(small, 1, 5);
    const logit = (p: number): number => Math.log(p / (1 - p));
    const rms = (from: number, to: number): number => {
      let s = 0;
      for (let k = from * L; k < to * L; k++) {
        const p = Math.min(1 - 1e-7, Math.max(1e-7, aug.trueProbs[k]!));
        s += (logit(aug.scores[k]!) - logit(p)) ** 2;
      }
      return Math.sqrt(s / ((to - from) * L));
    };
    expect(rms(0, 30)).toBeGreaterThan(0.15);
    expect(rms(0, 30)).toBeLessThan(0.25);
    expect(rms(30, 60)).toBeGreaterThan(2.7);
    expect(rms(30, 60)).toBeLessThan(3.3);
  });

  it('is deterministic for a seed', () => {
    const a = idealAugmentLab(small, 1, 11);
    const b = idealAugmentLab(small, 1, 11);
    const c = idealAugmentLab(small, 1, 12);
    expect(Array.from(a.scores)).toEqual(Array.from(b.scores));
    expect(Array.from(a.scores)).not.toEqual(Array.from(c.scores));
  });
});

import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  BetaNoise,
  LearnedNoiseGenerator,
  WarmupSchedule,
  createWarmupGenerator,
} from '../src/index.js';
import type { WarmupScheduleConfig } from '../src/index.js';
import { useCpu } from './helpers.js';

beforeAll(useCpu);

describe('WarmupSchedule', () => {
  it('uses the heuristic for epochs 0 … τ-1 and the learned generator from epoch τ', () => {
    const heuristic = new BetaNoise({ seed: 1 });
    const learned = new LearnedNoiseGenerator({ seed: 2, hiddenUnits: 4 });
    const s = createWarmupGenerator({ heuristic, learned, tau: 3 });
    expect([0, 1, 2, 3, 4].map((e) => s.isLearnedPhase(e))).toEqual([
      false,
      false,
      false,
      true,
      true,
    ]);
    expect([0, 2, 3].map((e) => s.phase(e))).toEqual(['heuristic', 'heuristic', 'learned']);
    expect(s.generatorFor(2)).toBe(heuristic);
    expect(s.generatorFor(3)).toBe(learned);
    const y = tf.ones([2, 3]) as tf.Tensor2D;
    const eps = s.generatorFor(5).sample(y, { training: true });
    expect(eps.shape).toEqual([2, 3]);
    tf.dispose([y, eps]);
    s.dispose();
  });

  it('with τ = 0 is learned from the start', () => {
    const s = new WarmupSchedule({
      heuristic: new BetaNoise({ seed: 1 }),
      learned: new BetaNoise({ seed: 2 }),
      tau: 0,
    });
    expect(s.isLearnedPhase(0)).toBe(true);
  });

  it('validates τ and epochs, and round-trips its config', () => {
    const heuristic = new BetaNoise({ seed: 1 });
    const learned = new LearnedNoiseGenerator({ seed: 2, hiddenUnits: 4 });
    expect(() => createWarmupGenerator({ heuristic, learned, tau: -1 })).toThrow(
      /tau must be .* got -1/,
    );
    expect(() => createWarmupGenerator({ heuristic, learned, tau: 2.5 })).toThrow(/tau .* got 2.5/);
    const s = createWarmupGenerator({ heuristic, learned, tau: 40 });
    expect(() => s.isLearnedPhase(-1)).toThrow(/epoch must be .* got -1/);
    const config = JSON.parse(JSON.stringify(s.getConfig())) as WarmupScheduleConfig;
    expect(config.tau).toBe(40);
    const t = WarmupSchedule.fromConfig(config);
    expect(t.getConfig()).toEqual(s.getConfig());
    const before = tf.memory().numTensors;
    s.dispose();
    t.dispose();
    expect(tf.memory().numTensors).toBe(before - 8);
  });
});

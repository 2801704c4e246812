import { beforeAll, describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs-core';
import { generateLabDataset } from '@dnr/data';
import {
  BceObjective,
  DnrObjective,
  METHOD_NAMES,
  createHeuristicGenerator,
  createMethodObjective,
  heuristicNoiseSpec,
  methodConfig,
  methodPatienceStart,
  trainReranker,
  usesLearnedGenerator,
  type DnrDiagnostics,
  type MethodName,
} from '../src/index';
import { tinyLab, tinyPrm, useCpu } from './trainer-fixtures';

beforeAll(useCpu);

describe('methodConfig', () => {
  it('maps every name to its generators and weights (protocol 1.9, Table 7 defaults)', () => {
    const dnrB = methodConfig('dnr-b');
    expect(dnrB).toMatchObject({
      objective: 'dnr',
      scoreUsage: 'concat',
      heuristic: { type: 'beta', a: 0.5, b: 0.5, signed: false },
      learned: { activation: 'sigmoid', maxDeviation: null, latentDim: 16, hiddenUnits: 128 },
      alpha: 0.4,
      lambda: 0.4,
      tau: 3,
      betaAdv: 1,
      betaX: 1,
      divergence: 'softmaxKL',
      mix: 'linear',
      form: 'additive',
      generatorEvery: 1,
      generatorStepTraining: true,
    });
    expect(methodConfig('dnr-g')).toMatchObject({
      heuristic: { type: 'gaussian', mean: 0, std: 1 },
      learned: { activation: 'identity', maxDeviation: 3 },
    });
    expect(methodConfig('dnr-bl').heuristic).toEqual({ type: 'beta', a: 2, b: 5, signed: false });
    for (const name of ['w-g', 'w-b'] as const) {
      expect(methodConfig(name)).toMatchObject({ learned: null, betaAdv: 0, betaX: 0 });
    }
    expect(methodConfig('g-wo-adv')).toMatchObject({
      betaAdv: 0,
      betaX: 1,
      heuristic: { type: 'gaussian' },
    });
    expect(methodConfig('g-wo-x')).toMatchObject({
      betaAdv: 1,
      betaX: 0,
      heuristic: { type: 'gaussian' },
    });
    expect(methodConfig('b-wo-adv')).toMatchObject({
      betaAdv: 0,
      betaX: 1,
      heuristic: { type: 'beta' },
    });
    expect(methodConfig('b-wo-x')).toMatchObject({
      betaAdv: 1,
      betaX: 0,
      heuristic: { type: 'beta' },
    });
    expect(methodConfig('prm')).toMatchObject({
      objective: 'bce',
      scoreUsage: 'none',
      heuristic: null,
      learned: null,
    });
  });

  it('applies overrides and refuses those that do not apply', () => {
    const m = methodConfig('dnr-b', {
      alpha: 0.6,
      tau: 5,
      heuristic: heuristicNoiseSpec('beta-signed'),
      learned: { activation: 'tanh' },
      divergence: 'moments',
    });
    expect(m).toMatchObject({
      alpha: 0.6,
      tau: 5,
      heuristic: { type: 'beta', signed: true },
      learned: { activation: 'tanh', maxDeviation: null },
      divergence: 'moments',
    });
    // switching DNR-G's identity output to sigmoid drops its soft bound
    expect(methodConfig('dnr-g', { learned: { activation: 'sigmoid' } }).learned).toMatchObject({
      activation: 'sigmoid',
      maxDeviation: null,
    });
    expect(() => methodConfig('dnr-b', { learned: { maxDeviation: 2 } })).toThrow(
      /maxDeviation applies only to the identity output/,
    );
    expect(() => methodConfig('w-b', { tau: 2 })).toThrow(/no learned generator: tau/);
    expect(() => methodConfig('b-wo-adv', { betaAdv: 1 })).toThrow(/without L_adv/);
    expect(() => methodConfig('g-wo-x', { betaX: 0.5 })).toThrow(/without L_x/);
    expect(() => methodConfig('prm', { alpha: 0.3 })).toThrow(/plain BCE.*alpha/);
    expect(methodConfig('prm', { scoreUsage: 'concat' }).scoreUsage).toBe('concat');
    expect(() => methodConfig('dnr-x' as MethodName)).toThrow(/method must be one of prm, dnr-g/);
    expect(() => methodConfig('dnr-b', { divergence: 'kl' as never })).toThrow(/divergence/);
  });

  it('counts patience from τ + 1 only for methods with a learned generator (0b.3)', () => {
    expect(methodPatienceStart(methodConfig('dnr-b'))).toBe(4);
    expect(methodPatienceStart(methodConfig('g-wo-x', { tau: 7 }))).toBe(8);
    expect(methodPatienceStart(methodConfig('w-b'))).toBe(1);
    expect(methodPatienceStart(methodConfig('prm'))).toBe(1);
    expect(METHOD_NAMES.filter((n) => usesLearnedGenerator(methodConfig(n)))).toEqual([
      'dnr-g',
      'dnr-b',
      'dnr-bl',
      'g-wo-adv',
      'g-wo-x',
      'b-wo-adv',
      'b-wo-x',
    ]);
  });
});

describe('heuristic generators', () => {
  it('fits label-beta to the train split so that x̂ overlaps the classes like the real scores', () => {
    const ds = tinyLab();
    expect(() =>
      createHeuristicGenerator({ type: 'label-beta' }, { seed: 1, alpha: 0.4, mix: 'linear' }),
    ).toThrow(/pass the dataset/);
    const gen = createHeuristicGenerator(
      { type: 'label-beta' },
      { seed: 1, alpha: 0.4, mix: 'linear', dataset: ds },
    );
    expect(gen.type).toBe('label-beta');
    // support = preimage of [0, 1] under Eq. 4: positives [-1.5, 1], negatives [0, 2.5]
    const s = gen.support();
    expect(s.positive[0]).toBeCloseTo(-1.5, 6);
    expect(s.positive[1]).toBeCloseTo(1, 6);
    expect(s.negative[0]).toBeCloseTo(0, 6);
    expect(s.negative[1]).toBeCloseTo(2.5, 6);
    const beta = createHeuristicGenerator(heuristicNoiseSpec('beta-bl'), {
      seed: 1,
      alpha: 0.4,
      mix: 'linear',
    });
    expect(beta.getConfig()).toEqual({ type: 'beta', seed: 1, a: 2, b: 5, signed: false });
    expect(() => heuristicNoiseSpec('uniform' as never)).toThrow(/gaussian, beta/);
  });
});

describe('every named method', () => {
  const ds = tinyLab();

  it('builds and trains one tiny epoch (learned methods with τ = 0)', async () => {
    // fewer lists than the shared tiny lab: ten methods must stay within a few seconds
    const small = generateLabDataset({
      seed: 7,
      numUsers: 50,
      numItems: 80,
      trainLists: 120,
      validationLists: 40,
      testLists: 40,
      listSize: 20,
      historyLength: 10,
    });
    for (const name of METHOD_NAMES) {
      const base = methodConfig(name);
      const method = usesLearnedGenerator(base)
        ? methodConfig(name, { tau: 0, learned: { hiddenUnits: 16 } })
        : base;
      const model = tinyPrm(small, { scoreUsage: method.scoreUsage });
      const before = tf.memory().numTensors;
      const objective = createMethodObjective(model, method, {
        seed: 3,
        lr: 3e-3,
        dataset: small,
      });
      expect(objective).toBeInstanceOf(name === 'prm' ? BceObjective : DnrObjective);
      const result = await trainReranker({
        model,
        objective,
        dataset: small,
        config: { epochs: 1, batchSize: 60, seed: 2 },
      });
      objective.dispose();
      expect(tf.memory().numTensors, name).toBe(before);
      model.dispose();
      const record = result.history[0]!;
      const keys = Object.keys(record.losses).sort();
      if (name === 'prm') {
        expect(keys).toEqual(['loss']);
        expect(record.diagnostics).toBeUndefined();
        continue;
      }
      const expected = ['lBce', 'lD', 'lZ', 'loss'];
      if (method.learned !== null) {
        expected.push('lG');
        if (method.betaAdv > 0) expected.push('lAdv');
        if (method.betaX > 0) expected.push('lX');
      }
      expect(keys, name).toEqual(expected.sort());
      const d = record.diagnostics as DnrDiagnostics;
      expect(d.phase, name).toBe(method.learned === null ? 'heuristic' : 'learned');
      expect(d.auc.synthetic, name).toBeGreaterThan(0);
      expect(Number.isFinite(result.test.ndcg ?? NaN), name).toBe(true);
    }
  });

  it('derives distinct, reproducible generator seeds from the run seed', () => {
    const model = tinyPrm(ds, { scoreUsage: 'concat' });
    const config = (seed: number) => {
      const objective = createMethodObjective(model, methodConfig('dnr-b'), { seed });
      objective.dispose();
      return (objective as DnrObjective).config;
    };
    const a = config(1);
    expect(config(1)).toEqual(a);
    expect(a.heuristic.seed).not.toBe(a.learned?.seed);
    expect(config(2).heuristic.seed).not.toBe(a.heuristic.seed);
    expect(() => createMethodObjective(model, methodConfig('dnr-b'), { seed: 0 })).toThrow(/seed/);
    model.dispose();
  });
});

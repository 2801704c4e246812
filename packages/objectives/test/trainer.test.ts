import { mkdtempSync, readFileSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { decodeReranker, type NamedWeight } from '@dnr/backbones';
import {
  BceObjective,
  CheckpointError,
  RUN_FILES,
  loadCheckpoint,
  resolveTrainerConfig,
  trainReranker,
  type EpochRecord,
  type TrainerProgress,
} from '../src/index';
import {
  ItemScoreModel,
  ScheduleObjective,
  ndcgAtRank,
  rankDataset,
  tinyLab,
  tinyPrm,
  useCpu,
  weightsForRank,
} from './trainer-fixtures';

beforeAll(useCpu);

const tempDir = (): string => mkdtempSync(join(tmpdir(), 'dnr-trainer-test-'));
const readJsonl = (path: string): EpochRecord[] =>
  readFileSync(path, 'utf8')
    .trimEnd()
    .split('\n')
    .map((line) => JSON.parse(line) as EpochRecord);

/** Runs the schedule objective (validation rank per epoch) through the trainer. */
async function runSchedule(
  ranks: number[],
  config: { epochs: number; patience: number; patienceStartEpoch?: number; restart?: boolean },
  runDir?: string,
) {
  const model = new ItemScoreModel();
  const objective = new ScheduleObjective(model, ranks);
  const lines: string[] = [];
  const result = await trainReranker({
    model,
    objective,
    dataset: rankDataset(),
    config: { batchSize: 2, ...config },
    ...(runDir ? { runDir } : {}),
    log: (l) => lines.push(l),
  });
  const finalW = Float32Array.from(model.w.dataSync());
  const randomEpochs = [...model.randomEpochs];
  model.dispose();
  return { result, lines, finalW, randomEpochs };
}

describe('trainReranker: early stopping (hand-computed)', () => {
  // validation rank of the positive per epoch -> NDCG@6 = 1/log2(r+1): 0.5, 0.631, 1, 1, 0.631, ...
  const ranks = [3, 2, 1, 1, 2, 2, 2, 1, 1, 1];

  it('stops after `patience` epochs without a strict improvement and keeps the best epoch', async () => {
    const dir = tempDir();
    const { result, finalW, randomEpochs, lines } = await runSchedule(
      ranks,
      { epochs: 10, patience: 2 },
      dir,
    );
    // epoch 3 is the best (1.0); epoch 4 ties (no improvement, count 1); epoch 5 -> count 2 -> stop.
    expect(result.epochsRun).toBe(5);
    expect(result.bestEpoch).toBe(3);
    expect(result.stopReason).toBe('patience');
    expect(result.bestAfterPatienceStart).toBe(true);
    expect(result.validation?.ndcg).toBeCloseTo(1, 12);
    expect(result.history.map((r) => r.validation.ndcg)).toEqual(
      [3, 2, 1, 1, 2].map((r) => expect.closeTo(ndcgAtRank(r), 12)),
    );
    expect(result.history.map((r) => r.epochsWithoutImprovement)).toEqual([0, 0, 0, 1, 2]);
    // the model ends with the best epoch's weights, and so does best.dnrr
    expect([...finalW]).toEqual([...weightsForRank(1, 3)]);
    const best = decodeReranker(readFileSync(join(dir, RUN_FILES.best)));
    expect(best.name).toBe('item-score');
    expect([...best.weights[0]!.data]).toEqual([...weightsForRank(1, 3)]);
    // test lists are scored with the best weights: the positive is first
    expect(result.test.ndcg).toBeCloseTo(1, 12);
    expect(result.test.hr).toBeCloseTo(1 / 6, 12);
    expect(randomEpochs).toEqual([1, 2, 3, 4, 5]);
    expect(lines.some((l) => l.includes('early stop'))).toBe(true);
  });

  it('counts patience only from patienceStartEpoch and reports where the best epoch lies', async () => {
    const dir = tempDir();
    const { result } = await runSchedule(
      ranks,
      { epochs: 10, patience: 2, patienceStartEpoch: 6 },
      dir,
    );
    // epochs 4 and 5 do not count; 6 and 7 do (no improvement over epoch 3) -> stop after 7.
    expect(result.epochsRun).toBe(7);
    expect(result.bestEpoch).toBe(3);
    expect(result.bestAfterPatienceStart).toBe(false);
    const records = readJsonl(join(dir, RUN_FILES.log));
    expect(records.map((r) => r.countsForPatience)).toEqual([
      false,
      false,
      false,
      false,
      false,
      true,
      true,
    ]);
    expect(records.map((r) => r.epochsWithoutImprovement)).toEqual([0, 0, 0, 0, 0, 1, 2]);
    const metrics = JSON.parse(readFileSync(join(dir, RUN_FILES.metrics), 'utf8')) as Record<
      string,
      unknown
    >;
    expect(metrics).toMatchObject({
      bestEpoch: 3,
      epochsRun: 7,
      stopReason: 'patience',
      patienceStartEpoch: 6,
      bestAfterPatienceStart: false,
    });
  });

  it('a best epoch after the patience start is reported as such', async () => {
    // ranks 2,2,2 then 1 at epoch 4 (>= start 3)
    const { result } = await runSchedule([2, 2, 2, 1, 2], {
      epochs: 5,
      patience: 3,
      patienceStartEpoch: 3,
    });
    expect(result.bestEpoch).toBe(4);
    expect(result.bestAfterPatienceStart).toBe(true);
    expect(result.stopReason).toBe('max-epochs');
    expect(result.epochsRun).toBe(5);
  });

  it('writes one parseable JSONL line per epoch with the averaged loss terms', async () => {
    const dir = tempDir();
    await runSchedule([3, 2, 1], { epochs: 3, patience: 5 }, dir);
    const records = readJsonl(join(dir, RUN_FILES.log));
    expect(records.map((r) => r.epoch)).toEqual([1, 2, 3]);
    // 4 training lists in batches of 2: steps 0 and 1, each of 2 lists -> mean step 0.5
    expect(records.map((r) => r.losses)).toEqual([
      { loss: 1, step: 0.5 },
      { loss: 2, step: 0.5 },
      { loss: 3, step: 0.5 },
    ]);
    for (const r of records) {
      expect(r.validation.lists).toBe(2);
      expect(r.seconds).toBeGreaterThanOrEqual(r.trainSeconds);
      expect(r.listsPerSecond).toBeGreaterThan(0);
    }
    expect(records.map((r) => r.improved)).toEqual([true, true, true]);
  });

  it('rejects bad settings and datasets without validation lists', async () => {
    expect(() => resolveTrainerConfig({ epochs: 0 })).toThrow(/epochs must be a positive integer/);
    expect(() => resolveTrainerConfig({ epochs: 1, seed: 0 })).toThrow(/non-zero/);
    expect(() => resolveTrainerConfig({ epochs: 1, batchsize: 3 } as never)).toThrow(
      /unknown config key 'batchsize'/,
    );
    const ds = { ...rankDataset(), split: Uint8Array.from([0, 0, 0, 0, 2, 2, 2, 2]) };
    const model = new ItemScoreModel();
    await expect(
      trainReranker({
        model,
        objective: new ScheduleObjective(model, [1]),
        dataset: ds,
        config: { epochs: 1 },
      }),
    ).rejects.toThrow(/no validation lists/);
    model.dispose();
  });
});

describe('trainReranker: checkpoints and resume', () => {
  it('resumes a crashed run and then skips finished work', async () => {
    const dir = tempDir();
    const model = new ItemScoreModel();
    const objective = new ScheduleObjective(model, [3, 2, 1, 2]);
    const crash = trainReranker({
      model,
      objective,
      dataset: rankDataset(),
      config: { epochs: 4, batchSize: 2, patience: 5 },
      runDir: dir,
      onEpochEnd: (r) => {
        if (r.epoch === 2) throw new Error('simulated crash');
      },
    });
    await expect(crash).rejects.toThrow('simulated crash');
    expect(existsSync(join(dir, RUN_FILES.metrics))).toBe(false);
    const ck = loadCheckpoint<TrainerProgress>(join(dir, RUN_FILES.checkpoint));
    expect(ck.progress.epoch).toBe(2);
    expect(ck.progress.bestEpoch).toBe(2);
    expect(ck.objective.arrays[0]?.data[0]).toBe(4); // 2 epochs x 2 steps
    model.dispose();

    const model2 = new ItemScoreModel();
    const objective2 = new ScheduleObjective(model2, [3, 2, 1, 2]);
    const lines: string[] = [];
    const result = await trainReranker({
      model: model2,
      objective: objective2,
      dataset: rankDataset(),
      config: { epochs: 4, batchSize: 2, patience: 5 },
      runDir: dir,
      log: (l) => lines.push(l),
    });
    expect(lines[0]).toMatch(/resuming .* after epoch 2 \(best epoch 2\)/);
    expect(result.resumedFromEpoch).toBe(2);
    expect(objective2.steps).toBe(8); // restored 4 + 2 epochs x 2
    expect(model2.randomEpochs).toEqual([3, 4]);
    expect(result.bestEpoch).toBe(3);
    expect(result.history.map((r) => r.epoch)).toEqual([1, 2, 3, 4]);
    expect(readJsonl(join(dir, RUN_FILES.log))).toHaveLength(4);

    // a finished run resumed again trains nothing and reports the same result
    const again = await trainReranker({
      model: model2,
      objective: objective2,
      dataset: rankDataset(),
      config: { epochs: 4, batchSize: 2, patience: 5 },
      runDir: dir,
    });
    expect(objective2.steps).toBe(8);
    expect(again.test).toEqual(result.test);
    expect(again.bestEpoch).toBe(3);
    model2.dispose();
  });

  it('refuses a checkpoint of another configuration, unless restart', async () => {
    const dir = tempDir();
    await runSchedule([3, 2], { epochs: 2, patience: 5 }, dir);
    await expect(runSchedule([3, 1], { epochs: 2, patience: 5 }, dir)).rejects.toThrow(
      /different configuration.*--restart/,
    );
    const model = new ItemScoreModel();
    const result = await trainReranker({
      model,
      objective: new ScheduleObjective(model, [3, 1]),
      dataset: rankDataset(),
      config: { epochs: 2, batchSize: 2, patience: 5, restart: true },
      runDir: dir,
    });
    expect(result.resumedFromEpoch).toBe(0);
    expect(result.bestEpoch).toBe(2);
    model.dispose();
  });

  it('a corrupt checkpoint gives a clear error (and restart recovers)', async () => {
    const dir = tempDir();
    await runSchedule([3, 2], { epochs: 2, patience: 5 }, dir);
    const path = join(dir, RUN_FILES.checkpoint);
    const bytes = readFileSync(path);
    bytes[bytes.length - 3] = bytes[bytes.length - 3]! ^ 0xff; // flip payload bits
    writeFileSync(path, bytes);
    const err = await runSchedule([3, 2], { epochs: 2, patience: 5 }, dir).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(CheckpointError);
    expect((err as CheckpointError).reason).toBe('corrupt');
    expect((err as Error).message).toMatch(/checksum.*restart/);
    writeFileSync(path, bytes.subarray(0, 20)); // truncated
    await expect(runSchedule([3, 2], { epochs: 2, patience: 5 }, dir)).rejects.toThrow(
      /unusable \(truncated/,
    );
    const { result } = await runSchedule([3, 2], { epochs: 2, patience: 5, restart: true }, dir);
    expect(result.resumedFromEpoch).toBe(0);
    expect(result.bestEpoch).toBe(2);
    expect(loadCheckpoint(path).progress.epoch).toBe(2); // a fresh, readable checkpoint
  });
});

describe('trainReranker with PRM and BCE (cpu)', () => {
  const ds = tinyLab();
  const config = { batchSize: 64, patience: 10, seed: 5, logEvery: 0 };
  const objectiveOptions = { lr: 3e-3, weightDecay: 1e-2 };

  async function finalState(
    dir: string,
  ): Promise<{ weights: NamedWeight[]; adam: Float32Array[] }> {
    const ck = loadCheckpoint(join(dir, RUN_FILES.checkpoint));
    return {
      weights: [...ck.modelWeights],
      adam: ck.objective.arrays.map((a) => a.data),
    };
  }

  it('resume equivalence: 3 epochs straight == 2 epochs, crash, resume (bit for bit)', async () => {
    const straightDir = tempDir();
    const m1 = tinyPrm(ds);
    const o1 = new BceObjective(m1, objectiveOptions);
    const straight = await trainReranker({
      model: m1,
      objective: o1,
      dataset: ds,
      config: { ...config, epochs: 3 },
      runDir: straightDir,
    });
    const straightBest = m1.getWeights();
    o1.dispose();
    m1.dispose();

    const resumedDir = tempDir();
    const m2 = tinyPrm(ds);
    const o2 = new BceObjective(m2, objectiveOptions);
    await expect(
      trainReranker({
        model: m2,
        objective: o2,
        dataset: ds,
        config: { ...config, epochs: 3 },
        runDir: resumedDir,
        onEpochEnd: (r) => {
          if (r.epoch === 2) throw new Error('crash');
        },
      }),
    ).rejects.toThrow('crash');
    o2.dispose();
    m2.dispose();
    const m3 = tinyPrm(ds);
    const o3 = new BceObjective(m3, objectiveOptions);
    const resumed = await trainReranker({
      model: m3,
      objective: o3,
      dataset: ds,
      config: { ...config, epochs: 3 },
      runDir: resumedDir,
    });
    const resumedBest = m3.getWeights();
    o3.dispose();
    m3.dispose();

    expect(resumed.resumedFromEpoch).toBe(2);
    // last-epoch weights and Adam state, bit for bit
    const a = await finalState(straightDir);
    const b = await finalState(resumedDir);
    expect(b.weights.map((w) => w.name)).toEqual(a.weights.map((w) => w.name));
    for (let i = 0; i < a.weights.length; i++) {
      expect(b.weights[i]!.data, a.weights[i]!.name).toEqual(a.weights[i]!.data);
    }
    expect(b.adam).toEqual(a.adam);
    // best weights and every metric and loss
    for (let i = 0; i < straightBest.length; i++) {
      expect(resumedBest[i]!.data).toEqual(straightBest[i]!.data);
    }
    expect(resumed.test).toEqual(straight.test);
    expect(resumed.bestEpoch).toBe(straight.bestEpoch);
    expect(resumed.history.map((r) => [r.losses, r.validation])).toEqual(
      straight.history.map((r) => [r.losses, r.validation]),
    );
  });

  it('learns (loss falls, validation NDCG beats the first epoch) and leaks no tensors', async () => {
    const model = tinyPrm(ds);
    const before = tf.memory().numTensors;
    const objective = new BceObjective(model, { lr: 3e-3 });
    const dir = tempDir();
    const result = await trainReranker({
      model,
      objective,
      dataset: ds,
      config: { ...config, epochs: 3 },
      runDir: dir,
    });
    // Adam holds 2 moments per variable (+ its 2 bias-correction scalars) and nothing else stays
    const nVars = model.trainableVariables().length;
    expect(tf.memory().numTensors).toBe(before + 2 * nVars + 2);
    objective.dispose();
    expect(tf.memory().numTensors).toBe(before);
    // a resumed (already finished) run: setState path, evaluation, no training
    const objective2 = new BceObjective(model, { lr: 3e-3 });
    await trainReranker({
      model,
      objective: objective2,
      dataset: ds,
      config: { ...config, epochs: 3 },
      runDir: dir,
    });
    objective2.dispose();
    expect(tf.memory().numTensors).toBe(before);
    model.dispose();

    const losses = result.history.map((r) => r.losses.loss!);
    expect(losses[2]).toBeLessThan(losses[0]!);
    const ndcg = result.history.map((r) => r.validation.ndcg!);
    expect(Math.max(ndcg[1]!, ndcg[2]!)).toBeGreaterThan(ndcg[0]!);
    for (const v of Object.values(result.test)) {
      if (typeof v === 'number' && v <= 1) expect(v).toBeGreaterThanOrEqual(0);
    }
    expect(result.test.lists).toBe(60);
  });
});

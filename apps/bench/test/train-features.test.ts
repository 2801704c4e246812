import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runCli, tempFiles } from './helpers';

// The lab's side features reach PRM (and can replace item ids: a content-only reranker).
const RUN_FILE = {
  lab: {
    numUsers: 40,
    numItems: 60,
    trainLists: 120,
    validationLists: 30,
    testLists: 30,
    listSize: 20,
    historyLength: 8,
  },
  dim: 16,
  blocks: 1,
  heads: 2,
  ffnDim: 32,
  batchSize: 64,
  userEncoder: 'mean',
};

describe('dnr-bench train with side features', () => {
  const dir = tempFiles({ 'run.json': JSON.stringify(RUN_FILE) });
  const base = ['train', '--method', 'prm', '--dataset', 'lab', '--config', join(dir, 'run.json')];
  const tail = ['--epochs', '1', '--backend', 'cpu', '--out', join(dir, 'results')];

  it('feeds the lab features to PRM by default', async () => {
    const { stderr, error } = await runCli([...base, ...tail]);
    expect(error).toBeUndefined();
    expect(stderr).toMatch(/side features: item 16 columns, user 16 columns/);
    const config = JSON.parse(
      readFileSync(join(dir, 'results/lab-prm-none-s1/config.json'), 'utf8'),
    ) as { model?: Record<string, unknown> };
    expect(JSON.stringify(config)).toMatch(/"userEncoder":"mean"/);
  });

  it('trains a content-only PRM and can ignore the features', async () => {
    const content = await runCli([...base, '--no-use-ids', '--run-id', 'content', ...tail]);
    expect(content.error).toBeUndefined();
    expect(content.stderr).toMatch(/side features: item 16/);
    const plain = await runCli([...base, '--no-side-features', '--run-id', 'ids', ...tail]);
    expect(plain.error).toBeUndefined();
    expect(plain.stderr).not.toMatch(/side features/);
    const noFeatures = await runCli([
      ...base,
      '--no-side-features',
      '--no-use-ids',
      '--run-id',
      'nothing',
      ...tail,
    ]);
    expect((noFeatures.error as Error).message).toMatch(/useIds/);
  });
});

describe('dnr-bench train reference settings of the lab (protocol 0b.7)', () => {
  const dir = tempFiles({ 'run.json': JSON.stringify(RUN_FILE) });
  const base = ['train', '--method', 'prm', '--dataset', 'lab', '--config', join(dir, 'run.json')];
  const tail = ['--epochs', '1', '--backend', 'cpu', '--out', join(dir, 'results')];
  const modelOf = (id: string): Record<string, unknown> =>
    (
      JSON.parse(readFileSync(join(dir, 'results', id, 'config.json'), 'utf8')) as {
        model: { config: Record<string, unknown> };
      }
    ).model.config;

  it('trains a PRM that never sees the retriever (no rank embedding, no score)', async () => {
    const run = await runCli([...base, '--no-rank-embedding', '--run-id', 'blind', ...tail]);
    expect(run.error).toBeUndefined();
    expect(modelOf('blind')).toMatchObject({ rankEmbedding: false, scoreUsage: 'none' });
    const pier = await runCli([
      ...base.map((a) => (a === 'prm' ? 'pier' : a)),
      '--no-rank-embedding',
      '--run-id',
      'pier-blind',
      ...tail,
    ]);
    expect((pier.error as Error).message).toMatch(/PRM only/);
  });

  it('scores training lists with the test-time noise for --honest-scores', async () => {
    const run = await runCli([...base, '--honest-scores', '--run-id', 'honest', ...tail]);
    expect(run.error).toBeUndefined();
    const config = JSON.parse(readFileSync(join(dir, 'results/honest/config.json'), 'utf8')) as {
      dataset: Record<string, unknown>;
    };
    expect(config.dataset).toMatchObject({ name: 'lab', honestScores: true });
    // Same seeds, other training scores: the training lists' ranks differ, so the loss does too.
    const shifted = await runCli([...base, '--run-id', 'shifted', ...tail]);
    const loss = (stderr: string): string | undefined =>
      /epoch 1\/1 · loss ([\d.]+)/.exec(stderr)?.[1];
    expect(loss(run.stderr)).toBeDefined();
    expect(loss(run.stderr)).not.toBe(loss(shifted.stderr));
  });

  it('trains on ideally augmented training lists (lab only)', async () => {
    const run = await runCli([...base, '--ideal-augmentation', '2', '--run-id', 'ideal', ...tail]);
    expect(run.error).toBeUndefined();
    // 120 real training lists plus 2 x 120 redrawn copies, then 30 + 30 evaluation lists.
    expect(run.stderr).toMatch(/on lab \(420 lists of 20\)/);
    expect(run.stderr).toMatch(/batch 1\/6 /);
    const file = await runCli([
      'train',
      '--method',
      'prm',
      '--format',
      'ml100k',
      '--input',
      join(dir, 'missing.data'),
      '--ideal-augmentation',
      '1',
      ...tail,
    ]);
    expect((file.error as Error).message).toMatch(/applies only to --dataset lab/);
  });
});

describe('negatable flags and run files', () => {
  it('a run file setting rankEmbedding / useIds / sideFeatures to false is not overridden by the flag defaults', async () => {
    const dir = tempFiles({
      'run.json': JSON.stringify({
        ...RUN_FILE,
        rankEmbedding: false,
        useIds: false,
      }),
    });
    const run = await runCli([
      'train',
      '--method',
      'prm',
      '--dataset',
      'lab',
      '--config',
      join(dir, 'run.json'),
      '--run-id',
      'file',
      '--epochs',
      '1',
      '--backend',
      'cpu',
      '--out',
      join(dir, 'results'),
    ]);
    expect(run.error).toBeUndefined();
    const model = (
      JSON.parse(readFileSync(join(dir, 'results/file/config.json'), 'utf8')) as {
        model: { config: Record<string, unknown> };
      }
    ).model.config;
    expect(model).toMatchObject({ rankEmbedding: false, useIds: false });
  });
});

import { existsSync, readFileSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { decodeReranker } from '@dnr/backbones';
import { checkMethodAvailable, dataSource, runIdOf, trainSchema } from '../src/train';
import { runCli, tempFiles } from './helpers';

// A tiny lab and a tiny PRM so the CLI trains in about a second on the cpu backend.
const RUN_FILE = {
  lab: {
    numUsers: 50,
    numItems: 80,
    trainLists: 300,
    validationLists: 60,
    testLists: 60,
    listSize: 20,
    historyLength: 10,
  },
  dim: 16,
  blocks: 1,
  heads: 2,
  ffnDim: 32,
  batchSize: 64,
  lr: 0.003,
};

describe('dnr-bench train', () => {
  const dir = tempFiles({ 'run.json': JSON.stringify(RUN_FILE) });
  const out = join(dir, 'results');
  const args = [
    'train',
    '--method',
    'prm',
    '--dataset',
    'lab',
    '--config',
    join(dir, 'run.json'),
    '--epochs',
    '2',
    '--backend',
    'cpu',
    '--out',
    out,
  ];
  const runDir = join(out, 'lab-prm-none-s1');

  it('trains on the lab, writes the run files, and a second invocation skips the finished run', async () => {
    const first = await runCli(args);
    expect(first.error).toBeUndefined();
    expect(first.stderr).toMatch(/^backend: cpu/m);
    expect(first.stderr).toMatch(/reference: retriever order, test N@6/);
    expect(first.stderr).toMatch(/epoch 2\/2 · loss [0-9.]+ · val N@6/);
    expect(first.stdout).toMatch(
      /^lab-prm-none-s1 · best epoch [12] of 2 \(max-epochs\) · test N@6 \d+\.\d\d/,
    );
    for (const f of ['config.json', 'log.jsonl', 'checkpoint.bin', 'best.dnrr', 'metrics.json']) {
      expect(existsSync(join(runDir, f)), f).toBe(true);
    }
    const config = JSON.parse(readFileSync(join(runDir, 'config.json'), 'utf8')) as {
      settings: Record<string, unknown>;
      model: { name: string; config: Record<string, unknown> };
      backend: string;
    };
    expect(config.backend).toBe('cpu');
    expect(config.settings).toMatchObject({ method: 'prm', epochs: 2, lr: 0.003 });
    expect(config.model.config).toMatchObject({
      dim: 16,
      blocks: 1,
      numItems: 80,
      maxListSize: 20,
    });
    const lines = readFileSync(join(runDir, 'log.jsonl'), 'utf8').trimEnd().split('\n');
    expect(lines.map((l) => (JSON.parse(l) as { epoch: number }).epoch)).toEqual([1, 2]);
    const metrics = JSON.parse(readFileSync(join(runDir, 'metrics.json'), 'utf8')) as {
      bestEpoch: number;
      test: { ndcg: number; lists: number };
    };
    expect(metrics.test.lists).toBe(60);
    expect(metrics.test.ndcg).toBeGreaterThan(0);
    expect(decodeReranker(readFileSync(join(runDir, 'best.dnrr'))).name).toBe('prm');

    const mtime = statSync(join(runDir, 'checkpoint.bin')).mtimeMs;
    const second = await runCli([...args, '--json']);
    expect(second.error).toBeUndefined();
    expect(second.stderr).toMatch(/run lab-prm-none-s1 is finished .*--force/);
    expect(second.stderr).not.toMatch(/epoch 1\/2/);
    const report = JSON.parse(second.stdout) as {
      skipped: boolean;
      test: unknown;
      bestEpoch: number;
    };
    expect(report.skipped).toBe(true);
    expect(report.test).toEqual(metrics.test);
    expect(report.bestEpoch).toBe(metrics.bestEpoch);
    expect(statSync(join(runDir, 'checkpoint.bin')).mtimeMs).toBe(mtime);
  });

  it('refuses to report a finished run under other settings', async () => {
    const third = await runCli([...args, '--lr', '0.01']);
    expect(String(third.error)).toMatch(
      /finished run with other settings \(lr 0\.003 -> 0\.01\).*--force/,
    );
  });

  it('resumes an interrupted run from its checkpoint', async () => {
    // pretend the run died after its checkpoint: remove metrics.json, allow a third epoch
    rmSync(join(runDir, 'metrics.json'));
    const resumed = await runCli(args.map((a) => (a === '2' ? '3' : a)));
    expect(resumed.error).toBeUndefined();
    expect(resumed.stderr).toMatch(/resuming .* after epoch 2/);
    expect(resumed.stderr).toMatch(/epoch 3\/3/);
    expect(resumed.stderr).not.toMatch(/epoch 1\/3 ·/);
    expect(readFileSync(join(runDir, 'log.jsonl'), 'utf8').trimEnd().split('\n')).toHaveLength(3);
  });
});

describe('train settings', () => {
  const base = trainSchema.parse({ method: 'prm' });

  it('resolves the data source and the run id', () => {
    expect(dataSource(base)).toEqual({ kind: 'lab', name: 'lab' });
    const file = trainSchema.parse({ method: 'prm', dataset: 'movielens:/data/ml-1m/ratings.dat' });
    expect(dataSource(file)).toEqual({
      kind: 'file',
      name: 'movielens-ratings',
      format: 'movielens',
      input: '/data/ml-1m/ratings.dat',
    });
    const flags = trainSchema.parse({
      method: 'pier',
      format: 'ml100k',
      input: 'x/u.data.gz',
      scoreUsage: 'concat',
      seed: 4,
    });
    expect(runIdOf(flags, dataSource(flags))).toBe('ml100k-u-pier-concat-s4');
    expect(() => dataSource(trainSchema.parse({ method: 'prm', dataset: 'ml-1m' }))).toThrow(
      /--dataset must be 'lab' or '<format>:<file>'/,
    );
    expect(() => dataSource(trainSchema.parse({ method: 'prm', format: 'csv' }))).toThrow(
      /needs both --format and --input/,
    );
    expect(() =>
      dataSource(
        trainSchema.parse({ method: 'prm', dataset: 'lab', input: 'a.csv', format: 'csv' }),
      ),
    ).toThrow(/cannot be combined/);
  });

  it('says clearly when a method is not registered yet', () => {
    expect(() => checkMethodAvailable('pier', ['prm'])).toThrow(
      "method 'pier' is not available yet: @dnr/backbones registers prm",
    );
    expect(() => checkMethodAvailable('prm', ['prm'])).not.toThrow();
  });
});

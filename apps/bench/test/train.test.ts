import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { decodeReranker } from '@dnr/backbones';
import {
  checkMethodAvailable,
  dataSource,
  formatTrainReport,
  resolveMethod,
  runIdOf,
  trainSchema,
  type TrainReport,
} from '../src/train';
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
    expect(existsSync(join(runDir, 'run.lock')), 'the lock is released').toBe(false);

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

  it('matches a run recorded before a setting existed when the setting keeps its old default', async () => {
    const configPath = join(runDir, 'config.json');
    const original = readFileSync(configPath, 'utf8');
    const config = JSON.parse(original) as { settings: Record<string, unknown> };
    expect(config.settings.rankEmbedding).toBe(true);
    // a config.json written before rankEmbedding, idealAugmentation and honestScores existed
    delete config.settings.rankEmbedding;
    delete config.settings.idealAugmentation;
    delete config.settings.honestScores;
    writeFileSync(configPath, JSON.stringify(config));
    try {
      const same = await runCli(args);
      expect(same.error).toBeUndefined();
      expect(same.stderr).toMatch(/run lab-prm-none-s1 is finished/);
      const other = await runCli([...args, '--no-rank-embedding']);
      expect(String(other.error)).toMatch(/other settings \(rankEmbedding true -> false\)/);
    } finally {
      writeFileSync(configPath, original);
    }
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

  it('refuses a run another process is training, and takes over the lock of a killed one', async () => {
    const lockPath = join(runDir, 'run.lock');
    const resumedArgs = args.map((a) => (a === '2' ? '3' : a)); // the settings of the resumed run
    const holder = (pid: number): string =>
      JSON.stringify({ pid, host: hostname(), started: '2026-01-01T00:00:00Z' });
    writeFileSync(lockPath, holder(process.ppid));
    // a finished run is still reported (read without the lock) ...
    const read = await runCli(resumedArgs);
    expect(read.error).toBeUndefined();
    expect(read.stderr).toMatch(/run lab-prm-none-s1 is finished/);
    // ... but retraining it is refused while another process holds it, before anything is removed
    const busy = await runCli([...resumedArgs, '--force']);
    expect(String(busy.error)).toMatch(
      new RegExp(
        `run lab-prm-none-s1 is being trained by process ${process.ppid} .*run\\.lock exists`,
      ),
    );
    expect(readFileSync(lockPath, 'utf8')).toBe(holder(process.ppid));
    expect(existsSync(join(runDir, 'metrics.json'))).toBe(true);
    const dead = spawnSync(process.execPath, ['-e', '']).pid!;
    writeFileSync(lockPath, holder(dead));
    const taken = await runCli([...resumedArgs, '--force']);
    expect(taken.error).toBeUndefined();
    expect(taken.stderr).toMatch(`taking over the stale lock of process ${dead}`);
    expect(taken.stderr).toMatch(/epoch 3\/3 · loss/);
    expect(existsSync(lockPath)).toBe(false);
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

describe('dnr-bench train --method dnr-b', () => {
  const dir = tempFiles({ 'run.json': JSON.stringify(RUN_FILE) });
  const out = join(dir, 'results');
  const args = [
    'train',
    '--method',
    'dnr-b',
    '--backbone',
    'prm',
    '--dataset',
    'lab',
    '--config',
    join(dir, 'run.json'),
    '--epochs',
    '2',
    '--tau',
    '1',
    '--backend',
    'cpu',
    '--out',
    out,
    '--json',
  ];
  const runDir = join(out, 'lab-dnr-b-prm-concat-s1');

  it('trains DNR-B on PRM + c score and writes diagnostics to log.jsonl', async () => {
    const run = await runCli(args);
    expect(run.error).toBeUndefined();
    expect(run.stderr).toMatch(/method dnr-b: DNR-B.* τ 1 β_adv 1 β_x 1 L_x softmaxKL/);
    expect(run.stderr).toMatch(/patience counted from epoch 2/);
    expect(run.stderr).toMatch(
      /dnr epoch 1: heuristic noise · train AUC\(x̂,y\) 100\.00 vs AUC\(x,y\) \d/,
    );
    expect(run.stderr).toMatch(
      /dnr epoch 2: learned noise .* generator 5 steps L_adv -?[0-9.]+ L_x [0-9.]+/,
    );
    expect(run.stderr).toMatch(/warning: the heuristic noise .* separates the classes/);
    const report = JSON.parse(run.stdout) as TrainReport;
    expect(report.runId).toBe('lab-dnr-b-prm-concat-s1');
    expect(report).toMatchObject({
      method: 'dnr-b',
      backbone: 'prm',
      patienceStartEpoch: 2,
      dnr: { tau: 1 },
    });
    const dnr = report.dnr as { bestAfterWarmup: boolean };
    expect(dnr.bestAfterWarmup).toBe(report.bestEpoch > 1);
    expect(report.bestAfterPatienceStart).toBe(report.bestEpoch >= 2);

    const config = JSON.parse(readFileSync(join(runDir, 'config.json'), 'utf8')) as {
      settings: Record<string, unknown>;
      model: { config: Record<string, unknown> };
      objective: { name: string; config: Record<string, unknown> };
      method: Record<string, unknown>;
    };
    expect(config.model.config.scoreUsage).toBe('concat');
    expect(config.settings).toMatchObject({ scoreUsage: 'concat', patienceStart: 2, tau: 1 });
    expect(config.objective.name).toBe('dnr');
    expect(config.objective.config).toMatchObject({ alpha: 0.4, lambda: 0.4, tau: 1 });
    expect(config.method).toMatchObject({ name: 'dnr-b', heuristic: { type: 'beta' } });

    const lines = readFileSync(join(runDir, 'log.jsonl'), 'utf8').trimEnd().split('\n');
    const records = lines.map(
      (l) =>
        JSON.parse(l) as {
          losses: Record<string, number>;
          diagnostics: {
            phase: string;
            auc: { real: number; synthetic: number };
            density: { bins: number; observed: number[]; heuristic: number[]; learned: number[] };
          };
        },
    );
    expect(records.map((r) => r.diagnostics.phase)).toEqual(['heuristic', 'learned']);
    expect(records[0]!.diagnostics.auc.synthetic).toBe(1);
    expect(records[0]!.diagnostics.auc.real).toBeLessThan(1);
    expect(Object.keys(records[1]!.losses).sort()).toEqual(
      ['lAdv', 'lBce', 'lD', 'lG', 'lX', 'lZ', 'loss'].sort(),
    );
    for (const r of records) {
      expect(r.diagnostics.density.bins).toBe(40);
      expect(r.diagnostics.density.observed).toHaveLength(40);
      expect(r.diagnostics.density.heuristic).toHaveLength(40);
      expect(r.diagnostics.density.learned).toHaveLength(40);
    }
    const metrics = JSON.parse(readFileSync(join(runDir, 'metrics.json'), 'utf8')) as {
      dnr: { tau: number };
    };
    expect(metrics.dnr.tau).toBe(1);
    expect(formatTrainReport(report)).toMatch(/best (after|within) warm-up τ = 1/);
  });

  it('trains with --augmentation replace (one pass, part of each batch synthetic)', async () => {
    const run = await runCli([
      ...args.filter((a) => a !== '--json'),
      '--augmentation',
      'replace',
      '--run-id',
      'replace',
    ]);
    expect(run.error).toBeUndefined();
    expect(run.stderr).toMatch(/method dnr-b: .* · augmentation replace/);
    const config = JSON.parse(readFileSync(join(out, 'replace', 'config.json'), 'utf8')) as {
      settings: Record<string, unknown>;
      objective: { config: Record<string, unknown> };
    };
    expect(config.settings.augmentation).toBe('replace');
    expect(config.objective.config.augmentation).toBe('replace');
    expect(existsSync(join(out, 'replace', 'metrics.json'))).toBe(true);
  });
});

describe('resolveMethod', () => {
  const parse = (s: Record<string, unknown>) => trainSchema.parse({ ...s });

  it('keeps --method prm|pier plain, with the identity and run id they had', () => {
    expect(resolveMethod(parse({ method: 'prm' }))).toMatchObject({
      backbone: 'prm',
      scoreUsage: 'none',
      patienceStart: 1,
      method: { name: 'prm', objective: 'bce' },
    });
    expect(resolveMethod(parse({ method: 'pier' }))).toMatchObject({
      backbone: 'pier',
      method: { objective: 'bce' },
    });
    expect(runIdOf(parse({ method: 'prm' }), { kind: 'lab', name: 'lab' })).toBe('lab-prm-none-s1');
    expect(() => resolveMethod(parse({ method: 'prm', backbone: 'pier' }))).toThrow(
      /--method prm trains plain PRM; for plain Pier use --method pier/,
    );
    expect(() => resolveMethod(parse({ method: 'pier', alpha: 0.3, tau: 2 }))).toThrow(
      /plain BCE training: alpha, tau apply only to the DNR methods/,
    );
    expect(() => resolveMethod(parse({ method: 'prm', augmentation: 'replace' }))).toThrow(
      /--method prm is plain BCE training: augmentation does not apply/,
    );
  });

  it('resolves DNR methods on a backbone with their defaults and the flags', () => {
    const r = resolveMethod(
      parse({ method: 'dnr-g', backbone: 'pier', tau: 5, noise: 'beta-signed' }),
    );
    expect(r).toMatchObject({
      backbone: 'pier',
      scoreUsage: 'concat',
      patienceStart: 6,
      method: {
        name: 'dnr-g',
        tau: 5,
        heuristic: { type: 'beta', signed: true },
        learned: { activation: 'identity', maxDeviation: 3 },
      },
    });
    expect(resolveMethod(parse({ method: 'w-b' }))).toMatchObject({
      backbone: 'prm',
      patienceStart: 1,
      method: { learned: null },
    });
    const flags = parse({
      method: 'b-wo-x',
      scoreUsage: 'add',
      patienceStart: 2,
      alpha: 0.6,
      divergence: 'moments',
      generatorEvery: 3,
      generatorStepMode: 'eval',
      generatorOutput: 'tanh',
      seed: 4,
    });
    expect(resolveMethod(flags)).toMatchObject({
      scoreUsage: 'add',
      patienceStart: 2,
      method: {
        alpha: 0.6,
        betaX: 0,
        divergence: 'moments',
        generatorEvery: 3,
        generatorStepTraining: false,
        learned: { activation: 'tanh' },
      },
    });
    expect(runIdOf(flags, { kind: 'lab', name: 'lab' })).toBe('lab-b-wo-x-prm-add-s4');
    expect(() => resolveMethod(parse({ method: 'w-g', generatorLr: 0.01 }))).toThrow(
      /no learned generator/,
    );
    expect(() => resolveMethod(parse({ method: 'b-wo-adv', betaAdv: 1 }))).toThrow(/without L_adv/);
  });
});

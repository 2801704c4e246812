import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { aggregateRuns, formatTable, type RunRecord } from '../src/aggregate';
import { ProgressBoard, childProcessRunner, runPool, type JobRunner } from '../src/suite-runner';
import { runCli, tempFiles, TINY_LAB, TINY_MODEL } from './helpers';

const metrics = (x: number) => ({ hr: x, ndcg: x, map: x, f1: x, auc: x });

describe('aggregateRuns', () => {
  it('gives mean and sample std per method, in first-seen order', () => {
    const runs: RunRecord[] = [
      { method: 'b', backbone: 'prm', seed: 1, metrics: metrics(0.2) },
      { method: 'a', backbone: '-', seed: 1, metrics: metrics(0.5) },
      { method: 'b', backbone: 'prm', seed: 2, metrics: metrics(0.4) },
      { method: 'b', backbone: 'prm', seed: 3, metrics: metrics(0.6) },
    ];
    const rows = aggregateRuns(runs);
    expect(rows.map((r) => r.method)).toEqual(['b', 'a']);
    expect(rows[0]!.seeds).toBe(3);
    expect(rows[0]!.metrics.ndcg.mean).toBeCloseTo(0.4, 12);
    // sample std of 0.2, 0.4, 0.6 = 0.2
    expect(rows[0]!.metrics.ndcg.std).toBeCloseTo(0.2, 12);
    // one seed: std reported as 0, not NaN
    expect(rows[1]!.metrics.auc).toEqual({ mean: 0.5, std: 0 });
    const table = formatTable(rows, 'title');
    expect(table).toContain('40.00 ± 20.00');
    expect(table).toContain('50.00');
  });
});

describe('runPool', () => {
  it('runs at most `jobs` at once, keeps going after a failure and keeps the order', async () => {
    let running = 0;
    let peak = 0;
    const runner: JobRunner = async (spec) => {
      running++;
      peak = Math.max(peak, running);
      await new Promise((r) => setTimeout(r, 5));
      running--;
      if (spec.id === 'bad') throw new Error('boom');
      return { test: { ndcg: 0.5 } } as never;
    };
    const specs = ['a', 'bad', 'c', 'd'].map((id) => ({ id, settings: {} }));
    const lines: string[] = [];
    const out = await runPool(specs, 2, runner, (l) => lines.push(l));
    expect(peak).toBe(2);
    expect(out.map((o) => o.spec.id)).toEqual(['a', 'bad', 'c', 'd']);
    expect('error' in out[1]!).toBe(true);
    expect(lines.join('\n')).toMatch(/FAILED bad: boom/);
    expect(lines.join('\n')).toMatch(/\[4\/4 done/);
  });

  it('prints no start line for a read-only job, only its outcome', async () => {
    const runner: JobRunner = async () => ({ test: { ndcg: 0.5 }, skipped: true }) as never;
    const specs = ['a', 'b'].map((id) => ({ id, settings: {} }));
    const lines: string[] = [];
    await runPool(
      specs,
      1,
      runner,
      (l) => lines.push(l),
      undefined,
      (spec) => spec.id === 'a',
    );
    expect(lines).toEqual([
      '[1/2 done · 0m00s] finished earlier a · test N@6 50.00',
      '[1/2 done · 0m00s] start b',
      '[2/2 done · 0m00s] finished earlier b · test N@6 50.00',
    ]);
  });

  it("prints the running jobs' latest progress every `everyMs`", async () => {
    const board = new ProgressBoard();
    const runner: JobRunner = async (spec) => {
      board.update(spec.id, 'loading data');
      board.update(
        spec.id,
        `epoch 2/12 · batch 48/240 · loss 0.2853 lBce 0.2133 · 263 lists/s · ETA 3:06`,
      );
      await new Promise((r) => setTimeout(r, 60));
      return { test: { ndcg: 0.5 } } as never;
    };
    const lines: string[] = [];
    const specs = ['a', 'b'].map((id) => ({ id, settings: {} }));
    await runPool(specs, 2, runner, (l) => lines.push(l), { board, everyMs: 10 });
    const status = lines.filter((l) => l.includes('running:'));
    expect(status.length).toBeGreaterThan(0);
    expect(status[0]).toMatch(
      /^\[0\/2 done · 0m00s\] running: a: epoch 2\/12 · batch 48\/240 · ETA 3:06 of the epoch; b: epoch 2\/12/,
    );
    // finished runs leave the board, and no status line follows the last job
    expect(board.lines()).toEqual([]);
    const count = lines.length;
    await new Promise((r) => setTimeout(r, 30));
    expect(lines).toHaveLength(count);
  });

  it('the child-process runner passes the run file and reads the last JSON line', async () => {
    const dir = tempFiles({
      'fake-cli.mjs':
        "import { readFileSync } from 'node:fs';\n" +
        "const s = JSON.parse(readFileSync(process.argv[4], 'utf8'));\n" +
        "if (process.argv[2] !== 'train' || process.argv[5] !== '--json') process.exit(3);\n" +
        "console.error('progress line');\n" +
        "console.error('epoch 1/3 · batch 2/4 · loss 0.5 · 10 lists/s · ETA 0:07');\n" +
        "console.log('noise');\n" +
        'console.log(JSON.stringify({ runId: s.runId, test: { ndcg: s.seed / 10 } }));\n',
    });
    const seen: string[] = [];
    const runner = childProcessRunner(join(dir, 'fake-cli.mjs'), join(dir, 'runs'), (id, line) =>
      seen.push(`${id} ${line}`),
    );
    const report = await runner({ id: 'r1', settings: { runId: 'r1', seed: 3 } });
    expect(seen).toEqual([
      'r1 progress line',
      'r1 epoch 1/3 · batch 2/4 · loss 0.5 · 10 lists/s · ETA 0:07',
    ]);
    expect(report).toMatchObject({ runId: 'r1', test: { ndcg: 0.3 } });
    expect(readFileSync(join(dir, 'runs/r1.log'), 'utf8')).toMatch(/progress line/);
    writeFileSync(join(dir, 'fail.mjs'), 'process.exit(2);\n');
    await expect(
      childProcessRunner(join(dir, 'fail.mjs'), join(dir, 'runs'))({ id: 'r2', settings: {} }),
    ).rejects.toThrow(/run r2 failed \(exit 2\); see .*r2\.log/);
  });
});

// A tiny lab and model so the whole suite trains in seconds in this process.
const TINY = { overrides: { lab: TINY_LAB, ...TINY_MODEL, epochs: 2 } };

describe('dnr-bench suite', () => {
  const dir = tempFiles({ 'tiny.json': JSON.stringify(TINY) });
  const out = join(dir, 'results');
  const args = [
    'suite',
    'main',
    '--profile',
    'quick',
    '--seeds',
    '2',
    '--jobs',
    '1',
    '--backend',
    'cpu',
    '--config',
    join(dir, 'tiny.json'),
    '--out',
    out,
  ];

  it('prints the main table with the reference and PRM rows and writes the report JSON', async () => {
    const { stdout, stderr, error } = await runCli(args);
    expect(error).toBeUndefined();
    expect(stderr).toMatch(/^backend: cpu/m);
    expect(stderr).toMatch(/22 training runs, in this process/);
    expect(stdout).toMatch(/main \(Table 1\) · lab · profile quick · 2 seed\(s\)/);
    expect(stdout).toMatch(/^PRM \+ c score +\d+\.\d\d ± /m);
    const report = JSON.parse(readFileSync(join(out, 'suites/quick/lab/main.json'), 'utf8'));
    expect(report).toMatchObject({
      dataset: 'lab',
      suite: 'main',
      profile: 'quick',
      seeds: 2,
      failed: [],
      overrides: TINY.overrides,
    });
    expect(report.rows.map((r: { label: string }) => r.label)).toEqual([
      'oracle (true probabilities)',
      'retriever order',
      'PRM, content only (no retriever input)',
      'PRM + c score, honest training scores',
      'PRM + c score, ideal augmentation',
      'PRM',
      'PRM + c score',
      'PRM + + score',
      'PRM + w score',
      'w/ G',
      'w/ B',
      'DNR-G',
      'DNR-B',
    ]);
    // Runs with a learned generator record where their checkpoint lies against the warm-up.
    const dnrRun = report.runs.find((r: { method: string }) => r.method === 'dnr-g');
    expect(dnrRun).toMatchObject({ patienceStartEpoch: 4 });
    expect(dnrRun.bestAfterWarmup).toBe(dnrRun.bestEpoch >= 4);
    const plainRun = report.runs.find((r: { method: string }) => r.method === 'plain');
    expect(plainRun.bestEpoch).toBeGreaterThanOrEqual(1);
    expect(plainRun.patienceStartEpoch).toBeUndefined();
    const oracle = report.rows[0].metrics;
    const retriever = report.rows[1].metrics;
    expect(oracle.ndcg.mean).toBeGreaterThan(retriever.ndcg.mean);
    for (const row of report.rows) {
      expect(row.seeds).toBe(2);
      for (const m of ['hr', 'ndcg', 'map', 'f1', 'auc']) {
        expect(row.metrics[m].mean).toBeGreaterThanOrEqual(0);
        expect(row.metrics[m].mean).toBeLessThanOrEqual(1);
      }
    }
  });

  it('a rerun skips finished runs and gives the same report', async () => {
    const before = readFileSync(join(out, 'suites/quick/lab/main.json'), 'utf8');
    const { stderr, error } = await runCli(args);
    expect(error).toBeUndefined();
    expect(stderr.match(/finished earlier/g)).toHaveLength(22);
    // finished runs are read, not handed to a trainer: no start line for them
    expect(stderr).not.toMatch(/\] start /);
    const after = readFileSync(join(out, 'suites/quick/lab/main.json'), 'utf8');
    expect(JSON.parse(after).rows).toEqual(JSON.parse(before).rows);
  });

  it('--finished-only trains nothing and lists what is missing', async () => {
    const same = await runCli([...args, '--finished-only']);
    expect(same.error).toBeUndefined();
    expect(same.stderr).toMatch(/finished runs only, nothing trained/);
    const report = JSON.parse(readFileSync(join(out, 'suites/quick/lab/main.json'), 'utf8'));
    expect(report.missing).toEqual([]);
    expect(report.rows).toHaveLength(13);
    const empty = join(dir, 'empty');
    const none = await runCli([...args.slice(0, -1), empty, '--finished-only']);
    expect(none.error).toBeUndefined();
    expect(none.stderr).toMatch(/22 run\(s\) not finished yet: lab-prm-contentonly-quick-s1/);
    const partial = JSON.parse(readFileSync(join(empty, 'suites/quick/lab/main.json'), 'utf8'));
    expect(partial.rows.map((r: { label: string }) => r.label)).toEqual([
      'oracle (true probabilities)',
      'retriever order',
    ]);
    expect(partial.missing).toHaveLength(22);
  });

  it('a finished run trained with other settings is an error, not a row', async () => {
    const config = join(out, 'runs/lab-prm-plain-quick-s1/config.json');
    const original = readFileSync(config, 'utf8');
    const changed = JSON.parse(original);
    changed.settings.epochs += 1;
    writeFileSync(config, JSON.stringify(changed));
    try {
      for (const extra of [[], ['--finished-only']]) {
        const { stderr, error, exitCode } = await runCli([...args, ...extra]);
        expect(error).toBeUndefined();
        expect(exitCode).toBe(1);
        expect(stderr).toMatch(
          /FAILED lab-prm-plain-quick-s1: .*lab-prm-plain-quick-s1 holds a finished run with other settings \(epochs \d+ -> \d+\)/,
        );
        const report = JSON.parse(readFileSync(join(out, 'suites/quick/lab/main.json'), 'utf8'));
        expect(report.failed).toEqual(['lab-prm-plain-quick-s1']);
      }
    } finally {
      writeFileSync(config, original);
    }
  });

  it('--only trains the chosen rows and reports the others only when finished', async () => {
    const fresh = join(dir, 'only');
    const only = await runCli([...args.slice(0, -1), fresh, '--only', 'PRM + c score,w-b']);
    expect(only.error).toBeUndefined();
    expect(only.stderr).toMatch(/--only: 4 of them trained, the rest read if finished/);
    expect(only.stderr).toMatch(/18 run\(s\) not finished yet/);
    expect(only.stderr).toMatch(/not finished, not trained: lab-prm-plain-quick-s1/);
    expect(only.stderr).not.toMatch(/FAILED/);
    const report = JSON.parse(readFileSync(join(fresh, 'suites/quick/lab/main.json'), 'utf8'));
    expect(report.rows.map((r: { label: string }) => r.label)).toEqual([
      'oracle (true probabilities)',
      'retriever order',
      'PRM + c score',
      'w/ B',
    ]);
    // the same runs as an unrestricted suite's (same settings, same seed)
    const full = JSON.parse(readFileSync(join(out, 'suites/quick/lab/main.json'), 'utf8'));
    const row = (r: { rows: Array<{ label: string }> }, label: string) =>
      r.rows.find((x) => x.label === label);
    expect(row(report, 'w/ B')).toEqual(row(full, 'w/ B'));
    const bad = await runCli([...args, '--only', 'nope']);
    expect((bad.error as Error).message).toMatch(
      /--only 'nope' matches no row of suite main; its rows: .*'prm\/plain' \(PRM\)/,
    );
  });

  it('rejects an unknown suite and a file profile without input', async () => {
    const unknown = await runCli(['suite', 'nope']);
    expect((unknown.error as Error).message).toMatch(/'suite'.*main/s);
    const noInput = await runCli(['suite', 'scores', '--profile', 'standard', '--backend', 'cpu']);
    expect((noInput.error as Error).message).toMatch(/give --format and --input/);
  });
});

describe('lab reference rows', () => {
  it('are in the lab main suite and dropped for file datasets', async () => {
    const { rowsFor, suiteSchema } = await import('../src/commands/suite');
    const { SUITES } = await import('../src/suites');
    const labels = (profile: string): string[] =>
      rowsFor(SUITES.main!, suiteSchema.parse({ suite: 'main', profile })).map((r) => r.label);
    expect(labels('quick').slice(0, 3)).toEqual([
      'PRM, content only (no retriever input)',
      'PRM + c score, honest training scores',
      'PRM + c score, ideal augmentation',
    ]);
    expect(labels('standard')).toEqual(labels('quick').slice(3));
  });
});

describe('selectRows', () => {
  it('matches labels, backbones, methods and backbone/method, case-insensitively', async () => {
    const { rowsFor, selectRows, suiteSchema } = await import('../src/commands/suite');
    const { SUITES } = await import('../src/suites');
    const suite = SUITES.scores!;
    const rows = rowsFor(suite, suiteSchema.parse({ suite: 'scores', profile: 'standard' }));
    const picked = (only?: string[]): string[] =>
      rows.filter((_, i) => selectRows(suite, rows, only)[i]).map((r) => r.label);
    expect(picked()).toHaveLength(10);
    expect(picked(['pier'])).toEqual([
      'Pier',
      'Pier + c score',
      'Pier + + score',
      'Pier + w score',
      'Pier + DNR',
    ]);
    expect(picked(['plain', 'Concat Score'])).toEqual([
      'PRM',
      'PRM + c score',
      'Pier',
      'Pier + c score',
    ]);
    expect(picked(['prm/dnr-b', 'pier + w score'])).toEqual(['PRM + DNR', 'Pier + w score']);
    expect(() => selectRows(suite, rows, ['pie'])).toThrow(/--only 'pie' matches no row/);
  });

  it('selects every point of a swept method by its name, or one point by its own', async () => {
    const { rowsFor, selectRows, suiteSchema } = await import('../src/commands/suite');
    const { SUITES } = await import('../src/suites');
    const suite = SUITES.sensitivity!;
    const settings = suiteSchema.parse({
      suite: 'sensitivity',
      profile: 'standard',
      sweep: { methods: ['dnr-g', 'dnr-b'], alpha: [0.2, 0.4], lambda: [0.8], tau: [] },
    });
    const rows = rowsFor(suite, settings);
    const picked = (only: string[]): string[] =>
      rows.filter((_, i) => selectRows(suite, rows, only)[i]).map((r) => r.method);
    expect(rows.map((r) => r.method)).toEqual([
      'dnr-g alpha=0.2',
      'dnr-g alpha=0.4',
      'dnr-g lambda=0.8',
      'dnr-b alpha=0.2',
      'dnr-b alpha=0.4',
      'dnr-b lambda=0.8',
    ]);
    expect(picked(['PRM/DNR-G'])).toEqual([
      'dnr-g alpha=0.2',
      'dnr-g alpha=0.4',
      'dnr-g lambda=0.8',
    ]);
    expect(picked(['dnr-b'])).toEqual(['dnr-b alpha=0.2', 'dnr-b alpha=0.4', 'dnr-b lambda=0.8']);
    expect(picked(['prm/dnr-b lambda=0.8', 'dnr-g alpha=0.2'])).toEqual([
      'dnr-g alpha=0.2',
      'dnr-b lambda=0.8',
    ]);
    expect(() => selectRows(suite, rows, ['dnr-bl'])).toThrow(/--only 'dnr-bl' matches no row/);
  });
});

describe('longestFirst', () => {
  it('starts the costliest runs first and keeps the row order among equals', async () => {
    const { longestFirst } = await import('../src/commands/suite');
    const spec = (id: string, settings: Record<string, unknown>) => ({ id, settings });
    const order = longestFirst([
      spec('plain', { method: 'prm' }),
      spec('c', { method: 'prm', scoreUsage: 'concat' }),
      spec('ideal', { method: 'prm', idealAugmentation: 1 }),
      spec('dnr', { method: 'dnr-g', backbone: 'prm' }),
      spec('pier', { method: 'pier' }),
      spec('pier-dnr', { method: 'dnr-b', backbone: 'pier' }),
    ]).map((s) => s.id);
    // costs: 1, 1, 2, 2.5, 3, 7.5
    expect(order).toEqual(['pier-dnr', 'pier', 'dnr', 'ideal', 'plain', 'c']);
  });
});

describe('warmupOf', () => {
  const report = (bestEpoch: number, extra: Record<string, unknown>) =>
    ({ bestEpoch, patienceStartEpoch: 6, ...extra }) as never;

  it('places the checkpoint against the end of the warm-up, not the patience start', async () => {
    const { warmupOf } = await import('../src/commands/suite');
    // τ = 3: the learned generator runs from epoch 4, whatever epoch patience starts at
    expect(warmupOf(report(4, { dnr: { tau: 3, bestAfterWarmup: true } }))).toEqual({
      patienceStartEpoch: 4,
      bestAfterWarmup: true,
    });
    expect(warmupOf(report(3, { dnr: { tau: 3, bestAfterWarmup: false } }))).toEqual({
      patienceStartEpoch: 4,
      bestAfterWarmup: false,
    });
  });

  it('gives runs without a learned generator no warm-up, even with a later patience start', async () => {
    const { warmupOf } = await import('../src/commands/suite');
    expect(warmupOf(report(2, { dnr: null }))).toEqual({});
    expect(warmupOf(report(2, {}))).toEqual({});
  });
});

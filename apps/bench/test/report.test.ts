import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { meanCurve, significanceByRow, type SeedRun } from '../src/aggregate';
import { readEpochLog } from '../src/commands/report';
import { runCli, tempFiles } from './helpers';

const ms = (mean: number, std = 0) => ({ mean, std });
const metrics = (x: number) => ({
  hr: ms(x),
  ndcg: ms(x, 0.01),
  map: ms(x),
  f1: ms(x),
  auc: ms(x),
});
const suiteJson = {
  dataset: 'ml-100k',
  suite: 'scores',
  paper: 'Table 2',
  profile: 'standard',
  seeds: 3,
  command: 'dnr-bench suite scores --profile standard',
  backend: 'wasm',
  rows: [
    {
      label: 'retriever order',
      method: 'retriever',
      backbone: '-',
      seeds: 3,
      metrics: metrics(0.4),
    },
    {
      label: 'PRM + c score',
      method: 'concat score',
      backbone: 'prm',
      seeds: 3,
      metrics: metrics(0.5),
    },
  ],
  failed: [],
};

/** Writes suite files under `<dir>/results/suites/<profile>/<dataset>/` and runs `report`. */
async function report(
  dir: string,
  suites: Record<string, unknown>,
  where = 'standard/ml-100k',
): Promise<{ error?: unknown; stderr: string }> {
  const suiteDir = join(dir, 'results/suites', where);
  mkdirSync(suiteDir, { recursive: true });
  for (const [file, json] of Object.entries(suites)) {
    writeFileSync(join(suiteDir, file), JSON.stringify(json));
  }
  return runCli(['report', '--results', join(dir, 'results'), '--docs', join(dir, 'docs')]);
}

type M = { hr: number; ndcg: number; map: number; f1: number; auc: number };
const run = (
  label: string,
  method: string,
  backbone: string,
  seed: number,
  m: M,
  runId?: string,
) => ({ label, method, backbone, seed, metrics: m, ...(runId ? { runId } : {}) });

// Per-seed values chosen so that every test has a hand-derived result (differences c - plain):
//   hr:   [0.25, 0.25, 0.25] exactly      -> zero variance, +shift: t = +Infinity, p = 0   (▲)
//   ndcg: [0.01, 0.02, 0.03]              -> mean 0.02, sd 0.01, t = 2 sqrt 3, p = 0.0742 (no mark)
//   map:  [-0.25, -0.25, -0.25] exactly   -> t = -Infinity, p = 0                        (▼)
//   f1:   [0, 0, 0]                       -> identical: t undefined, p = 1               (no mark)
//   auc:  [0.10, 0.11, 0.12]              -> mean 0.11, sd 0.01, t = 0.11 sqrt 3 / 0.01 = 19.0526,
//                                            p = 1 - t / sqrt(2 + t^2) = 1 - 19.0526 / 19.1050 = 0.00274 (▲)
// Against the retriever (0.375 on hr at every seed; one-sample test):
//   PRM + c score hr [0.5, 0.625, 0.75] - 0.375 = 0.125 [1, 2, 3] -> t = 2 sqrt 3, p = 0.0742
//   PRM hr [0.25, 0.375, 0.5] - 0.375 = [-0.125, 0, 0.125]        -> t = 0, p = 1
const plainM = (s: number): M => ({
  hr: [0.25, 0.375, 0.5][s - 1]!,
  ndcg: 0.3,
  map: 0.5,
  f1: 0.4,
  auc: 0.7,
});
const concatM = (s: number): M => ({
  hr: [0.5, 0.625, 0.75][s - 1]!,
  ndcg: 0.3 + [0.01, 0.02, 0.03][s - 1]!,
  map: 0.25,
  f1: 0.4,
  auc: 0.7 + [0.1, 0.11, 0.12][s - 1]!,
});
const retrieverM: M = { hr: 0.375, ndcg: 0.35, map: 0.3, f1: 0.35, auc: 0.78 };

const seededSuite = {
  ...suiteJson,
  suite: 'main',
  paper: 'Table 1',
  command: 'dnr-bench suite main --profile standard',
  rows: [
    {
      label: 'retriever order',
      method: 'retriever',
      backbone: '-',
      seeds: 3,
      metrics: metrics(0.4),
    },
    { label: 'PRM', method: 'plain', backbone: 'prm', seeds: 3, metrics: metrics(0.3) },
    {
      label: 'PRM + c score',
      method: 'concat score',
      backbone: 'prm',
      seeds: 3,
      metrics: metrics(0.5),
    },
    // only two seeds: too few for a test
    {
      label: 'PRM + + score',
      method: 'add score',
      backbone: 'prm',
      seeds: 2,
      metrics: metrics(0.5),
    },
  ],
  runs: [1, 2, 3].flatMap((s) => [
    run('retriever order', 'retriever', '-', s, retrieverM),
    run('PRM', 'plain', 'prm', s, plainM(s), `lab-prm-plain-s${s}`),
    run('PRM + c score', 'concat score', 'prm', s, concatM(s), `lab-prm-concat-s${s}`),
    ...(s < 3 ? [run('PRM + + score', 'add score', 'prm', s, concatM(s))] : []),
  ]),
};

/** A log.jsonl with the given validation N@6 per epoch (and the other fields a real one has). */
const epochLog = (ndcg: readonly number[]): string =>
  ndcg
    .map((v, i) =>
      JSON.stringify({
        epoch: i + 1,
        losses: { loss: 0.3 },
        validation: { hr: v, ndcg: v, map: v, f1: v, auc: 0.8, aucGlobal: 0.8, lists: 10 },
        improved: true,
        seconds: 1,
      }),
    )
    .join('\n') + '\n';

function writeLog(dir: string, runId: string, text: string): void {
  mkdirSync(join(dir, 'results/runs', runId), { recursive: true });
  writeFileSync(join(dir, 'results/runs', runId, 'log.jsonl'), text);
}

describe('dnr-bench report', () => {
  it('writes the Markdown table with the paper figures beside ours, and the JSON', async () => {
    const dir = tempFiles({});
    const { error, stderr } = await report(dir, { 'scores.json': suiteJson });
    expect(error).toBeUndefined();
    expect(stderr).toMatch(/wrote .*ml-100k\/scores\.md/);
    const md = readFileSync(join(dir, 'docs/ml-100k/scores.md'), 'utf8');
    expect(md).toMatch(
      /^# Ways of feeding retriever scores to PRM and Pier \(Table 2\) · ml-100k · profile standard/,
    );
    expect(md).toContain('Produced by `dnr-bench suite scores --profile standard`');
    // ours (mean ± std over 3 seeds), then the paper's ML-1M row for PRM + c score
    expect(md).toContain(
      '| PRM + c score | 50.00 ± 0.00 | 50.00 ± 1.00 | 50.00 ± 0.00 | 50.00 ± 0.00 | 50.00 ± 0.00 | 62.50 | 76.73 | 67.36 | 68.29 | 91.35 |',
    );
    expect(md).toMatch(/^\| retriever order \| 40\.00 ± 0\.00 .*(\| {2}){5}\|$/m);
    // a suite file without per-seed runs (as written before they were recorded): said, not guessed
    expect(md).toContain(
      'No significance tests: they need the per-seed results of at least 3 seeds',
    );
    expect(md).toContain('No training curves: this suite file has no per-seed runs');
    expect(md).not.toContain('▲');
    const json = JSON.parse(readFileSync(join(dir, 'docs/ml-100k/scores.json'), 'utf8'));
    expect(Object.keys(json)).toEqual(['dataset', 'suite', 'profile', 'seeds', 'command', 'rows']);
    expect(Object.keys(json.rows[1])).toEqual(['label', 'method', 'backbone', 'seeds', 'metrics']);
  });

  it("names a run file's overrides and sweep grids, and keeps them out of the JSON", async () => {
    const dir = tempFiles({});
    const suite = {
      ...suiteJson,
      overrides: { epochs: 12, patienceStart: 6 },
      sweep: { methods: ['dnr-g'], tau: [0, 3] },
    };
    const { error } = await report(dir, { 'scores.json': suite });
    expect(error).toBeUndefined();
    const md = readFileSync(join(dir, 'docs/ml-100k/scores.md'), 'utf8');
    expect(md).toContain(
      "Settings changed from the profile's by the run file (`overrides`): `epochs` 12, `patienceStart` 6.",
    );
    expect(md).toContain(
      'Sweep grids changed from the profile\'s by the run file (`sweep`): `methods` ["dnr-g"], `tau` [0,3].',
    );
    const json = JSON.parse(readFileSync(join(dir, 'docs/ml-100k/scores.json'), 'utf8'));
    expect(Object.keys(json)).toEqual(['dataset', 'suite', 'profile', 'seeds', 'command', 'rows']);
    const plainDir = tempFiles({});
    const plain = await report(plainDir, { 'scores.json': suiteJson });
    expect(plain.error).toBeUndefined();
    const plainMd = readFileSync(join(plainDir, 'docs/ml-100k/scores.md'), 'utf8');
    expect(plainMd).not.toContain('changed from the profile');
  });

  it('says where the chosen checkpoints of runs with a warm-up lie', async () => {
    const dir = tempFiles({});
    const m: M = { hr: 0.5, ndcg: 0.5, map: 0.5, f1: 0.5, auc: 0.5 };
    const dnr = (seed: number, bestEpoch: number) => ({
      ...run('DNR-G', 'dnr-g', 'prm', seed, m, `dnr-g-s${seed}`),
      bestEpoch,
      patienceStartEpoch: 4,
      bestAfterWarmup: bestEpoch >= 4,
    });
    const suite = {
      ...suiteJson,
      suite: 'main',
      rows: [{ label: 'DNR-G', method: 'dnr-g', backbone: 'prm', seeds: 3, metrics: metrics(0.5) }],
      runs: [dnr(1, 1), dnr(2, 5), dnr(3, 2), run('PRM', 'plain', 'prm', 1, m, 'plain-s1')],
    };
    const { error } = await report(dir, { 'main.json': suite });
    expect(error).toBeUndefined();
    const md = readFileSync(join(dir, 'docs/ml-100k/main.md'), 'utf8');
    expect(md).toContain(
      'per row with a learned generator: DNR-G 1/3 (best epochs 1, 5, 2; learned generator from epoch 4).',
    );
    const none = await report(tempFiles({}), {
      'main.json': { ...suite, runs: suite.runs.slice(3) },
    });
    expect(none.error).toBeUndefined();
  });

  it('rejects a malformed suite file with its path and the field', async () => {
    const dir = tempFiles({});
    const { error } = await report(dir, { 'main.json': { dataset: 'lab' } }, 'quick/lab');
    expect((error as Error).message).toMatch(/main\.json is not a suite report: suite: /);
  });

  it('tests every trained row against its plain backbone and the retriever, marks ▲ / ▼, and keeps the JSON shape', async () => {
    const dir = tempFiles({});
    const { error } = await report(dir, { 'main.json': seededSuite });
    expect(error).toBeUndefined();
    const md = readFileSync(join(dir, 'docs/ml-100k/main.md'), 'utf8');
    // hr ▲ (p 0), ndcg unmarked (p 0.074), map ▼ (p 0), f1 unmarked (p 1), auc ▲ (p 0.0027)
    expect(md).toContain(
      '| PRM + c score | 50.00 ± 0.00 ▲ | 50.00 ± 1.00 | 50.00 ± 0.00 ▼ | 50.00 ± 0.00 | 50.00 ± 0.00 ▲ |',
    );
    // the plain backbone itself and a row with two seeds are not compared with PRM
    expect(md).toMatch(
      /^\| PRM \| 30\.00 ± 0\.00 \| 30\.00 ± 1\.00 \| 30\.00 ± 0\.00 \| 30\.00 ± 0\.00 \| 30\.00 ± 0\.00 \|/m,
    );
    // the row on fewer seeds than the suite's says so (its third run is not finished)
    expect(md).toMatch(
      /^\| PRM \+ \+ score \(2 of 3 seeds\) \| 50\.00 ± 0\.00 \| 50\.00 ± 1\.00 \|/m,
    );
    expect(md).toContain('two-sided paired t-test over the seeds, paired by seed number');
    expect(md).toContain(
      '| PRM + c score | PRM | 3 | +25.00 (p < 0.001) ▲ | +2.00 (p 0.074) | −25.00 (p < 0.001) ▼ | 0.00 (p 1.000) | +11.00 (p 0.003) ▲ |',
    );
    expect(md).toContain('one-sample t-test of its per-seed values');
    expect(md).toContain('| PRM | retriever order | 3 | 0.00 (p 1.000) |');
    expect(md).toContain('| PRM + c score | retriever order | 3 | +25.00 (p 0.074) |');

    const json = JSON.parse(readFileSync(join(dir, 'docs/ml-100k/main.json'), 'utf8'));
    expect(Object.keys(json)).toEqual(['dataset', 'suite', 'profile', 'seeds', 'command', 'rows']);
    const [retriever, plain, concat, add] = json.rows;
    expect(retriever.significance).toBeUndefined();
    expect(retriever.significanceVsRetriever).toBeUndefined();
    expect(plain.significance).toBeUndefined();
    expect(add.significance).toBeUndefined();
    expect(add.significanceVsRetriever).toBeUndefined();
    const s = concat.significance;
    expect(s.against).toBe('PRM');
    expect(s.test).toBe('paired');
    expect(s.seeds).toEqual([1, 2, 3]);
    expect(s.tests.hr).toEqual({ meanDiff: 0.25, t: null, p: 0 });
    expect(s.tests.ndcg.meanDiff).toBeCloseTo(0.02, 12);
    expect(s.tests.ndcg.t).toBeCloseTo(3.464102, 5);
    expect(s.tests.ndcg.p).toBeCloseTo(0.07418, 5);
    expect(s.tests.map).toEqual({ meanDiff: -0.25, t: null, p: 0 });
    expect(s.tests.f1).toEqual({ meanDiff: 0, t: null, p: 1 });
    expect(s.tests.auc.t).toBeCloseTo(19.0526, 4);
    expect(s.tests.auc.p).toBeCloseTo(0.002743, 5);
    const r = concat.significanceVsRetriever;
    expect(r.against).toBe('retriever order');
    expect(r.test).toBe('one-sample');
    expect(r.tests.hr.meanDiff).toBe(0.25);
    expect(r.tests.hr.p).toBeCloseTo(0.07418, 5);
    expect(plain.significanceVsRetriever.tests.hr).toEqual({ meanDiff: 0, t: 0, p: 1 });
  });

  it('draws the training curves from the run logs and notes the runs without a log', async () => {
    const dir = tempFiles({});
    writeLog(dir, 'lab-prm-plain-s1', epochLog([0.3, 0.32, 0.31]));
    writeLog(dir, 'lab-prm-plain-s2', epochLog([0.34, 0.36]));
    writeLog(dir, 'lab-prm-plain-s3', epochLog([0.32, 0.34, 0.33, 0.35]));
    writeLog(dir, 'lab-prm-concat-s1', epochLog([0.4, 0.41]));
    writeLog(dir, 'lab-prm-concat-s2', epochLog([0.42, 0.43]));
    const { error, stderr } = await report(dir, { 'main.json': seededSuite });
    expect(error).toBeUndefined();
    expect(stderr).toMatch(/wrote .*main\.md, \.json and 1 SVG\(s\)/);
    const svg = readFileSync(join(dir, 'docs/ml-100k/main.curves.svg'), 'utf8');
    expect(svg.startsWith('<svg')).toBe(true);
    for (const text of ['>PRM<', '>PRM + c score<', '>epoch<', '>validation N@6 (%)<']) {
      expect(svg).toContain(text);
    }
    const md = readFileSync(join(dir, 'docs/ml-100k/main.md'), 'utf8');
    expect(md).toMatch(
      /!\[Validation N@6 per epoch · main · ml-100k\]\(main\.curves\.svg\)\n\n\*Training curves: /,
    );
    expect(md).toContain(
      'Training curves leave out 1 run(s) whose `log.jsonl` is not under ' +
        `\`${join(dir, 'results/runs')}\`: lab-prm-concat-s3.`,
    );
  });

  it('names the file and line of a malformed log line', async () => {
    const dir = tempFiles({});
    writeLog(
      dir,
      'lab-prm-plain-s1',
      `${epochLog([0.3])}{"epoch":2,"validation":{"ndcg":"high"}}\n`,
    );
    const { error } = await report(dir, { 'main.json': seededSuite });
    expect((error as Error).message).toMatch(
      /lab-prm-plain-s1\/log\.jsonl line 2 is not an epoch record: validation\.ndcg: /,
    );
    writeLog(dir, 'lab-prm-plain-s1', '{"epoch":1,\n');
    const again = await report(dir, {});
    expect((again.error as Error).message).toMatch(/log\.jsonl line 1 is not valid JSON/);
  });

  it('rejects a run id that is not a plain directory name', async () => {
    const dir = tempFiles({});
    const bad = {
      ...seededSuite,
      runs: [...seededSuite.runs, run('PRM', 'plain', 'prm', 4, plainM(1), '../../etc')],
    };
    const { error } = await report(dir, { 'main.json': bad });
    expect((error as Error).message).toMatch(
      /main\.json: runs\.\d+\.runId '\.\.\/\.\.\/etc' is not a plain directory name/,
    );
  });

  it('rejects two runs of one row with the same seed, naming the suite file', async () => {
    const dir = tempFiles({});
    const bad = {
      ...seededSuite,
      runs: [...seededSuite.runs, run('PRM', 'plain', 'prm', 2, plainM(2))],
    };
    const { error } = await report(dir, { 'main.json': bad });
    expect((error as Error).message).toMatch(
      /main\.json: two runs of method 'plain' on backbone 'prm' have seed 2/,
    );
  });

  it("writes the suite's plots as SVG files beside the Markdown and renders its tables", async () => {
    const dir = tempFiles({});
    const withExtras = {
      ...suiteJson,
      suite: 'main',
      profile: 'quick',
      plots: [
        {
          id: 'tau sweep/1',
          title: 'Sensitivity to tau',
          xLabel: 'tau',
          yLabel: 'test N@6',
          logX: true,
          series: [
            {
              name: 'DNR-G',
              points: [
                { x: 1, y: 0.3, yStd: 0.01 },
                { x: 4, y: 0.32 },
              ],
            },
          ],
        },
      ],
      tables: [
        {
          title: 'Time per epoch',
          columns: ['method', 'seconds'],
          rows: [
            ['PRM', 12.5],
            ['a|b', 3],
          ],
          note: 'Wall time of one training epoch, mean over seeds.',
        },
      ],
    };
    const { error } = await report(dir, { 'main.json': withExtras }, 'quick/lab');
    expect(error).toBeUndefined();
    const svgPath = join(dir, 'docs/ml-100k/main.quick.tau-sweep-1.svg');
    expect(existsSync(svgPath)).toBe(true);
    expect(readFileSync(svgPath, 'utf8')).toContain('>Sensitivity to tau<');
    const md = readFileSync(join(dir, 'docs/ml-100k/main.quick.md'), 'utf8');
    expect(md).toContain('![Sensitivity to tau](main.quick.tau-sweep-1.svg)');
    expect(md).toContain(
      '*Sensitivity to tau: test N@6 against tau (band: ± 1 sample standard deviation over seeds).*',
    );
    expect(md).toContain(
      '## Time per epoch\n\n| method | seconds |\n| --- | --- |\n| PRM | 12.5 |\n| a\\|b | 3 |\n\nWall time of one training epoch, mean over seeds.',
    );
  });

  it('rejects an empty plot or a ragged table with the suite file and the problem', async () => {
    const dir = tempFiles({});
    const emptyPlot = {
      ...suiteJson,
      plots: [{ id: 'noise', title: 'Noise', xLabel: 'x', yLabel: 'density', series: [] }],
    };
    const first = await report(dir, { 'scores.json': emptyPlot });
    expect((first.error as Error).message).toMatch(
      /scores\.json: plot 'noise' has no series to draw/,
    );
    const ragged = {
      ...suiteJson,
      tables: [{ title: 'T', columns: ['a', 'b'], rows: [['x']] }],
    };
    const second = await report(tempFiles({}), { 'scores.json': ragged });
    expect((second.error as Error).message).toMatch(
      /scores\.json is not a suite report: tables\.0: every row of a table must have one cell per column/,
    );
  });
});

describe('significanceByRow and meanCurve', () => {
  const m = (x: number): SeedRun['metrics'] => ({ hr: x, ndcg: x, map: x, f1: x, auc: x });
  const rows = [
    { label: 'Pier', method: 'plain', backbone: 'pier' },
    { label: 'PRM', method: 'plain', backbone: 'prm' },
    { label: 'Pier + DNR', method: 'dnr-b', backbone: 'pier' },
  ];

  it('pairs by seed number with the plain row of the same backbone', () => {
    const runs: SeedRun[] = [
      // seeds listed out of order, and a seed (4) the plain row lacks: pairs are (1,1), (2,2), (3,3)
      ...[3, 1, 2].map((s) => ({ method: 'plain', backbone: 'pier', seed: s, metrics: m(s / 10) })),
      ...[1, 2, 3].map((s) => ({ method: 'plain', backbone: 'prm', seed: s, metrics: m(0.9) })),
      ...[4, 2, 1, 3].map((s) => ({
        method: 'dnr-b',
        backbone: 'pier',
        seed: s,
        metrics: m(s / 10 + [0.01, 0.02, 0.03, 0.5][s - 1]!),
      })),
    ];
    const [pier, prm, dnr] = significanceByRow(rows, runs);
    expect(pier).toEqual({});
    expect(prm).toEqual({});
    expect(dnr!.plain!.against).toBe('Pier');
    expect(dnr!.plain!.seeds).toEqual([1, 2, 3]);
    // differences [0.01, 0.02, 0.03] (not the 0.9 of PRM): t = 2 sqrt 3, p = 0.0742
    expect(dnr!.plain!.tests.ndcg.meanDiff).toBeCloseTo(0.02, 12);
    expect(dnr!.plain!.tests.ndcg.p).toBeCloseTo(0.07418, 5);
  });

  it('meanCurve: mean and sample std over the seeds that reached each epoch', () => {
    const curve = meanCurve([
      [
        { epoch: 1, value: 30 },
        { epoch: 2, value: 32 },
        { epoch: 3, value: 31 },
      ],
      [
        { epoch: 2, value: 36 },
        { epoch: 1, value: 34 },
      ],
      [
        { epoch: 1, value: 32 },
        { epoch: 2, value: null },
      ],
    ]);
    // epoch 1: [30, 34, 32] mean 32, sd 2; epoch 2: [32, 36] mean 34, sd 2 sqrt 2; epoch 3: [31] alone
    expect(curve).toHaveLength(3);
    expect(curve[0]).toEqual({ x: 1, y: 32, yStd: 2 });
    expect(curve[1]!.y).toBe(34);
    expect(curve[1]!.yStd).toBeCloseTo(2 * Math.SQRT2, 12);
    expect(curve[2]).toEqual({ x: 3, y: 31 });
  });

  it('readEpochLog returns undefined for an absent log and rejects a repeated epoch', async () => {
    const dir = tempFiles({ 'log.jsonl': `${epochLog([0.3, 0.31])}${epochLog([0.2])}` });
    expect(await readEpochLog(join(dir, 'absent.jsonl'))).toBeUndefined();
    await expect(readEpochLog(join(dir, 'log.jsonl'))).rejects.toThrow(
      /log\.jsonl line 3 repeats epoch 1/,
    );
  });
});

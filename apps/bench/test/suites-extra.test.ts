import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  formatExtraTable,
  rowsFor,
  runSuite,
  suiteRuns,
  suiteSchema,
  uniqueRuns,
  type SuiteReport,
} from '../src/commands/suite';
import { safeSegment } from '../src/files';
import { readRunLog, runLogPath } from '../src/run-log';
import { chosenSnapshot, densityStats, meanStd, totalVariation } from '../src/suite-extras';
import { PROFILE_NAMES, SUITES, SUITE_NAMES, suiteRows, type SuiteRow } from '../src/suites';
import { runCli, tempFiles, TINY_LAB, TINY_MODEL } from './helpers';

// A tiny lab and model: every suite below trains in seconds, in this process.
const TINY = { lab: TINY_LAB, ...TINY_MODEL, epochs: 1 };

const dir = tempFiles({});
const out = join(dir, 'results');
const runsDir = join(out, 'runs');

async function suite(
  name: string,
  extra: Record<string, unknown> = {},
  outDir = out,
): Promise<{ report: SuiteReport; lines: string[] }> {
  const lines: string[] = [];
  const settings = suiteSchema.parse({
    suite: name,
    profile: 'quick',
    seeds: 1,
    jobs: 1,
    backend: 'cpu',
    out: outDir,
    ...extra,
    overrides: { ...TINY, ...(extra.overrides as object | undefined) },
  });
  const report = await runSuite(settings, (l) => lines.push(l), `test ${name}`);
  if (report.failed.length > 0) throw new Error(`failed runs:\n${lines.join('\n')}`);
  const onDisk = JSON.parse(
    readFileSync(join(outDir, 'suites/quick/lab', `${name}.json`), 'utf8'),
  ) as SuiteReport;
  expect(onDisk).toEqual(JSON.parse(JSON.stringify(report)));
  return { report, lines };
}

const labels = (r: SuiteReport): string[] => r.rows.map((row) => row.label);
const runIds = (r: SuiteReport): string[] => [
  ...new Set(r.runs.flatMap((x) => (x.runId ? [x.runId] : []))),
];
const rowOf = (r: SuiteReport, label: string) => r.rows.find((row) => row.label === label)!;
const config = (id: string, runs = runsDir) =>
  JSON.parse(readFileSync(join(runs, id, 'config.json'), 'utf8')) as {
    model: { config: { blocks?: number } };
    method: { alpha: number; lambda: number; tau: number };
    settings: { patience: number; epochs: number };
  };

describe('run ids', () => {
  const data = { name: 'lab', ds: undefined as never, train: { dataset: 'lab' } };
  const settingsOf = (name: string, profile: string) =>
    suiteSchema.parse({ suite: name, profile, seeds: 2, out });

  it('keep the ids of the existing suites (committed benchmark runs rely on them)', () => {
    const ids = suiteRuns(SUITES.main!, settingsOf('main', 'standard'), data, runsDir)
      .filter((s) => s.seed === 1)
      .map((s) => s.id);
    expect(ids).toEqual([
      'lab-prm-plain-standard-s1',
      'lab-prm-concatscore-standard-s1',
      'lab-prm-addscore-standard-s1',
      'lab-prm-weightscore-standard-s1',
      'lab-prm-w-g-standard-s1',
      'lab-prm-w-b-standard-s1',
      'lab-prm-dnr-g-standard-s1',
      'lab-prm-dnr-b-standard-s1',
    ]);
  });

  it('are path-safe in every suite and profile, and one id always means one setting', () => {
    for (const name of SUITE_NAMES) {
      for (const profile of PROFILE_NAMES) {
        const specs = suiteRuns(SUITES[name]!, settingsOf(name, profile), data, runsDir);
        for (const spec of specs) expect(safeSegment(spec.id)).toBe(spec.id);
        // throws if two rows gave one id different settings
        const unique = uniqueRuns(specs);
        const settings = new Set(unique.map((s) => JSON.stringify(s.settings)));
        expect(settings.size).toBe(unique.length);
      }
    }
  });

  it('sweep and larger rows have their own runs; default sweep values share the plain run', () => {
    const larger = suiteRuns(SUITES.larger!, settingsOf('larger', 'quick'), data, runsDir);
    expect(larger.filter((s) => s.seed === 1).map((s) => s.id)).toEqual([
      'lab-prm-plain-quick-s1',
      'lab-prm-dnr-g-quick-s1',
      'lab-prm-plain-blocks3-quick-s1',
      'lab-prm-dnr-g-blocks3-quick-s1',
    ]);
    const sweep = suiteRuns(SUITES.sensitivity!, settingsOf('sensitivity', 'quick'), data, runsDir);
    // quick grid: alpha 0.2 0.4 0.6, lambda 0.2 0.4 0.8, tau 0 3 5 for DNR-G; 0.4, 0.4 and 3 are
    // DNR-G's defaults, so 9 rows train 7 settings
    expect(sweep).toHaveLength(9 * 2);
    expect(uniqueRuns(sweep)).toHaveLength(7 * 2);
    expect(
      uniqueRuns(sweep)
        .filter((s) => s.seed === 1)
        .map((s) => s.id),
    ).toEqual([
      'lab-prm-dnr-g-alpha0.2-quick-s1',
      'lab-prm-dnr-g-quick-s1',
      'lab-prm-dnr-g-alpha0.6-quick-s1',
      'lab-prm-dnr-g-lambda0.2-quick-s1',
      'lab-prm-dnr-g-lambda0.8-quick-s1',
      'lab-prm-dnr-g-tau0-quick-s1',
      'lab-prm-dnr-g-tau5-quick-s1',
    ]);
  });

  it('refuse overrides that would change what a row is, and conflicting shared ids', () => {
    const prm = (SUITES.main!.rows as readonly SuiteRow[]).find((r) => r.label === 'PRM')!;
    const bad = suiteSchema.parse({ suite: 'larger', out, overrides: { blocks: 2 } });
    expect(() => suiteRuns(SUITES.larger!, bad, data, runsDir)).toThrow(
      /overrides.blocks = 2 would replace the blocks of the larger row 'larger PRM'/,
    );
    const sweep = suiteSchema.parse({ suite: 'sensitivity', out, overrides: { alpha: 0.3 } });
    expect(() => suiteRuns(SUITES.sensitivity!, sweep, data, runsDir)).toThrow(/overrides.alpha/);
    // the time suite lets overrides choose how many epochs are timed
    const time = suiteSchema.parse({ suite: 'time', out, overrides: { epochs: 2 } });
    expect(suiteRuns(SUITES.time!, time, data, runsDir)[0]!.settings).toMatchObject({
      epochs: 2,
      patience: 100_000,
    });
    expect(() =>
      uniqueRuns([
        { id: 'a', settings: { x: 1 } },
        { id: 'a', settings: { x: 2 } },
      ]),
    ).toThrow(/two rows give run id a to different settings/);
    expect(() =>
      suiteRows({ name: 'dup', paper: '', title: '', rows: [prm, prm] }, undefined as never),
    ).toThrow(/two rows labelled 'PRM'/);
  });

  it('a sweep from the run file replaces the profile grid, list by list', () => {
    const settings = suiteSchema.parse({
      suite: 'sensitivity',
      out,
      sweep: { methods: ['dnr-b'], alpha: [0.3], tau: [] },
    });
    expect(rowsFor(SUITES.sensitivity!, settings).map((r) => r.label)).toEqual([
      'DNR-B · alpha = 0.3',
      'DNR-B · lambda = 0.2',
      'DNR-B · lambda = 0.4',
      'DNR-B · lambda = 0.8',
    ]);
    expect(() => suiteSchema.parse({ suite: 'sensitivity', sweep: { alpha: [1.5] } })).toThrow();
  });
});

describe('helpers', () => {
  it('meanStd gives the sample std', () => {
    expect(meanStd([1, 2, 3, 4])).toEqual({ mean: 2.5, std: Math.sqrt(5 / 3) });
    expect(meanStd([7])).toEqual({ mean: 7, std: 0 });
  });

  it('densityStats and totalVariation on hand-made histograms', () => {
    // bins of width 1 centred at 0, 1, 2, 3; p puts 1/2 on 1 and 1/2 on 2
    const centers = [0, 1, 2, 3];
    const p = [0, 0.5, 0.5, 0];
    expect(densityStats(centers, p)).toEqual({ mean: 1.5, std: 0.5 });
    // q puts everything on 3: TV = ½(0.5 + 0.5 + 1) = 1 (disjoint)
    expect(totalVariation(p, [0, 0, 0, 1], 1)).toBe(1);
    // r = 1/4 on each bin: TV = ½(0.25 + 0.25 + 0.25 + 0.25) = 0.5
    expect(totalVariation(p, [0.25, 0.25, 0.25, 0.25], 1)).toBe(0.5);
    expect(totalVariation(p, p, 1)).toBe(0);
  });

  it('readRunLog keeps the last record of an epoch and names the file and line of a bad one', () => {
    const logDir = tempFiles({});
    const path = join(logDir, 'log.jsonl');
    const epoch = (e: number, t: number, phase?: string) =>
      JSON.stringify({
        epoch: e,
        trainSeconds: t,
        ...(phase ? { diagnostics: { phase, density: null } } : {}),
      });
    writeFileSync(path, [epoch(1, 5), epoch(2, 6), epoch(2, 7), ''].join('\n'));
    expect(readRunLog(path).map((e) => [e.epoch, e.trainSeconds])).toEqual([
      [1, 5],
      [2, 7],
    ]);
    writeFileSync(path, `${epoch(1, 5)}\n{"epoch":2,"trainSeconds":"x"}\n`);
    expect(() => readRunLog(path)).toThrow(
      /log\.jsonl line 2 is not an epoch record: trainSeconds/,
    );
    expect(() => readRunLog(join(logDir, 'none.jsonl'))).toThrow(/none\.jsonl: no such file/);
  });

  it('chosenSnapshot takes the best epoch when the learned generator ran in it, else the last', () => {
    const density = (v: number) => ({
      bins: 1,
      range: [0, 1] as [number, number],
      centers: [0.5],
      observed: [v],
      heuristic: [v],
      learned: [v],
    });
    const log = [1, 2, 3].map((e) => ({
      epoch: e,
      trainSeconds: 1,
      diagnostics: {
        phase: e <= 1 ? ('heuristic' as const) : ('learned' as const),
        density: density(e),
      },
    }));
    expect(chosenSnapshot(log, { bestEpoch: 2 })?.epoch).toBe(2);
    expect(chosenSnapshot(log, { bestEpoch: 1 })?.epoch).toBe(3);
    expect(chosenSnapshot([{ epoch: 1, trainSeconds: 1 }], { bestEpoch: 1 })).toBeUndefined();
  });
});

describe('suites on the tiny lab', () => {
  it('retriever (Table 8): no training, the AUC table agrees with the retriever row', async () => {
    const { report, lines } = await suite('retriever');
    expect(lines.join('\n')).toMatch(/no training runs/);
    expect(labels(report)).toEqual(['oracle (true probabilities)', 'retriever order']);
    expect(runIds(report)).toEqual([]);
    const table = report.tables![0]!;
    expect(table.columns).toEqual([
      'split',
      'lists',
      'per-list AUC',
      'pooled AUC',
      'N@6',
      'held-out AUC',
    ]);
    expect(table.rows.map((r) => r.slice(0, 2))).toEqual([
      ['train', 120],
      ['validation', 40],
      ['test', 40],
      ['paper, ML-1M', ''],
      ['paper, Kuaivideo', ''],
      ['paper, Book', ''],
    ]);
    expect(table.rows[3]![5]).toBe('79.20');
    // two implementations (@dnr/retriever diagnostics and @dnr/metrics) on the test lists
    const retriever = rowOf(report, 'retriever order').metrics;
    expect(table.rows[2]![2]).toBe((100 * retriever.auc.mean).toFixed(2));
    expect(table.rows[2]![4]).toBe((100 * retriever.ndcg.mean).toFixed(2));
    // the lab's retriever is simulated: no held-out AUC
    expect(table.rows[2]![5]).toBe('-');
  });

  it('the CLI prints the extra table under the main one', async () => {
    const files = tempFiles({ 'tiny.json': JSON.stringify({ overrides: TINY }) });
    const { stdout, error } = await runCli([
      'suite',
      'retriever',
      '--seeds',
      '1',
      '--backend',
      'cpu',
      '--config',
      join(files, 'tiny.json'),
      '--out',
      join(files, 'results'),
    ]);
    expect(error).toBeUndefined();
    expect(stdout).toMatch(/retriever \(Table 8\) · lab · profile quick/);
    expect(stdout).toMatch(/^Retriever AUC \(Table 8\)\nsplit +lists +per-list AUC/m);
    expect(stdout).toMatch(/^test +40 /m);
  });

  it('larger (Table 10): PRM and DNR-G, then both with 3 blocks', async () => {
    const { report } = await suite('larger');
    expect(labels(report).slice(2)).toEqual(['PRM', 'DNR-G', 'larger PRM', 'larger PRM + DNR']);
    expect(report.failed).toEqual([]);
    expect(runIds(report)).toEqual([
      'lab-prm-plain-quick-s1',
      'lab-prm-dnr-g-quick-s1',
      'lab-prm-plain-blocks3-quick-s1',
      'lab-prm-dnr-g-blocks3-quick-s1',
    ]);
    expect(config('lab-prm-plain-quick-s1').model.config.blocks).toBe(1);
    expect(config('lab-prm-plain-blocks3-quick-s1').model.config.blocks).toBe(3);
    expect(config('lab-prm-dnr-g-blocks3-quick-s1').model.config.blocks).toBe(3);
  });

  it('time (Table 12): fixed epochs, seconds from log.jsonl, ratio 1 for PRM', async () => {
    const { report, lines } = await suite('time', { jobs: 2, overrides: { epochs: 2 } });
    expect(lines.join('\n')).toMatch(/5 training runs, in this process, one at a time \(timed\)/);
    expect(labels(report).slice(2)).toEqual(['PRM', 'w/ score', 'Pier', 'DNR-G', 'DNR-B']);
    const ids = runIds(report);
    expect(ids).toEqual([
      'lab-prm-plain-time-quick-s1',
      'lab-prm-concatscore-time-quick-s1',
      'lab-pier-plain-time-quick-s1',
      'lab-prm-dnr-g-time-quick-s1',
      'lab-prm-dnr-b-time-quick-s1',
    ]);
    const table = report.tables![0]!;
    expect(table.columns[5]).toBe('ratio to PRM');
    const byLabel = new Map(table.rows.map((r) => [r[0], r]));
    expect(byLabel.get('PRM')![5]).toBe('1.00');
    for (const row of table.rows) expect(row.slice(1, 3)).toEqual([1, 2]); // 1 run, 2 epochs each
    // the ratio is computed from the logged seconds
    const secs = (id: string) => readRunLog(runLogPath(runsDir, id)).map((e) => e.trainSeconds);
    const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
    const ratio = mean(secs(ids[3]!)) / mean(secs(ids[0]!));
    expect(byLabel.get('DNR-G')![5]).toBe(ratio.toFixed(2));
    // DNR rows: τ = 1, so epoch 2 ran the generator; PRM has no such epochs
    expect(byLabel.get('DNR-G')![4]).not.toBe('-');
    expect(byLabel.get('PRM')![4]).toBe('-');
    // the paper's ML-1M figures: DNR 66 s vs PRM 61 s
    expect(byLabel.get('DNR-B')!.slice(6)).toEqual(['66', (66 / 61).toFixed(2)]);
    expect(table.note).toMatch(
      /depend on the machine and the backend: this suite ran on the cpu backend/,
    );
    expect(config(ids[0]!).settings).toMatchObject({ epochs: 2, patience: 100_000 });
  });

  it('sensitivity (Figure 3): a row per swept value, a plot per hyperparameter', async () => {
    const sweep = { methods: ['dnr-g'], alpha: [0.2, 0.4], lambda: [0.4], tau: [0, 3] };
    const { report, lines } = await suite('sensitivity', { seeds: 2, sweep });
    expect(lines.join('\n')).toMatch(/6 training runs \(10 row-seed pairs share them\)/);
    expect(labels(report).slice(2)).toEqual([
      'DNR-G · alpha = 0.2',
      'DNR-G · alpha = 0.4',
      'DNR-G · lambda = 0.4',
      'DNR-G · tau = 0',
      'DNR-G · tau = 3',
    ]);
    expect(runIds(report)).toEqual([
      'lab-prm-dnr-g-alpha0.2-quick-s1',
      'lab-prm-dnr-g-alpha0.2-quick-s2',
      'lab-prm-dnr-g-quick-s1',
      'lab-prm-dnr-g-quick-s2',
      'lab-prm-dnr-g-tau0-quick-s1',
      'lab-prm-dnr-g-tau0-quick-s2',
    ]);
    expect(config('lab-prm-dnr-g-alpha0.2-quick-s1').method).toMatchObject({ alpha: 0.2, tau: 3 });
    expect(config('lab-prm-dnr-g-tau0-quick-s1').method).toMatchObject({ alpha: 0.4, tau: 0 });
    // the default values are one set of runs
    expect(rowOf(report, 'DNR-G · lambda = 0.4').metrics).toEqual(
      rowOf(report, 'DNR-G · tau = 3').metrics,
    );
    expect(report.plots!.map((p) => p.id)).toEqual(['alpha', 'lambda', 'tau']);
    // the run file's grids are recorded for the report (a suite without them records none)
    expect(report.sweep).toEqual(sweep);
    const retriever = 100 * rowOf(report, 'retriever order').metrics.ndcg.mean;
    for (const plot of report.plots!) {
      const [dnr, flat] = plot.series;
      expect(dnr!.name).toBe('DNR-G');
      expect(flat!.name).toBe('retriever order');
      const values = sweep[plot.id as 'alpha' | 'lambda' | 'tau'];
      expect(dnr!.points.map((p) => p.x)).toEqual(values);
      expect(flat!.points).toEqual(values.map((x) => ({ x, y: retriever })));
      for (const point of dnr!.points) {
        const row = rowOf(report, `DNR-G · ${plot.id} = ${point.x}`).metrics.ndcg;
        expect(point.y).toBeCloseTo(100 * row.mean, 10);
        expect(point.yStd).toBeCloseTo(100 * row.std, 10);
      }
    }
  });

  it('noise (Figure 5): densities of the chosen epoch, averaged, with distances', async () => {
    // its own results: τ = 0 changes the settings of the DNR-G run the other suites share
    const noiseOut = join(dir, 'noise');
    const { report } = await suite('noise', { overrides: { tau: 0 } }, noiseOut);
    expect(labels(report).slice(2)).toEqual(['DNR-G', 'DNR-B', 'DNR-BL']);
    const plot = report.plots![0]!;
    expect(plot.id).toBe('densities');
    expect(plot.series.map((s) => s.name)).toEqual([
      'observed noise',
      'Gaussian N(0, 1) (DNR-G warm-up)',
      'learned (DNR-G)',
      'Beta(0.5, 0.5) (DNR-B warm-up)',
      'learned (DNR-B)',
      'Beta(2, 5) (DNR-BL warm-up)',
      'learned (DNR-BL)',
    ]);
    // one seed: the plotted densities are the logged ones of epoch 1 (τ = 0: learned already)
    const logged = readRunLog(runLogPath(join(noiseOut, 'runs'), 'lab-prm-dnr-b-quick-s1'))[0]!
      .diagnostics!;
    expect(logged.phase).toBe('learned');
    const density = logged.density!;
    const series = (name: string) => plot.series.find((s) => s.name === name)!.points;
    expect(series('learned (DNR-B)').map((p) => p.y)).toEqual(density.learned);
    expect(series('learned (DNR-B)').map((p) => p.x)).toEqual(density.centers);
    const width = (density.range[1] - density.range[0]) / density.bins;
    const mass = series('Beta(0.5, 0.5) (DNR-B warm-up)').reduce((a, p) => a + p.y * width, 0);
    expect(mass).toBeCloseTo(1, 3);
    const table = report.tables![0]!;
    const row = table.rows.find((r) => r[0] === 'learned (DNR-B)')!;
    expect(row.slice(1, 3)).toEqual([1, '1']);
    expect(row[5]).toBe(totalVariation(density.learned!, density.observed, width).toFixed(3));
    expect(table.rows.find((r) => r[0] === 'observed noise')!.slice(1, 2)).toEqual([3]);
  });
});

describe('formatExtraTable', () => {
  it('aligns the columns: the first to the left, the others to the right', () => {
    const text = formatExtraTable({
      title: 'T',
      columns: ['method', 'x'],
      rows: [
        ['PRM', 1.5],
        ['DNR-G', '10.25'],
      ],
      note: 'n',
    });
    expect(text).toBe(
      ['T', 'method      x', '------  -----', 'PRM       1.5', 'DNR-G   10.25', '', 'n'].join('\n'),
    );
  });
});

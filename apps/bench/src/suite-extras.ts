/**
 * The tables and plots some suites attach to their report besides the metric rows:
 * `retriever` (Table 8: the retriever's AUC and N@6 on the candidate lists), `time` (Table 12:
 * seconds per epoch and the ratio to PRM), `sensitivity` (Figure 3: test N@6 against α, λ, τ) and
 * `noise` (Figure 5: densities of the observed, heuristic and learned noise). Built from the
 * finished runs' reports and their `log.jsonl`; a run whose log cannot be read is left out and
 * named in the table's note rather than failing the suite.
 */
import { cpus } from 'node:os';
import type { RerankDataset, SplitName } from '@dnr/data';
import { retrieverListDiagnostics } from '@dnr/retriever';
import { z } from 'zod';
import type { RunRecord } from './aggregate';
import { TOP_K, evaluateSplit, listsOf, referenceScores } from './evaluate';
import { PAPER_DATASETS, PAPER_EPOCH_SECONDS, PAPER_RETRIEVER_AUC } from './paper';
import type { PlotPoint, PlotSeries, SuitePlot, SuiteTable } from './report-types';
import { readRunConfig, readRunLog, runLogPath, type DensitySnapshot } from './run-log';
import {
  METHOD_LABELS,
  SWEEP_PARAMS,
  type SuiteExtras,
  type SuiteRow,
  type SweepParam,
} from './suites';
import type { TrainReport } from './train';

/** A finished training run of a suite row at one seed. */
export interface FinishedRun {
  /** Index of the row in the suite's rows. */
  readonly row: number;
  readonly seed: number;
  readonly runId: string;
  readonly report: TrainReport;
}

export interface ExtrasInput {
  readonly kind: SuiteExtras;
  readonly rows: readonly SuiteRow[];
  readonly runs: readonly FinishedRun[];
  /** The reference rows' records (`retriever`, `oracle`), one per seed. */
  readonly reference: readonly RunRecord[];
  /** Where the runs live (`<out>/runs`). */
  readonly runsDir: string;
  readonly ds: RerankDataset;
  /** The tfjs backend of this suite invocation. */
  readonly backend: string;
}

export interface ExtrasOutput {
  readonly plots?: SuitePlot[];
  readonly tables?: SuiteTable[];
}

/** Builds the extra tables and plots of a suite. */
export function suiteExtras(input: ExtrasInput): ExtrasOutput {
  switch (input.kind) {
    case 'retriever':
      return { tables: [retrieverTable(input.ds)] };
    case 'time':
      return { tables: [timeTable(input)] };
    case 'sensitivity':
      return { plots: sensitivityPlots(input) };
    case 'noise':
      return noiseExtras(input);
  }
}

/** Mean and sample standard deviation (0 for one value; NaN for none). */
export function meanStd(values: readonly number[]): { mean: number; std: number } {
  const n = values.length;
  if (n === 0) return { mean: Number.NaN, std: Number.NaN };
  const mean = values.reduce((a, b) => a + b, 0) / n;
  if (n === 1) return { mean, std: 0 };
  const ss = values.reduce((a, b) => a + (b - mean) ** 2, 0);
  return { mean, std: Math.sqrt(ss / (n - 1)) };
}

const pct = (x: number | null | undefined): string =>
  typeof x === 'number' && Number.isFinite(x) ? (100 * x).toFixed(2) : '-';

/** Finite values only: JSON has no NaN. */
const isFiniteNumber = (x: number): boolean => Number.isFinite(x);

// ---------------------------------------------------------------------------------------------
// retriever (Table 8)

/** The retriever summary `data prepare` stores in `meta.prepare` (validated: cache files are input). */
const preparedRetrieverSchema = z
  .object({
    retriever: z
      .object({
        mode: z.string(),
        testAuc: z.number().nullable(),
        validationAuc: z.number().nullable(),
      })
      .loose(),
  })
  .loose();

/**
 * Table 8: per split, the retriever's mean per-list AUC, the AUC of all candidate rows pooled,
 * N@6 of its order, and (file datasets) the held-out AUC of `data prepare` — the paper's metric.
 */
export function retrieverTable(ds: RerankDataset): SuiteTable {
  const diag = retrieverListDiagnostics(ds, { k: TOP_K });
  const prepared = preparedRetrieverSchema.safeParse(ds.meta.prepare);
  const heldOut: Partial<Record<SplitName, number | null>> = prepared.success
    ? {
        validation: prepared.data.retriever.validationAuc,
        test: prepared.data.retriever.testAuc,
      }
    : {};
  const splits: SplitName[] = ['train', 'validation', 'test'];
  const rows: Array<Array<string | number>> = splits.map((split) => {
    const lists = listsOf(ds, split);
    const scores = referenceScores(ds, lists, 'retriever', 1)!;
    const pooled = lists.length > 0 ? evaluateSplit(ds, lists, scores).aucGlobal : Number.NaN;
    const d = diag[split];
    return [split, d.lists, pct(d.auc), pct(pooled), pct(d.ndcg), pct(heldOut[split])];
  });
  for (const name of PAPER_DATASETS) {
    rows.push([`paper, ${name}`, '', '', '', '', PAPER_RETRIEVER_AUC[name].toFixed(2)]);
  }
  const source = prepared.success
    ? `the ${prepared.data.retriever.mode} MF retriever of \`data prepare\``
    : 'a simulated retriever (no held-out AUC: the lab scores candidates by noisy true affinities)';
  return {
    title: 'Retriever AUC (Table 8)',
    columns: ['split', 'lists', 'per-list AUC', 'pooled AUC', 'N@6', 'held-out AUC'],
    rows,
    note:
      `Scores of ${source}, percent. Per-list AUC: mean over lists holding both classes; pooled AUC: all ` +
      'candidate rows of the split together; N@6: the retriever order. Held-out AUC: held-out ' +
      "positives against sampled negatives, the paper's Table 8 metric (its rows, MF on the paper's " +
      'datasets, are below).' +
      (diag.warning ? ` Warning: ${diag.warning}.` : ''),
  };
}

// ---------------------------------------------------------------------------------------------
// time (Table 12)

/** The label of the time suite's baseline row (ratio 1). */
export const TIME_BASELINE = 'PRM';

/** Our time rows by the paper's Table 12 row they compare with. */
const PAPER_TIME_ROW: Readonly<Record<string, string>> = {
  PRM: 'PRM',
  Pier: 'Pier',
  'w/ score': 'w/ score',
  'DNR-G': 'DNR',
  'DNR-B': 'DNR',
};

/** Decimals that show a duration of about `x` seconds to 3 significant digits (at most 3). */
const decimals = (x: number): number => (x < 1 ? 3 : x < 10 ? 2 : x < 100 ? 1 : 0);

/** `mean ± std` of seconds (both with the mean's decimals), or `-` without values. */
const secondsCell = (values: readonly number[]): string => {
  if (values.length === 0) return '-';
  const { mean, std } = meanStd(values);
  const d = decimals(mean);
  return values.length > 1 ? `${mean.toFixed(d)} ± ${std.toFixed(d)}` : mean.toFixed(d);
};

/** Table 12: seconds per epoch of each row (from `log.jsonl` `trainSeconds`) and the ratio to PRM. */
export function timeTable(input: ExtrasInput): SuiteTable {
  const problems: string[] = [];
  const backends = new Set<string>();
  const perRow = input.rows.map((_, r) => {
    const all: number[] = [];
    const learned: number[] = [];
    let runs = 0;
    for (const run of input.runs.filter((x) => x.row === r)) {
      try {
        const log = readRunLog(runLogPath(input.runsDir, run.runId));
        for (const e of log) {
          all.push(e.trainSeconds);
          if (e.diagnostics?.phase === 'learned') learned.push(e.trainSeconds);
        }
        runs++;
        const backend = readRunConfig(input.runsDir, run.runId).backend;
        if (backend) backends.add(backend);
      } catch (error) {
        problems.push((error as Error).message);
      }
    }
    return { all, learned, runs };
  });
  const base = input.rows.findIndex((row) => row.label === TIME_BASELINE);
  const baseMean = base >= 0 ? meanStd(perRow[base]!.all).mean : Number.NaN;
  const paperBase = PAPER_EPOCH_SECONDS.PRM!['ML-1M'];
  const rows = input.rows.map((row, r) => {
    const { all, learned, runs } = perRow[r]!;
    const ratio = meanStd(all).mean / baseMean;
    const paper = PAPER_EPOCH_SECONDS[PAPER_TIME_ROW[row.label] ?? '']?.['ML-1M'];
    return [
      row.label,
      runs,
      all.length,
      secondsCell(all),
      secondsCell(learned),
      Number.isFinite(ratio) ? ratio.toFixed(2) : '-',
      paper === undefined ? '' : String(paper),
      paper === undefined ? '' : (paper / paperBase).toFixed(2),
    ];
  });
  const cpu = cpus();
  const machine = `${cpu[0]?.model.trim() ?? 'unknown CPU'} (${cpu.length} cores), Node ${process.version}`;
  const trainedOn = backends.size > 0 ? [...backends].join(', ') : 'unknown';
  return {
    title: 'Training seconds per epoch (Table 12)',
    columns: [
      'method',
      'runs',
      'epochs',
      's / epoch',
      's / epoch after τ',
      `ratio to ${TIME_BASELINE}`,
      'paper ML-1M s / epoch',
      'paper ratio',
    ],
    rows,
    note:
      "Seconds of each epoch's training pass (`trainSeconds` of log.jsonl: evaluation and checkpoints " +
      'excluded), mean ± sample std over every epoch of every seed; each run trains a fixed number of ' +
      'epochs without early stopping, one run at a time. The DNR rows use τ = 1: "after τ" are the ' +
      'epochs that also step the learned generator. Times depend on the machine and the backend: this ' +
      `suite ran on the ${input.backend} backend, ${machine}; the runs were trained on: ${trainedOn}. ` +
      "The paper's figures are PyTorch on an A40 GPU (ML-1M); its DNR row is compared with DNR-G and DNR-B." +
      (problems.length > 0 ? ` Left out: ${problems.join('; ')}.` : ''),
  };
}

// ---------------------------------------------------------------------------------------------
// sensitivity (Figure 3)

const PARAM_LABELS: Readonly<Record<SweepParam, string>> = {
  alpha: 'noise proportion α (Eq. 4)',
  lambda: 'weight λ of L_z (Eq. 6)',
  tau: 'warm-up epochs τ',
};

/** Figure 3: one plot per swept hyperparameter, test N@6 (%) per method, and the retriever's. */
export function sensitivityPlots(input: ExtrasInput): SuitePlot[] {
  const retriever = meanStd(
    input.reference.filter((r) => r.method === 'retriever').map((r) => r.metrics.ndcg),
  ).mean;
  const plots: SuitePlot[] = [];
  for (const param of SWEEP_PARAMS) {
    const series = new Map<string, PlotPoint[]>();
    const xs = new Set<number>();
    input.rows.forEach((row, r) => {
      if (row.sweep?.param !== param) return;
      const values = input.runs
        .filter((run) => run.row === r)
        .map((run) => run.report.test.ndcg)
        .filter((v): v is number => typeof v === 'number' && isFiniteNumber(v));
      if (values.length === 0) return;
      const { mean, std } = meanStd(values);
      const name = METHOD_LABELS[row.sweep.method] ?? row.sweep.method;
      const points = series.get(name) ?? [];
      points.push({ x: row.sweep.value, y: 100 * mean, yStd: 100 * std });
      series.set(name, points);
      xs.add(row.sweep.value);
    });
    if (series.size === 0) continue;
    const all: PlotSeries[] = [...series].map(([name, points]) => ({
      name,
      points: [...points].sort((a, b) => a.x - b.x),
    }));
    if (Number.isFinite(retriever)) {
      all.push({
        name: 'retriever order',
        points: [...xs].sort((a, b) => a - b).map((x) => ({ x, y: 100 * retriever })),
      });
    }
    plots.push({
      id: param,
      title: `Test N@6 against ${PARAM_LABELS[param]}`,
      xLabel: PARAM_LABELS[param],
      yLabel: 'test N@6 (%)',
      series: all,
    });
  }
  return plots;
}

// ---------------------------------------------------------------------------------------------
// noise (Figure 5)

/** Mean and standard deviation of the distribution a histogram density describes. */
export function densityStats(
  centers: readonly number[],
  density: readonly number[],
): { mean: number; std: number } {
  const width = centers.length > 1 ? centers[1]! - centers[0]! : 1;
  let mass = 0;
  let mean = 0;
  for (let k = 0; k < centers.length; k++) {
    mass += density[k]! * width;
    mean += centers[k]! * density[k]! * width;
  }
  if (mass <= 0) return { mean: Number.NaN, std: Number.NaN };
  mean /= mass;
  let variance = 0;
  for (let k = 0; k < centers.length; k++)
    variance += (centers[k]! - mean) ** 2 * density[k]! * width;
  return { mean, std: Math.sqrt(variance / mass) };
}

/** Total variation distance ½ Σ |p − q| · width between two densities on the same bins. */
export function totalVariation(
  p: readonly number[],
  q: readonly number[],
  binWidth: number,
): number {
  if (p.length !== q.length) throw new RangeError('densities on different bins');
  let sum = 0;
  for (let k = 0; k < p.length; k++) sum += Math.abs(p[k]! - q[k]!);
  return 0.5 * sum * binWidth;
}

interface DensitySource {
  readonly name: string;
  readonly densities: number[][];
  readonly distances: number[];
  readonly stats: Array<{ mean: number; std: number }>;
  readonly epochs: Set<number>;
}

/**
 * Figure 5: for every DNR run, the density snapshot of its chosen epoch — the best validation
 * epoch when the learned generator was active in it, otherwise the run's last epoch — giving the
 * observed noise, the warm-up heuristic's and the learned generator's; averaged over seeds.
 */
export function noiseExtras(input: ExtrasInput): ExtrasOutput {
  const problems: string[] = [];
  const sources = new Map<string, DensitySource>();
  let grid: { centers: number[]; range: [number, number] } | undefined;
  const add = (name: string, density: number[], observed: number[], epoch: number): void => {
    const source = sources.get(name) ?? {
      name,
      densities: [],
      distances: [],
      stats: [],
      epochs: new Set<number>(),
    };
    const width = (grid!.range[1] - grid!.range[0]) / grid!.centers.length;
    source.densities.push(density);
    source.distances.push(totalVariation(density, observed, width));
    source.stats.push(densityStats(grid!.centers, density));
    source.epochs.add(epoch);
    sources.set(name, source);
  };
  input.rows.forEach((row, r) => {
    for (const run of input.runs.filter((x) => x.row === r)) {
      let snapshot: { epoch: number; density: DensitySnapshot } | undefined;
      try {
        snapshot = chosenSnapshot(readRunLog(runLogPath(input.runsDir, run.runId)), run.report);
      } catch (error) {
        problems.push((error as Error).message);
        continue;
      }
      if (!snapshot) {
        problems.push(`${run.runId} logged no density snapshot`);
        continue;
      }
      const d = snapshot.density;
      grid ??= { centers: d.centers, range: d.range };
      if (
        d.centers.length !== grid.centers.length ||
        d.range.some((v, i) => v !== grid!.range[i])
      ) {
        problems.push(`${run.runId} used other density bins`);
        continue;
      }
      const heuristic =
        readRunConfig(input.runsDir, run.runId).heuristic ?? `${row.label} heuristic`;
      add('observed noise', d.observed, d.observed, snapshot.epoch);
      add(`${heuristic} (${row.label} warm-up)`, d.heuristic, d.observed, snapshot.epoch);
      if (d.learned) add(`learned (${row.label})`, d.learned, d.observed, snapshot.epoch);
    }
  });
  if (!grid) {
    return {
      tables: [
        {
          title: 'Noise densities (Figure 5)',
          columns: ['noise'],
          rows: [],
          note: `No density snapshot to show.${problems.length > 0 ? ` ${problems.join('; ')}.` : ''}`,
        },
      ],
    };
  }
  const centers = grid.centers;
  const series: PlotSeries[] = [...sources.values()].map((s) => ({
    name: s.name,
    points: centers.map((x, k) => {
      const { mean, std } = meanStd(s.densities.map((d) => d[k]!));
      return s.densities.length > 1 ? { x, y: mean, yStd: std } : { x, y: mean };
    }),
  }));
  const fmt = (x: number): string => (Number.isFinite(x) ? x.toFixed(3) : '-');
  const rows = [...sources.values()].map((s) => {
    const tv = meanStd(s.distances);
    return [
      s.name,
      s.densities.length,
      [...s.epochs].sort((a, b) => a - b).join(', '),
      fmt(meanStd(s.stats.map((x) => x.mean)).mean),
      fmt(meanStd(s.stats.map((x) => x.std)).mean),
      s.name === 'observed noise'
        ? '-'
        : s.distances.length > 1
          ? `${fmt(tv.mean)} ± ${fmt(tv.std)}`
          : fmt(tv.mean),
    ];
  });
  const [lo, hi] = grid.range;
  return {
    plots: [
      {
        id: 'densities',
        title: 'Densities of the observed, heuristic and learned noise ε (Figure 5)',
        xLabel: 'noise ε',
        yLabel: 'density',
        series,
      },
    ],
    tables: [
      {
        title: 'Noise densities against the observed noise (Figure 5)',
        columns: ['noise', 'runs', 'epochs', 'mean', 'std', 'TV distance to observed'],
        rows,
        note:
          `Histogram densities of ε on [${lo}, ${hi}] (values outside are left out) over the first ` +
          "training lists of each run's chosen epoch: the best validation epoch when the learned " +
          'generator was active in it, otherwise the last epoch. Observed noise: Eq. 4 inverted, ' +
          'ε* = (x − (1 − α)·y)/α (protocol 1.4). Mean and std describe each density; TV is the ' +
          'total variation distance ½∫|p − q| to the observed density of the same lists (0 = same, ' +
          '1 = disjoint), mean ± std over runs.' +
          (problems.length > 0 ? ` Left out: ${problems.join('; ')}.` : ''),
      },
    ],
  };
}

/** The density snapshot of a run's chosen epoch (see {@link noiseExtras}), if it logged one. */
export function chosenSnapshot(
  log: ReturnType<typeof readRunLog>,
  report: Pick<TrainReport, 'bestEpoch'>,
): { epoch: number; density: DensitySnapshot } | undefined {
  const best = log.find((e) => e.epoch === report.bestEpoch);
  const pick =
    best?.diagnostics?.phase === 'learned' && best.diagnostics.density
      ? best
      : [...log].reverse().find((e) => e.diagnostics?.density);
  const density = pick?.diagnostics?.density;
  return pick && density ? { epoch: pick.epoch, density } : undefined;
}

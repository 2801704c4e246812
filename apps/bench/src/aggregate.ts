import * as aq from 'arquero';
import type { ListMetrics } from '@dnr/metrics';
import { METRIC_NAMES, REFERENCE_METHODS, type MetricName } from './evaluate';
import type { PlotPoint } from './report-types';
import { mean, oneSampleTTest, pairedTTest, sampleStd, type TTestResult } from './stats';

/** One measured run of one method: the unit that seeds are aggregated over. */
export interface RunRecord {
  readonly method: string;
  readonly backbone: string;
  readonly seed: number;
  readonly metrics: Pick<ListMetrics, MetricName>;
}

/** Mean and sample standard deviation over seeds (std 0 for a single seed). */
export interface MeanStd {
  readonly mean: number;
  readonly std: number;
}

/** A table row of a report (`<suite>.json` rows). */
export interface ReportRow {
  readonly method: string;
  readonly backbone: string;
  readonly seeds: number;
  readonly metrics: Record<MetricName, MeanStd>;
}

/**
 * Aggregates runs into one row per (method, backbone) with mean and sample std over seeds,
 * keeping the order in which methods first appear.
 */
export function aggregateRuns(runs: readonly RunRecord[]): ReportRow[] {
  if (runs.length === 0) return [];
  const flat = runs.map((r, i) => ({
    order: i,
    method: r.method,
    backbone: r.backbone,
    ...Object.fromEntries(METRIC_NAMES.map((m) => [m, r.metrics[m]])),
  }));
  const rollup: Record<string, unknown> = { order: aq.op.min('order'), seeds: aq.op.count() };
  for (const m of METRIC_NAMES) {
    rollup[`${m}_mean`] = aq.op.mean(m);
    rollup[`${m}_std`] = aq.op.stdev(m);
  }
  const table = aq
    .from(flat)
    .groupby('method', 'backbone')
    .rollup(rollup as never)
    .orderby('order');
  return table.objects().map((o) => {
    const row = o as Record<string, number | string | undefined>;
    const metrics = Object.fromEntries(
      METRIC_NAMES.map((m) => {
        const std = row[`${m}_std`];
        return [
          m,
          {
            mean: row[`${m}_mean`] as number,
            std: typeof std === 'number' && Number.isFinite(std) ? std : 0,
          },
        ];
      }),
    ) as Record<MetricName, MeanStd>;
    return {
      method: String(row.method),
      backbone: String(row.backbone),
      seeds: row.seeds as number,
      metrics,
    };
  });
}

const pct = (x: number): string => (Number.isFinite(x) ? (100 * x).toFixed(2) : 'n/a');

/**
 * A fixed-width terminal table (percentages, mean ± std when more than one seed). Rows with a
 * `label` (e.g. `PRM + c score`) show it in place of the method and backbone columns.
 */
export function formatTable(
  rows: ReadonlyArray<ReportRow & { label?: string }>,
  title: string,
): string {
  const labelled = rows.length > 0 && rows.every((r) => r.label !== undefined);
  const header = [
    ...(labelled ? ['method'] : ['method', 'backbone']),
    'H@6',
    'N@6',
    'M@6',
    'F1@6',
    'AUC',
  ];
  const fixed = labelled ? 1 : 2;
  const body = rows.map((r) => [
    ...(labelled ? [r.label!] : [r.method, r.backbone]),
    ...METRIC_NAMES.map((m) => {
      const v = r.metrics[m];
      return r.seeds > 1 ? `${pct(v.mean)} ± ${pct(v.std)}` : pct(v.mean);
    }),
  ]);
  const widths = header.map((h, c) => Math.max(h.length, ...body.map((row) => row[c]!.length)));
  const line = (cells: readonly string[]): string =>
    cells
      .map((cell, c) => (c < fixed ? cell.padEnd(widths[c]!) : cell.padStart(widths[c]!)))
      .join('  ');
  return [title, line(header), widths.map((w) => '-'.repeat(w)).join('  '), ...body.map(line)].join(
    '\n',
  );
}

/** Significance tests need at least this many seeds (paired by seed number). */
export const MIN_SEEDS_FOR_TESTS = 3;
/** Two-sided level below which a difference is marked significant. */
export const SIGNIFICANCE_LEVEL = 0.05;

/**
 * One metric's test in a report: `meanDiff` is row minus reference (a fraction); `t` is null
 * where it is infinite (every seed differs by the same non-zero amount: p = 0) or undefined (no
 * difference at all: p = 1; or too few finite values: p null too).
 */
export interface MetricTest {
  readonly meanDiff: number | null;
  readonly t: number | null;
  readonly p: number | null;
}

/** A row compared with a reference row over seeds, on every metric. */
export interface Significance {
  /** Label of the reference row. */
  readonly against: string;
  /**
   * `paired`: paired t-test over the seeds both rows have; `one-sample`: the reference has the
   * same value at every seed (deterministic), so the row's per-seed values are tested against it.
   */
  readonly test: 'paired' | 'one-sample';
  /** The seeds the test used. */
  readonly seeds: readonly number[];
  readonly tests: Record<MetricName, MetricTest>;
}

/** The comparisons of one row: with its plain backbone and with the retriever order. */
export interface RowSignificance {
  readonly plain?: Significance;
  readonly retriever?: Significance;
}

/** One per-seed run as a suite file stores it (a metric is null where it was undefined). */
export interface SeedRun {
  readonly method: string;
  readonly backbone: string;
  readonly seed: number;
  readonly metrics: Record<MetricName, number | null>;
}

const rowKey = (r: { method: string; backbone: string }): string =>
  `${r.method}\u0000${r.backbone}`;
const isReference = (method: string): boolean =>
  (REFERENCE_METHODS as readonly string[]).includes(method);
const num = (x: number | null): number => x ?? Number.NaN;

function metricTest(r: TTestResult): MetricTest {
  return {
    meanDiff: Number.isFinite(r.meanDiff) ? r.meanDiff : null,
    t: Number.isFinite(r.t) ? r.t : null,
    p: Number.isFinite(r.p) ? r.p : null,
  };
}

function pairedBySeed(
  row: ReadonlyMap<number, SeedRun>,
  ref: ReadonlyMap<number, SeedRun>,
  against: string,
): Significance | undefined {
  const seeds = [...row.keys()].filter((s) => ref.has(s)).sort((a, b) => a - b);
  if (seeds.length < MIN_SEEDS_FOR_TESTS) return undefined;
  const tests = Object.fromEntries(
    METRIC_NAMES.map((m) => [
      m,
      metricTest(
        pairedTTest(
          seeds.map((s) => num(row.get(s)!.metrics[m])),
          seeds.map((s) => num(ref.get(s)!.metrics[m])),
        ),
      ),
    ]),
  ) as Record<MetricName, MetricTest>;
  return { against, test: 'paired', seeds, tests };
}

/** The reference's value on every metric if it is the same finite value at every seed. */
function constantValues(ref: ReadonlyMap<number, SeedRun>): Record<MetricName, number> | undefined {
  const runs = [...ref.values()];
  if (runs.length === 0) return undefined;
  const out: Partial<Record<MetricName, number>> = {};
  for (const m of METRIC_NAMES) {
    const v = runs[0]!.metrics[m];
    if (v === null || !Number.isFinite(v) || runs.some((r) => r.metrics[m] !== v)) return undefined;
    out[m] = v;
  }
  return out as Record<MetricName, number>;
}

function againstConstant(
  row: ReadonlyMap<number, SeedRun>,
  values: Record<MetricName, number>,
  against: string,
): Significance | undefined {
  const seeds = [...row.keys()].sort((a, b) => a - b);
  if (seeds.length < MIN_SEEDS_FOR_TESTS) return undefined;
  const tests = Object.fromEntries(
    METRIC_NAMES.map((m) => [
      m,
      metricTest(
        oneSampleTTest(
          seeds.map((s) => num(row.get(s)!.metrics[m])),
          values[m],
        ),
      ),
    ]),
  ) as Record<MetricName, MetricTest>;
  return { against, test: 'one-sample', seeds, tests };
}

/**
 * Significance of every trained row of a table (aligned with `rows`) from the per-seed runs:
 * - against the plain backbone (the row of the same backbone with method `plain`; nothing for
 *   that row itself): two-sided paired t-test over the seeds both rows have, paired by seed;
 * - against the retriever order (method `retriever`): a one-sample t-test of the row's per-seed
 *   values against the retriever's value when it is the same at every seed (it is
 *   deterministic), else a paired test.
 * A comparison needs {@link MIN_SEEDS_FOR_TESTS} seeds; reference rows (retriever, oracle) get
 * none. Throws when a (method, backbone, seed) appears twice among the runs.
 */
export function significanceByRow(
  rows: ReadonlyArray<{
    readonly label?: string;
    readonly method: string;
    readonly backbone: string;
  }>,
  runs: readonly SeedRun[],
): RowSignificance[] {
  const bySeed = new Map<string, Map<number, SeedRun>>();
  for (const run of runs) {
    const key = rowKey(run);
    const seeds = bySeed.get(key) ?? new Map<number, SeedRun>();
    if (seeds.has(run.seed)) {
      throw new RangeError(
        `two runs of method '${run.method}' on backbone '${run.backbone}' have seed ${run.seed}`,
      );
    }
    seeds.set(run.seed, run);
    bySeed.set(key, seeds);
  }
  const labelOf = (r: { label?: string; method: string; backbone: string }): string =>
    r.label ?? `${r.method} (${r.backbone})`;
  const retrieverRow = rows.find((r) => r.method === 'retriever');
  const retrieverRuns = retrieverRow ? bySeed.get(rowKey(retrieverRow)) : undefined;
  const retrieverConstant = retrieverRuns ? constantValues(retrieverRuns) : undefined;
  return rows.map((row) => {
    const own = bySeed.get(rowKey(row));
    if (isReference(row.method) || !own) return {};
    const out: { plain?: Significance; retriever?: Significance } = {};
    if (row.method !== 'plain') {
      const plainRow = rows.find((r) => r.method === 'plain' && r.backbone === row.backbone);
      const plainRuns = plainRow ? bySeed.get(rowKey(plainRow)) : undefined;
      const test = plainRuns && pairedBySeed(own, plainRuns, labelOf(plainRow!));
      if (test) out.plain = test;
    }
    if (retrieverRow && retrieverRuns) {
      const against = labelOf(retrieverRow);
      const test = retrieverConstant
        ? againstConstant(own, retrieverConstant, against)
        : pairedBySeed(own, retrieverRuns, against);
      if (test) out.retriever = test;
    }
    return out;
  });
}

/**
 * Mean curve over seeds: for each epoch any seed reached, the mean of the finite values at that
 * epoch and, where two or more seeds contribute, their sample std as `yStd`. Epochs where no seed
 * has a finite value are left out.
 */
export function meanCurve(
  perSeed: ReadonlyArray<ReadonlyArray<{ readonly epoch: number; readonly value: number | null }>>,
): PlotPoint[] {
  const byEpoch = new Map<number, number[]>();
  for (const curve of perSeed) {
    for (const { epoch, value } of curve) {
      if (value === null || !Number.isFinite(value)) continue;
      const values = byEpoch.get(epoch) ?? [];
      values.push(value);
      byEpoch.set(epoch, values);
    }
  }
  return [...byEpoch.entries()]
    .sort(([a], [b]) => a - b)
    .map(([epoch, values]) =>
      values.length >= 2
        ? { x: epoch, y: mean(values), yStd: sampleStd(values) }
        : { x: epoch, y: values[0]! },
    );
}

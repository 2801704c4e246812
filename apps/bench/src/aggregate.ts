import * as aq from 'arquero';
import type { ListMetrics } from '@dnr/metrics';
import { METRIC_NAMES, type MetricName } from './evaluate';

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

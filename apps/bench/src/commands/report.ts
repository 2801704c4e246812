import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Command } from 'commander';
import { z } from 'zod';
import {
  MIN_SEEDS_FOR_TESTS,
  SIGNIFICANCE_LEVEL,
  meanCurve,
  significanceByRow,
  type MetricTest,
  type RowSignificance,
  type Significance,
} from '../aggregate';
import { METRIC_NAMES, type MetricName } from '../evaluate';
import { safeSegment, writeFileAtomic } from '../files';
import { flagsOf } from '../options';
import { PAPER_ML1M } from '../paper';
import { lineChartSvg } from '../plots';
import type { SuitePlot } from '../report-types';
import { resolveSettings } from '../settings';
import { PROFILES, SUITES, sweepGridsSchema } from '../suites';

export const reportSchema = z.object({
  results: z.string().min(1).default('results'),
  docs: z.string().min(1).default('docs/results'),
  profile: z.string().min(1).optional(),
});
export type ReportSettings = z.infer<typeof reportSchema>;

const pct = (x: number | null | undefined): string =>
  typeof x === 'number' && Number.isFinite(x) ? (100 * x).toFixed(2) : 'n/a';

const METRIC_HEADERS: Record<MetricName, string> = {
  hr: 'H@6',
  ndcg: 'N@6',
  map: 'M@6',
  f1: 'F1@6',
  auc: 'AUC',
};

/** A zod object with one `value` per metric. */
function perMetric<T extends z.ZodType>(value: T) {
  return z.object({ hr: value, ndcg: value, map: value, f1: value, auc: value });
}

const meanStdSchema = z.object({ mean: z.number().nullable(), std: z.number().nullable() });

const plotSchema = z.object({
  id: z.string().min(1),
  title: z.string(),
  xLabel: z.string(),
  yLabel: z.string(),
  logX: z.boolean().optional(),
  series: z.array(
    z.object({
      name: z.string(),
      points: z.array(
        z.object({ x: z.number(), y: z.number(), yStd: z.number().min(0).optional() }),
      ),
    }),
  ),
});

const tableSchema = z
  .object({
    title: z.string(),
    columns: z.array(z.string()).min(1),
    rows: z.array(z.array(z.union([z.string(), z.number()]))),
    note: z.string().optional(),
  })
  .refine((t) => t.rows.every((r) => r.length === t.columns.length), {
    message: 'every row of a table must have one cell per column',
  });

/** Checks the shape of a suite JSON before it is used (files are untrusted input). */
const suiteFileSchema = z.object({
  dataset: z.string(),
  suite: z.string(),
  paper: z.string().optional(),
  profile: z.string(),
  seeds: z.int(),
  command: z.string(),
  backend: z.string(),
  /** The run file's `overrides` of the profile's settings; absent when there were none. */
  overrides: z.record(z.string(), z.unknown()).optional(),
  /** The run file's `sweep` grids in place of the profile's; absent when it gave none. */
  sweep: sweepGridsSchema.optional(),
  rows: z.array(
    z.object({
      label: z.string().optional(),
      method: z.string(),
      backbone: z.string(),
      seeds: z.int(),
      metrics: perMetric(meanStdSchema),
    }),
  ),
  failed: z.array(z.string()).default([]),
  missing: z.array(z.string()).default([]),
  /** Per-seed runs; absent in suite files written before they were recorded. */
  runs: z
    .array(
      z.object({
        label: z.string().optional(),
        method: z.string(),
        backbone: z.string(),
        seed: z.int(),
        runId: z.string().min(1).optional(),
        bestEpoch: z.int().min(1).optional(),
        patienceStartEpoch: z.int().min(1).optional(),
        bestAfterWarmup: z.boolean().optional(),
        metrics: perMetric(z.number().nullable()),
      }),
    )
    .optional(),
  plots: z.array(plotSchema).optional(),
  tables: z.array(tableSchema).optional(),
});
/** A suite file as `report` reads it (`SuiteReport` of `dnr-bench suite`, checked). */
export type SuiteFile = z.infer<typeof suiteFileSchema>;

/** One line of a run's `log.jsonl`, only the fields the report uses (the rest is ignored). */
const epochLineSchema = z.object({
  epoch: z.int().min(1),
  validation: z.object({ ndcg: z.number().nullable() }),
});

/** A figure of the report: an SVG file beside the Markdown and its caption. */
export interface Figure {
  readonly file: string;
  readonly title: string;
  readonly caption: string;
}

/** Everything the Markdown page shows besides the suite file itself. */
export interface ReportExtras {
  readonly significance?: readonly RowSignificance[];
  readonly figures?: readonly Figure[];
  /** Sentences about what the report could not show (e.g. missing run logs). */
  readonly notes?: readonly string[];
}

/** A Markdown table cell: pipes escaped, line breaks flattened. */
const md = (text: string | number): string =>
  String(text).replace(/\\/g, '\\\\').replace(/\|/g, '\\|').replace(/\r?\n/g, ' ');

const labelOf = (row: { label?: string; method: string; backbone: string }): string =>
  row.label ?? `${row.method} (${row.backbone})`;

/** ▲ / ▼ where a test finds the row significantly above / below its reference. */
function mark(test: MetricTest | undefined): string {
  if (!test || test.p === null || test.meanDiff === null || test.p >= SIGNIFICANCE_LEVEL) return '';
  return test.meanDiff > 0 ? ' ▲' : test.meanDiff < 0 ? ' ▼' : '';
}

function formatP(p: number | null): string {
  if (p === null) return 'p n/a';
  return p < 0.001 ? 'p < 0.001' : `p ${p.toFixed(3)}`;
}

/** `+0.95 (p 0.004) ▲`: the difference in points, its p and its mark. */
function testCell(test: MetricTest): string {
  const d = test.meanDiff;
  const points = d === null ? '' : Math.abs(100 * d).toFixed(2);
  const sign = d === null || Number(points) === 0 ? '' : d > 0 ? '+' : '−';
  const diff = d === null ? 'n/a' : `${sign}${points}`;
  return `${diff} (${formatP(test.p)})${mark(test)}`;
}

function significanceTable(
  rows: SuiteFile['rows'],
  tests: ReadonlyArray<Significance | undefined>,
): string[] {
  const lines = [
    `| method | against | seeds | ${METRIC_NAMES.map((m) => METRIC_HEADERS[m]).join(' | ')} |`,
    `| --- | --- | --- | ${METRIC_NAMES.map(() => '---').join(' | ')} |`,
  ];
  rows.forEach((row, i) => {
    const s = tests[i];
    if (!s) return;
    const cells = METRIC_NAMES.map((m) => testCell(s.tests[m]));
    lines.push(
      `| ${md(labelOf(row))} | ${md(s.against)} | ${s.seeds.length} | ${cells.join(' | ')} |`,
    );
  });
  return lines;
}

/**
 * Where the chosen checkpoints of runs with a warm-up (DNR with a learned generator) lie: a row
 * whose checkpoints all precede the end of the warm-up reports a heuristic-noise model, whatever its
 * name (protocol 0b.3).
 */
function warmupSection(report: SuiteFile): string[] {
  const byRow = new Map<
    string,
    { after: number; total: number; epochs: number[]; start: number }
  >();
  for (const run of report.runs ?? []) {
    if (run.bestAfterWarmup === undefined || run.patienceStartEpoch === undefined) continue;
    const label = run.label ?? `${run.method} (${run.backbone})`;
    const entry = byRow.get(label) ?? {
      after: 0,
      total: 0,
      epochs: [],
      start: run.patienceStartEpoch,
    };
    entry.total++;
    if (run.bestAfterWarmup) entry.after++;
    if (run.bestEpoch !== undefined) entry.epochs.push(run.bestEpoch);
    byRow.set(label, entry);
  }
  if (byRow.size === 0) return [];
  const parts = [...byRow].map(
    ([label, e]) =>
      `${md(label)} ${e.after}/${e.total} (best epochs ${e.epochs.join(', ') || 'n/a'}; learned generator from epoch ${e.start})`,
  );
  return [
    '',
    `Checkpoints chosen after the warm-up (the learned generator's epochs), per row with a learned generator: ${parts.join('; ')}. ` +
      'A row with 0 of its seeds after the warm-up reports a model trained on the heuristic noise only.',
  ];
}

/** The significance sentences and detail tables under the main table. */
function significanceSection(report: SuiteFile, sig: readonly RowSignificance[]): string[] {
  const trained = report.rows.some((r) => r.method !== 'retriever' && r.method !== 'oracle');
  const vsPlain = sig.map((s) => s.plain);
  const vsRetriever = sig.map((s) => s.retriever);
  const anyPlain = vsPlain.some(Boolean);
  const anyRetriever = vsRetriever.some(Boolean);
  if (!anyPlain && !anyRetriever) {
    if (!trained) return [];
    const why =
      report.runs === undefined
        ? 'this suite file has no per-seed runs (it was written before they were recorded; rerunning the suite, e.g. with `--finished-only`, adds them)'
        : `no row has results at ${MIN_SEEDS_FOR_TESTS} seeds or more`;
    return [
      '',
      `No significance tests: they need the per-seed results of at least ${MIN_SEEDS_FOR_TESTS} seeds, and ${why}.`,
    ];
  }
  const lines: string[] = [];
  if (anyPlain) {
    lines.push(
      '',
      `▲ / ▼: significantly higher / lower than the plain backbone of the row (the row of the same backbone ` +
        `without scores or DNR) at p < ${SIGNIFICANCE_LEVEL}, by a two-sided paired t-test over the seeds, ` +
        `paired by seed number (df = seeds − 1), on each metric separately and without correction for ` +
        `the number of tests. The differences and p-values are under "Significance".`,
    );
  }
  lines.push('', '## Significance');
  if (anyPlain) {
    lines.push(
      '',
      '### Against the plain backbone',
      '',
      'Mean difference over seeds in points (row minus plain backbone), two-sided paired t-test over the seeds.',
      '',
      ...significanceTable(report.rows, vsPlain),
    );
  }
  if (anyRetriever) {
    const oneSample = vsRetriever.some((s) => s?.test === 'one-sample');
    lines.push(
      '',
      '### Against the retriever order',
      '',
      `Mean difference over seeds in points (row minus retriever order). ${
        oneSample
          ? 'The retriever order is deterministic (the same value at every seed), so each row is tested by a ' +
            "two-sided one-sample t-test of its per-seed values against the retriever's value."
          : 'Two-sided paired t-test over the seeds, paired by seed number.'
      } ▲ / ▼ as above, at p < ${SIGNIFICANCE_LEVEL}.`,
      '',
      ...significanceTable(report.rows, vsRetriever),
    );
  }
  return lines;
}

/**
 * The sentence naming a run file's changes of the profile under `key` (`overrides` of the run
 * settings, `sweep` grids); none when it made none.
 */
function runFileLine(
  key: 'overrides' | 'sweep',
  what: string,
  changes: Readonly<Record<string, unknown>> | undefined,
): string[] {
  const entries = Object.entries(changes ?? {});
  if (entries.length === 0) return [];
  const list = entries.map(([k, v]) => `\`${md(k)}\` ${md(JSON.stringify(v))}`).join(', ');
  return [`${what} changed from the profile's by the run file (\`${key}\`): ${list}.`, ''];
}

/**
 * The Markdown page of one suite report: our table in the paper's layout (cells marked ▲ / ▼
 * where a row is significantly above / below its plain backbone), the paper's ML-1M figures
 * beside, the significance tests, the suite's extra tables and the figures.
 */
export function suiteMarkdown(report: SuiteFile, extras: ReportExtras = {}): string {
  const suite = SUITES[report.suite];
  const profile = PROFILES[report.profile];
  const sig = extras.significance ?? [];
  const lines = [
    `# ${suite?.title ?? report.suite} (${suite?.paper ?? report.paper ?? ''}) · ${report.dataset} · profile ${report.profile}`,
    '',
    `Produced by \`${report.command}\` on the ${report.backend} backend; ${report.seeds} seed(s) per trained row,`,
    'mean ± sample standard deviation; test split; percentages. The paper columns are its ML-1M figures, for reference',
    '(they come from a different dataset or subset and the full-size models).',
    '',
    ...(profile ? [`Profile \`${profile.name}\`: ${profile.description}.`, ''] : []),
    ...runFileLine('overrides', 'Settings', report.overrides),
    ...runFileLine('sweep', 'Sweep grids', report.sweep),
    '| method | H@6 | N@6 | M@6 | F1@6 | AUC | paper H@6 | paper N@6 | paper M@6 | paper F1@6 | paper AUC |',
    '| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |',
  ];
  report.rows.forEach((row, i) => {
    const label = labelOf(row);
    const paper = PAPER_ML1M[label];
    const plain = sig[i]?.plain;
    const ours = METRIC_NAMES.map((m) => {
      const v = row.metrics[m];
      const value = row.seeds > 1 ? `${pct(v.mean)} ± ${pct(v.std)}` : pct(v.mean);
      return `${value}${mark(plain?.tests[m])}`;
    });
    const theirs = METRIC_NAMES.map((m) => paper?.[m]?.toFixed(2) ?? '');
    // a partial suite (runs not finished) says which rows rest on fewer seeds than the suite's
    const shown =
      row.seeds < report.seeds ? `${label} (${row.seeds} of ${report.seeds} seeds)` : label;
    lines.push(`| ${md(shown)} | ${ours.join(' | ')} | ${theirs.join(' | ')} |`);
  });
  if (report.missing.length > 0) {
    lines.push(
      '',
      `Not finished yet, so not in the means (rows may rest on fewer seeds): ${report.missing.join(', ')}.`,
    );
  }
  if (report.failed.length > 0) {
    lines.push('', `Runs that failed and are missing from the means: ${report.failed.join(', ')}.`);
  }
  lines.push(...warmupSection(report));
  lines.push(...significanceSection(report, sig));
  for (const table of report.tables ?? []) {
    lines.push(
      '',
      `## ${md(table.title)}`,
      '',
      `| ${table.columns.map(md).join(' | ')} |`,
      `| ${table.columns.map(() => '---').join(' | ')} |`,
      ...table.rows.map((r) => `| ${r.map(md).join(' | ')} |`),
    );
    if (table.note) lines.push('', table.note);
  }
  const figures = extras.figures ?? [];
  if (figures.length > 0 || (extras.notes ?? []).length > 0) lines.push('', '## Figures');
  for (const figure of figures) {
    lines.push(
      '',
      `![${figure.title.replace(/[[\]\r\n]/g, ' ')}](${figure.file})`,
      '',
      `*${figure.caption}*`,
    );
  }
  for (const note of extras.notes ?? []) lines.push('', note);
  return `${lines.join('\n')}\n`;
}

/**
 * Reads a run's `log.jsonl`: validation N@6 per epoch. Returns undefined when the file does not
 * exist; a line that is not JSON or lacks the fields throws an error naming the file and line.
 */
export async function readEpochLog(
  path: string,
): Promise<Array<{ epoch: number; value: number | null }> | undefined> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
  const out: Array<{ epoch: number; value: number | null }> = [];
  const seen = new Set<number>();
  text.split('\n').forEach((line, i) => {
    if (line.trim() === '') return;
    const where = `${path} line ${i + 1}`;
    let parsed: unknown;
    try {
      parsed = JSON.parse(line);
    } catch (error) {
      throw new Error(`${where} is not valid JSON: ${(error as Error).message}`);
    }
    const checked = epochLineSchema.safeParse(parsed);
    if (!checked.success) {
      const issue = checked.error.issues[0];
      throw new Error(
        `${where} is not an epoch record: ${issue?.path.join('.') || '(line)'}: ${issue?.message ?? 'bad shape'}`,
      );
    }
    const { epoch, validation } = checked.data;
    if (seen.has(epoch)) throw new Error(`${where} repeats epoch ${epoch}`);
    seen.add(epoch);
    out.push({ epoch, value: validation.ndcg });
  });
  return out;
}

/**
 * The training-curve plot of a suite (validation N@6 per epoch, percent; one series per trained
 * row, mean over its seeds, band ± std) from `<runsDir>/<runId>/log.jsonl`, and the run ids whose
 * log is absent. `where` names the suite file in errors.
 */
export async function trainingCurves(
  report: SuiteFile,
  runsDir: string,
  where: string,
): Promise<{ plot?: SuitePlot; absent: string[] }> {
  const absent: string[] = [];
  const series: Array<{ name: string; points: ReturnType<typeof meanCurve> }> = [];
  const runs = report.runs ?? [];
  for (const row of report.rows) {
    const curves: Array<Array<{ epoch: number; value: number | null }>> = [];
    for (const [i, run] of runs.entries()) {
      if (run.method !== row.method || run.backbone !== row.backbone || !run.runId) continue;
      if (safeSegment(run.runId) !== run.runId) {
        throw new Error(`${where}: runs.${i}.runId '${run.runId}' is not a plain directory name`);
      }
      const log = await readEpochLog(join(runsDir, run.runId, 'log.jsonl'));
      if (log)
        curves.push(
          log.map((e) => ({ epoch: e.epoch, value: e.value === null ? null : 100 * e.value })),
        );
      else absent.push(run.runId);
    }
    const points = meanCurve(curves);
    if (points.length > 0) series.push({ name: labelOf(row), points });
  }
  if (series.length === 0) return { absent };
  return {
    absent,
    plot: {
      id: 'curves',
      title: `Validation N@6 per epoch · ${report.suite} · ${report.dataset}`,
      xLabel: 'epoch',
      yLabel: 'validation N@6 (%)',
      series,
    },
  };
}

/** The outputs of one suite report: Markdown, the `<suite>.json` document and SVG files. */
export interface RenderedSuite {
  readonly markdown: string;
  readonly json: Record<string, unknown>;
  readonly svgs: ReadonlyArray<{ readonly file: string; readonly svg: string }>;
}

/**
 * Renders one checked suite file: significance tests from its per-seed runs, its plots and the
 * training curves (read from `runsDir`) as SVG files named `<name>.<id>.svg`, the Markdown page
 * and the JSON document (the issue's shape, rows with optional `significance` and
 * `significanceVsRetriever`). `where` names the suite file in errors.
 */
export async function renderSuite(
  report: SuiteFile,
  name: string,
  runsDir: string,
  where: string,
): Promise<RenderedSuite> {
  let significance: RowSignificance[] = [];
  try {
    significance = significanceByRow(report.rows, report.runs ?? []);
  } catch (error) {
    throw new Error(`${where}: ${(error as Error).message}`);
  }
  const svgs: Array<{ file: string; svg: string }> = [];
  const figures: Figure[] = [];
  const notes: string[] = [];
  const used = new Set<string>();
  for (const plot of report.plots ?? []) {
    const id = safeSegment(plot.id);
    if (used.has(id)) throw new Error(`${where}: two plots have the file name id '${id}'`);
    used.add(id);
    const file = `${name}.${id}.svg`;
    try {
      svgs.push({ file, svg: await lineChartSvg(plot) });
    } catch (error) {
      throw new Error(`${where}: ${(error as Error).message}`);
    }
    figures.push({
      file,
      title: plot.title,
      caption: `${md(plot.title)}: ${md(plot.yLabel)} against ${md(plot.xLabel)}${
        plot.series.some((s) => s.points.some((p) => p.yStd !== undefined))
          ? ' (band: ± 1 sample standard deviation over seeds)'
          : ''
      }.`,
    });
  }
  if (report.runs === undefined) {
    if (report.rows.some((r) => r.method !== 'retriever' && r.method !== 'oracle')) {
      notes.push(
        'No training curves: this suite file has no per-seed runs to find the run logs by.',
      );
    }
  } else if (used.has('curves')) {
    notes.push(
      'The suite supplies its own `curves` plot, so the training curves from the run logs are not drawn.',
    );
  } else {
    const { plot, absent } = await trainingCurves(report, runsDir, where);
    if (plot) {
      const file = `${name}.curves.svg`;
      svgs.push({ file, svg: await lineChartSvg(plot) });
      figures.push({
        file,
        title: plot.title,
        caption:
          'Training curves: validation N@6 (percent) after each epoch, one line per row, mean over the seeds ' +
          'that reached the epoch (runs stop early at different epochs; band: ± 1 sample standard deviation).',
      });
    }
    if (absent.length > 0) {
      notes.push(
        `Training curves leave out ${absent.length} run(s) whose \`log.jsonl\` is not under ` +
          `\`${runsDir}\`: ${absent.join(', ')}.`,
      );
    }
  }
  const json = {
    dataset: report.dataset,
    suite: report.suite,
    profile: report.profile,
    seeds: report.seeds,
    command: report.command,
    rows: report.rows.map((row, i) => {
      const s = significance[i] ?? {};
      return {
        ...row,
        ...(s.plain ? { significance: s.plain } : {}),
        ...(s.retriever ? { significanceVsRetriever: s.retriever } : {}),
      };
    }),
  };
  return { markdown: suiteMarkdown(report, { significance, figures, notes }), json, svgs };
}

/**
 * `dnr-bench report`: for every suite result under `<results>/suites/<profile>/<dataset>/`, writes
 * `<docs>/<dataset>/<suite>.md` (and `.json`, the issue #7 shape, and one `.svg` per figure).
 * With --profile, only that profile.
 */
export async function runReport(
  settings: ReportSettings,
  log: (l: string) => void,
): Promise<string[]> {
  const base = join(settings.results, 'suites');
  const runsDir = join(settings.results, 'runs');
  const written: string[] = [];
  const profiles = settings.profile
    ? [settings.profile]
    : await readdir(base).catch(() => [] as string[]);
  for (const profile of profiles) {
    const datasets = await readdir(join(base, profile)).catch(() => [] as string[]);
    for (const dataset of datasets) {
      const files = (await readdir(join(base, profile, dataset))).filter((f) =>
        f.endsWith('.json'),
      );
      for (const file of files) {
        const path = join(base, profile, dataset, file);
        let parsed: unknown;
        try {
          parsed = JSON.parse(await readFile(path, 'utf8'));
        } catch (error) {
          throw new Error(`${path} is not valid JSON: ${(error as Error).message}`);
        }
        const checked = suiteFileSchema.safeParse(parsed);
        if (!checked.success) {
          const issue = checked.error.issues[0];
          throw new Error(
            `${path} is not a suite report: ${issue?.path.join('.') || '(file)'}: ${issue?.message ?? 'bad shape'}`,
          );
        }
        const report = checked.data;
        const dir = join(settings.docs, safeSegment(report.dataset));
        const name = safeSegment(
          report.profile === 'standard' ? report.suite : `${report.suite}.${report.profile}`,
        );
        const rendered = await renderSuite(report, name, runsDir, path);
        for (const { file: svgFile, svg } of rendered.svgs) {
          await writeFileAtomic(join(dir, svgFile), svg.endsWith('\n') ? svg : `${svg}\n`);
        }
        await writeFileAtomic(
          join(dir, `${name}.json`),
          `${JSON.stringify(rendered.json, null, 2)}\n`,
        );
        await writeFileAtomic(join(dir, `${name}.md`), rendered.markdown);
        written.push(join(dir, `${name}.md`));
        const svgNote =
          rendered.svgs.length > 0 ? `, .json and ${rendered.svgs.length} SVG(s)` : ' and .json';
        log(`wrote ${join(dir, `${name}.md`)}${svgNote} from ${path}`);
      }
    }
  }
  if (written.length === 0) log(`no suite results under ${base}; run \`dnr-bench suite\` first`);
  return written;
}

export function registerReportCommand(program: Command): void {
  program
    .command('report')
    .description(
      'Write Markdown and JSON reports of finished suites (docs/results/<dataset>/<suite>.md), with significance tests and SVG figures.',
    )
    .option('--results <dir>', 'results directory the suites wrote (default results)')
    .option('--docs <dir>', 'where the reports go (default docs/results)')
    .option('--profile <name>', 'only this profile')
    .option('--config <file>', 'JSON run file with any of these settings (flags override it)')
    .action(async (opts: Record<string, unknown>, cmd: Command) => {
      const settings = await resolveSettings(reportSchema, {
        configPath: opts.config as string | undefined,
        flags: flagsOf(opts, cmd),
      });
      await runReport(settings, (line) => void process.stderr.write(`${line}\n`));
    });
}

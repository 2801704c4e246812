import { existsSync } from 'node:fs';
import { basename, join } from 'node:path';
import { cpus } from 'node:os';
import { type Command, Option } from 'commander';
import {
  INTERACTION_FORMATS,
  canonicalJson,
  generateLabDataset,
  type InteractionFormat,
  type RerankDataset,
} from '@dnr/data';
import { RUN_FILES } from '@dnr/objectives';
import { z } from 'zod';
import { aggregateRuns, formatTable, type ReportRow, type RunRecord } from '../aggregate';
import { BACKEND_CHOICES, describeBackend, selectBackend } from '../backend';
import {
  METRIC_NAMES,
  REFERENCE_METHODS,
  evaluateSplit,
  listsOf,
  referenceScores,
  type MetricName,
} from '../evaluate';
import { safeSegment, writeFileAtomic } from '../files';
import { flagsOf, parseIntFlag } from '../options';
import { prepareDataset, prepareSchema } from '../prepare';
import type { SuitePlot, SuiteTable } from '../report-types';
import { resolveSettings } from '../settings';
import type { TrainReport } from '../train';
import { suiteExtras, type FinishedRun } from '../suite-extras';
import {
  NotFinishedError,
  builtCliPath,
  ChildProcesses,
  childProcessRunner,
  finishedRunReader,
  inProcessRunner,
  ProgressBoard,
  runPool,
  stopChildrenOnSignal,
  type JobRunner,
  type RunSpec,
} from '../suite-runner';
import {
  PROFILES,
  PROFILE_NAMES,
  SUITES,
  SUITE_NAMES,
  suiteRows,
  sweepGridsSchema,
  type SuiteDefinition,
  type SuiteRow,
  type SuiteSizes,
  type SweepGrids,
} from '../suites';

/** Seed of the lab dataset used by the quick profile (the same default as `dnr-bench train`). */
export const LAB_SEED = 2026;

export const suiteSchema = z.object({
  suite: z.enum(SUITE_NAMES),
  profile: z.enum(PROFILE_NAMES).default('quick'),
  seeds: z.int().min(1).max(100).default(3),
  jobs: z.int().min(1).max(256).default(Math.max(1, cpus().length)),
  format: z.enum(INTERACTION_FORMATS as [InteractionFormat, ...InteractionFormat[]]).optional(),
  input: z.string().min(1).optional(),
  /** Dataset name in paths and reports (default: derived from the input file). */
  name: z.string().min(1).optional(),
  backend: z.enum(BACKEND_CHOICES).default('auto'),
  out: z.string().min(1).default('results'),
  cacheDir: z.string().min(1).default('.dnr-cache'),
  /**
   * `dnr-bench train` settings applied to every run over the profile's and the row's (e.g. a
   * smaller `lab` or fewer `epochs`); validated per run by the train schema.
   */
  overrides: z.record(z.string(), z.unknown()).default({}),
  /** Train nothing: aggregate the runs that are already finished and list the missing ones. */
  finishedOnly: z.boolean().default(false),
  /** Seconds between the status lines that show each running run's progress. */
  statusEvery: z.int().min(1).max(86_400).default(60),
  /**
   * Train only these rows (each a row label, backbone, method or `backbone/method`, e.g. `pier`,
   * `plain`, `prm/dnr-b`, `Pier + c score`; a sweep row also answers to its swept method, e.g.
   * `prm/dnr-g` for every DNR-G point; case-insensitive); the other rows are reported when
   * their runs are finished and listed as missing otherwise, as with `finishedOnly`.
   */
  only: z.array(z.string().trim().min(1)).min(1).optional(),
  /** `sensitivity` grids in place of the profile's (run file only; see `sweepGridsSchema`). */
  sweep: sweepGridsSchema.optional(),
});
export type SuiteSettings = z.infer<typeof suiteSchema>;

/** One measured run of a suite (reference rows have no `runId`). */
export type SuiteRun = RunRecord & {
  readonly label: string;
  readonly runId?: string;
  /** Epoch of the checkpoint the test metrics come from. */
  readonly bestEpoch?: number;
  /**
   * Runs whose patience starts after a warm-up (DNR with a learned generator: after τ): the first
   * epoch patience counts, and whether the chosen checkpoint lies at or after it (protocol 0b.3).
   */
  readonly patienceStartEpoch?: number;
  readonly bestAfterWarmup?: boolean;
};

/**
 * The warm-up fields of a finished run's report, for runs with a learned generator (their report's
 * `dnr`): the first learned-generator epoch τ + 1 and whether the chosen checkpoint lies at or after
 * it. Not the run's patience start, which a run file may set later for every method alike.
 */
export function warmupOf(
  report: TrainReport,
): Pick<SuiteRun, 'patienceStartEpoch' | 'bestAfterWarmup'> {
  const dnr = report.dnr as { tau?: unknown } | null | undefined;
  if (!dnr || typeof dnr.tau !== 'number') return {};
  const start = dnr.tau + 1;
  return { patienceStartEpoch: start, bestAfterWarmup: report.bestEpoch >= start };
}

/** The `<suite>.json` document (fractions in [0,1]). */
export interface SuiteReport {
  readonly dataset: string;
  readonly suite: string;
  readonly paper: string;
  readonly profile: string;
  readonly seeds: number;
  readonly command: string;
  readonly backend: string;
  /** The run file's `overrides` of the profile's settings, when there were any. */
  readonly overrides?: Readonly<Record<string, unknown>>;
  /** The run file's `sweep` grids in place of the profile's (`sensitivity`), when it gave any. */
  readonly sweep?: SweepGrids;
  readonly rows: ReadonlyArray<ReportRow & { label: string }>;
  readonly failed: readonly string[];
  /** Runs not finished yet (only with `--finished-only`). */
  readonly missing: readonly string[];
  /**
   * Every measured run (reference rows included, one per seed), for paired tests across rows;
   * `runId` is the training run's directory under `<out>/runs` (absent for reference rows).
   */
  readonly runs: ReadonlyArray<SuiteRun>;
  /** Curves for SVG plots (sensitivity sweeps, noise densities, training curves). */
  readonly plots?: readonly SuitePlot[];
  /** Extra tables (e.g. retriever AUC, time per epoch). */
  readonly tables?: readonly SuiteTable[];
}

interface SuiteData {
  readonly name: string;
  readonly ds: RerankDataset;
  /** `dnr-bench train` settings that select this dataset. */
  readonly train: Record<string, unknown>;
}

/** Loads (or builds, once, before any run starts) the dataset of the suite. */
async function suiteData(settings: SuiteSettings, log: (l: string) => void): Promise<SuiteData> {
  const profile = PROFILES[settings.profile]!;
  if (profile.data === 'lab') {
    return {
      name: settings.name ?? 'lab',
      ds: generateLabDataset({ ...(settings.overrides.lab as object | undefined), seed: LAB_SEED }),
      train: { dataset: 'lab', labSeed: LAB_SEED },
    };
  }
  if (!settings.format || !settings.input) {
    throw new Error(`profile '${profile.name}' reads a real dataset: give --format and --input`);
  }
  const prepare = prepareSchema.parse({
    format: settings.format,
    input: settings.input,
    cacheDir: settings.cacheDir,
  });
  const { ds, path, cached } = await prepareDataset(prepare, log);
  log(`dataset ${cached ? 'from cache' : 'built'}: ${path}`);
  const derived = basename(settings.input).replace(/(\.(gz|dat|data|tsv|csv|txt))+$/, '');
  return {
    name: safeSegment(settings.name ?? `${settings.format}-${derived}`),
    ds,
    train: { format: settings.format, input: settings.input, cacheDir: settings.cacheDir },
  };
}

/** A run's stored metrics (null where undefined, as JSON has no NaN) as numbers. */
function finiteMetrics(m: Record<MetricName, number | null>): Record<MetricName, number> {
  return Object.fromEntries(METRIC_NAMES.map((k) => [k, m[k] ?? Number.NaN])) as Record<
    MetricName,
    number
  >;
}

/** The profile's suite sizes with the settings' `sweep` grids over its own. */
export function suiteSizes(settings: SuiteSettings): SuiteSizes {
  const sizes = PROFILES[settings.profile]!.sizes;
  return { ...sizes, sweep: { ...sizes.sweep, ...settings.sweep } };
}

/** The rows of the settings' suite at the settings' sizes. */
export function rowsFor(suite: SuiteDefinition, settings: SuiteSettings): readonly SuiteRow[] {
  const onLab = PROFILES[settings.profile]!.data === 'lab';
  return suiteRows(suite, suiteSizes(settings)).filter((row) => onLab || !row.labOnly);
}

/**
 * The names a row answers to in `--only`: its label, backbone, method and `backbone/method`; a
 * sweep row (`dnr-g alpha=0.2`) also answers to its swept method (`dnr-g`, `prm/dnr-g`).
 */
function rowNames(row: SuiteRow): string[] {
  const names = [row.label, row.backbone, row.method, `${row.backbone}/${row.method}`];
  if (row.sweep) names.push(row.sweep.method, `${row.backbone}/${row.sweep.method}`);
  return names.map((n) => n.toLowerCase());
}

/**
 * Which rows `only` selects (all of them without it).
 * @throws Error naming an item that matches no row of the suite, with the rows' names.
 */
export function selectRows(
  suite: SuiteDefinition,
  rows: readonly SuiteRow[],
  only: readonly string[] | undefined,
): boolean[] {
  if (!only) return rows.map(() => true);
  const names = rows.map(rowNames);
  for (const item of only) {
    if (!names.some((n) => n.includes(item.toLowerCase()))) {
      const valid = rows.map((row) => `'${row.backbone}/${row.method}' (${row.label})`);
      throw new Error(
        `--only '${item}' matches no row of suite ${suite.name}; its rows: ${valid.join(', ')}`,
      );
    }
  }
  return names.map((n) => only.some((item) => n.includes(item.toLowerCase())));
}

/**
 * Refuses `overrides` that would replace a setting a row chooses itself (its method, score usage,
 * swept value, number of blocks, …): the row would silently stop being what its label says.
 */
function checkOverrides(
  suite: SuiteDefinition,
  rows: readonly SuiteRow[],
  overrides: object,
): void {
  const allowed = new Set(suite.overridable ?? []);
  for (const row of rows) {
    for (const [key, value] of Object.entries(row.train)) {
      const override = (overrides as Record<string, unknown>)[key];
      if (override === undefined || allowed.has(key)) continue;
      if (canonicalJson(override) !== canonicalJson(value)) {
        throw new Error(
          `overrides.${key} = ${JSON.stringify(override)} would replace the ${key} of the ` +
            `${suite.name} row '${row.label}' (${JSON.stringify(value)}); leave it out of overrides`,
        );
      }
    }
  }
}

/**
 * The training runs of a suite: every row at every seed. The run id is
 * `<dataset>-<backbone>-<runKey, or the method without spaces>-<profile>-s<seed>`; rows with the
 * same id train the same settings and share the run (see {@link uniqueRuns}).
 */
export function suiteRuns(
  suite: SuiteDefinition,
  settings: SuiteSettings,
  data: SuiteData,
  runsDir: string,
): Array<RunSpec & { row: number; seed: number }> {
  const profile = PROFILES[settings.profile]!;
  const rows = rowsFor(suite, settings);
  checkOverrides(suite, rows, settings.overrides);
  const specs: Array<RunSpec & { row: number; seed: number }> = [];
  rows.forEach((row, r) => {
    for (let seed = 1; seed <= settings.seeds; seed++) {
      const stem = row.runKey ?? row.method.replace(/ /g, '');
      const id = safeSegment(`${data.name}-${row.backbone}-${stem}-${profile.name}-s${seed}`);
      specs.push({
        id,
        row: r,
        seed,
        settings: {
          ...profile.train,
          ...row.train,
          ...data.train,
          ...settings.overrides,
          seed,
          runId: id,
          out: runsDir,
          backend: settings.backend,
        },
      });
    }
  });
  return specs;
}

/**
 * The distinct runs of a list of specs (first occurrence of each id, in order).
 * @throws Error when two specs share an id but not their settings (a suite definition bug).
 */
export function uniqueRuns<T extends RunSpec>(specs: readonly T[]): T[] {
  const seen = new Map<string, T>();
  for (const spec of specs) {
    const other = seen.get(spec.id);
    if (!other) seen.set(spec.id, spec);
    else if (canonicalJson(other.settings) !== canonicalJson(spec.settings)) {
      throw new Error(`two rows give run id ${spec.id} to different settings`);
    }
  }
  return [...seen.values()];
}

/**
 * The runs in the order they start: the costliest first (a rough guess from the settings: DNR and
 * the heuristic-noise variants train on a doubled batch and Pier is slower than PRM; an ideal
 * augmentation multiplies the training lists), keeping the row order among equals. With several
 * processes this keeps a long run from starting last while the other cores sit idle; results do
 * not depend on the order.
 */
export function longestFirst<T extends RunSpec>(specs: readonly T[]): T[] {
  const cost = (spec: T): number => {
    const s = spec.settings as Record<string, unknown>;
    const method = String(s.method ?? 'prm');
    const base = s.backbone === 'pier' || method === 'pier' ? 3 : 1;
    const copies = typeof s.idealAugmentation === 'number' ? 1 + s.idealAugmentation : 1;
    return base * copies * (method === 'prm' || method === 'pier' ? 1 : 2.5);
  };
  return specs
    .map((spec, i) => ({ spec, i, c: cost(spec) }))
    .sort((a, b) => b.c - a.c || a.i - b.i)
    .map((x) => x.spec);
}

/**
 * Runs a suite: the reference rows on the test split, then every distinct (row, seed) training
 * run, `jobs` at a time in separate processes (one at a time for a `sequential` suite). Finished
 * runs are skipped and interrupted ones resume from their checkpoints, so rerunning an interrupted
 * suite finishes it. Suites with `extras` add their tables and plots (`suite-extras.ts`). Writes
 * `<out>/suites/<profile>/<dataset>/<suite>.json`.
 */
export async function runSuite(
  settings: SuiteSettings,
  log: (line: string) => void,
  command: string,
  runner?: JobRunner,
): Promise<SuiteReport> {
  const suite = SUITES[settings.suite]!;
  const backend = await selectBackend(settings.backend);
  log(describeBackend(backend));
  const data = await suiteData(settings, log);
  const { ds } = data;
  const test = listsOf(ds, 'test');
  log(
    `suite ${suite.name} (${suite.paper}) · dataset ${data.name} (${ds.split.length} lists of ${ds.listSize}; ` +
      `${test.length} test lists) · profile ${settings.profile}: ${PROFILES[settings.profile]!.description}`,
  );
  const records: SuiteRun[] = [];
  for (let seed = 1; seed <= settings.seeds; seed++) {
    for (const method of REFERENCE_METHODS) {
      if (method === 'random') continue;
      const scores = referenceScores(ds, test, method, seed);
      if (!scores) continue;
      const label = method === 'oracle' ? 'oracle (true probabilities)' : 'retriever order';
      records.push({
        label,
        method,
        backbone: '-',
        seed,
        metrics: evaluateSplit(ds, test, scores),
      });
    }
  }
  const runsDir = join(settings.out, 'runs');
  const suiteRowList = rowsFor(suite, settings);
  const specs = suiteRuns(suite, settings, data, runsDir);
  const unique = uniqueRuns(specs);
  const jobs = Math.min(suite.sequential ? 1 : settings.jobs, unique.length);
  const cli = builtCliPath();
  const parallel = jobs > 1 && cli !== undefined;
  const selected = selectRows(suite, suiteRowList, settings.only);
  // a run shared by several rows trains when any of them is selected
  const trained = new Set(specs.filter((spec) => selected[spec.row]).map((spec) => spec.id));
  const board = new ProgressBoard();
  // training processes of this suite: a stop signal to the suite stops them too
  const children = new ChildProcesses();
  const trainer =
    runner ??
    (parallel
      ? childProcessRunner(cli, runsDir, board.update, children)
      : inProcessRunner(runsDir, board.update));
  const reader = finishedRunReader(runsDir);
  // a run is only read when its rows are not selected, when it finished earlier (no process is
  // started for it) or with --finished-only (a custom runner given by a caller still gets the
  // selected runs)
  const finishedEarlier = new Set(
    unique
      .filter((spec) => existsSync(join(runsDir, spec.id, RUN_FILES.metrics)))
      .map((spec) => spec.id),
  );
  const readsOnly = (spec: RunSpec): boolean =>
    !trained.has(spec.id) ||
    (runner === undefined && (settings.finishedOnly || finishedEarlier.has(spec.id)));
  const chosen: JobRunner = (spec) => (readsOnly(spec) ? reader : trainer)(spec);
  const how =
    (runner
      ? 'custom runner'
      : settings.finishedOnly
        ? 'finished runs only, nothing trained'
        : parallel
          ? `${jobs} processes`
          : 'in this process') +
    (settings.only ? `; --only: ${trained.size} of them trained, the rest read if finished` : '');
  if (unique.length > 0) {
    const shared =
      unique.length < specs.length ? ` (${specs.length} row-seed pairs share them)` : '';
    const sequential = suite.sequential && settings.jobs > 1 ? ', one at a time (timed)' : '';
    log(`${unique.length} training runs${shared}, ${how}${sequential}; logs in ${runsDir}`);
  } else {
    log(`no training runs: suite ${suite.name} measures the dataset itself`);
  }
  // runs that are only read go first: they take no time and leave the pool to the trained ones
  const order = [
    ...unique.filter(readsOnly),
    ...longestFirst(unique.filter((spec) => !readsOnly(spec))),
  ];
  const release =
    runner === undefined && parallel ? stopChildrenOnSignal(children, log) : undefined;
  const pooled = await runPool(
    order,
    jobs,
    chosen,
    log,
    { board, everyMs: settings.statusEvery * 1000 },
    readsOnly,
  ).finally(release);
  const byId = new Map(pooled.map((outcome) => [outcome.spec.id, outcome]));
  const failed: string[] = [];
  const missing: string[] = [];
  const finished: FinishedRun[] = [];
  for (const outcome of unique.map((spec) => byId.get(spec.id)!)) {
    if ('error' in outcome) {
      (outcome.error instanceof NotFinishedError ? missing : failed).push(outcome.spec.id);
    }
  }
  for (const spec of specs) {
    const outcome = byId.get(spec.id)!;
    const row = suiteRowList[spec.row]!;
    if ('error' in outcome) continue;
    finished.push({ row: spec.row, seed: spec.seed, runId: spec.id, report: outcome.report });
    records.push({
      label: row.label,
      method: row.method,
      backbone: row.backbone,
      seed: spec.seed,
      runId: spec.id,
      bestEpoch: outcome.report.bestEpoch,
      ...warmupOf(outcome.report),
      metrics: finiteMetrics(outcome.report.test),
    });
  }
  const labels = new Map(records.map((r) => [`${r.method}\u0000${r.backbone}`, r.label]));
  const rows = aggregateRuns(records).map((row) => ({
    label: labels.get(`${row.method}\u0000${row.backbone}`) ?? row.method,
    ...row,
  }));
  const report: SuiteReport = {
    dataset: data.name,
    suite: suite.name,
    paper: suite.paper,
    profile: settings.profile,
    seeds: settings.seeds,
    command,
    backend: backend.backend,
    ...(Object.keys(settings.overrides).length > 0 ? { overrides: settings.overrides } : {}),
    ...(settings.sweep && Object.keys(settings.sweep).length > 0 ? { sweep: settings.sweep } : {}),
    rows,
    failed,
    missing,
    runs: records,
    ...(suite.extras
      ? suiteExtras({
          kind: suite.extras,
          rows: suiteRowList,
          runs: finished,
          reference: records.filter((r) => r.runId === undefined),
          runsDir,
          ds,
          backend: backend.backend,
        })
      : {}),
  };
  const path = join(
    settings.out,
    'suites',
    safeSegment(settings.profile),
    safeSegment(data.name),
    `${safeSegment(suite.name)}.json`,
  );
  await writeFileAtomic(path, `${JSON.stringify(report, null, 2)}\n`);
  log(`wrote ${path}`);
  if (missing.length > 0) log(`${missing.length} run(s) not finished yet: ${missing.join(', ')}`);
  if (failed.length > 0)
    log(`${failed.length} run(s) failed: ${failed.join(', ')} (rerun the suite to retry them)`);
  return report;
}

/** A suite's extra table as fixed-width text for the terminal (first column left-aligned). */
export function formatExtraTable(table: SuiteTable): string {
  const cells = [table.columns, ...table.rows.map((row) => row.map(String))];
  const widths = table.columns.map((_, c) =>
    Math.max(...cells.map((row) => (row[c] ?? '').length)),
  );
  const line = (row: readonly string[]): string =>
    widths
      .map((w, c) => (c === 0 ? (row[c] ?? '').padEnd(w) : (row[c] ?? '').padStart(w)))
      .join('  ')
      .trimEnd();
  return [
    table.title,
    line(table.columns),
    widths.map((w) => '-'.repeat(w)).join('  '),
    ...cells.slice(1).map(line),
    ...(table.note ? ['', table.note] : []),
  ].join('\n');
}

export function registerSuiteCommand(program: Command): void {
  program
    .command('suite')
    .description(
      'Run a table of the paper (reference rows + every method x seed, in parallel processes; resumable) and print it.',
    )
    .argument('<name>', `suite: ${SUITE_NAMES.join(', ')}`)
    .addOption(
      new Option('--profile <profile>', 'dataset and model sizes (default quick)').choices(
        PROFILE_NAMES,
      ),
    )
    .option('--seeds <n>', 'seeds per method (mean ± std over them; default 3)', parseIntFlag)
    .option('--jobs <n>', 'training processes at once (default: number of cores)', parseIntFlag)
    .addOption(
      new Option('--format <format>', 'input format (standard and paper profiles)').choices(
        INTERACTION_FORMATS,
      ),
    )
    .option('--input <file>', 'interaction file (standard and paper profiles)')
    .option('--name <name>', 'dataset name in result paths and reports')
    .addOption(
      new Option('--backend <name>', 'tfjs backend (default auto)').choices(BACKEND_CHOICES),
    )
    .option('--out <dir>', 'results directory (default results)')
    .option('--cache-dir <dir>', 'prepared-dataset cache (default .dnr-cache)')
    .option(
      '--finished-only',
      'train nothing: report the runs that are finished (and list the rest)',
    )
    .option(
      '--only <rows>',
      'train only these rows (comma-separated labels, backbones, methods or backbone/method, e.g. ' +
        "'pier', 'plain,concat score' or, in a sweep, 'prm/dnr-g'); the others are reported if finished",
      (value: string) => value.split(','),
    )
    .option(
      '--status-every <seconds>',
      "seconds between status lines of the running runs' progress (default 60)",
      parseIntFlag,
    )
    .option('--config <file>', 'JSON run file with any of these settings (flags override it)')
    .action(async (name: string, opts: Record<string, unknown>, cmd: Command) => {
      const settings = await resolveSettings(suiteSchema, {
        configPath: opts.config as string | undefined,
        flags: { ...flagsOf(opts, cmd), suite: name },
      });
      const log = (line: string): void => void process.stderr.write(`${line}\n`);
      const command = `dnr-bench ${process.argv.slice(2).join(' ')}`;
      const report = await runSuite(settings, log, command);
      const title =
        `${report.suite} (${report.paper}) · ${report.dataset} · profile ${report.profile} · ` +
        `${report.seeds} seed(s) · test split`;
      process.stdout.write(`${formatTable(report.rows, title)}\n`);
      for (const table of report.tables ?? []) {
        process.stdout.write(`\n${formatExtraTable(table)}\n`);
      }
      for (const plot of report.plots ?? []) {
        process.stdout.write(
          `\nplot ${plot.id}: ${plot.title} (${plot.series.map((x) => x.name).join(', ')}); ` +
            '`dnr-bench report` draws it\n',
        );
      }
      if (report.failed.length > 0) process.exitCode = 1;
    });
}

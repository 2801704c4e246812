import { basename, join } from 'node:path';
import { cpus } from 'node:os';
import { type Command, Option } from 'commander';
import {
  INTERACTION_FORMATS,
  generateLabDataset,
  type InteractionFormat,
  type RerankDataset,
} from '@dnr/data';
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
import {
  NotFinishedError,
  builtCliPath,
  childProcessRunner,
  finishedRunReader,
  inProcessRunner,
  runPool,
  type JobRunner,
  type RunSpec,
} from '../suite-runner';
import { PROFILES, PROFILE_NAMES, SUITES, SUITE_NAMES, type SuiteDefinition } from '../suites';

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
});
export type SuiteSettings = z.infer<typeof suiteSchema>;

/** The `<suite>.json` document (fractions in [0,1]). */
export interface SuiteReport {
  readonly dataset: string;
  readonly suite: string;
  readonly paper: string;
  readonly profile: string;
  readonly seeds: number;
  readonly command: string;
  readonly backend: string;
  readonly rows: ReadonlyArray<ReportRow & { label: string }>;
  readonly failed: readonly string[];
  /** Runs not finished yet (only with `--finished-only`). */
  readonly missing: readonly string[];
  /**
   * Every measured run (reference rows included, one per seed), for paired tests across rows;
   * `runId` is the training run's directory under `<out>/runs` (absent for reference rows).
   */
  readonly runs: ReadonlyArray<RunRecord & { label: string; runId?: string }>;
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

/** The training runs of a suite: every row at every seed. */
export function suiteRuns(
  suite: SuiteDefinition,
  settings: SuiteSettings,
  data: SuiteData,
  runsDir: string,
): Array<RunSpec & { row: number; seed: number }> {
  const profile = PROFILES[settings.profile]!;
  const specs: Array<RunSpec & { row: number; seed: number }> = [];
  suite.rows.forEach((row, r) => {
    for (let seed = 1; seed <= settings.seeds; seed++) {
      const id = safeSegment(
        `${data.name}-${row.backbone}-${row.method.replace(/ /g, '')}-${profile.name}-s${seed}`,
      );
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
 * Runs a suite: the reference rows on the test split, then every (row, seed) training run,
 * `jobs` at a time in separate processes. Finished runs are skipped and interrupted ones resume
 * from their checkpoints, so rerunning an interrupted suite finishes it. Writes
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
  const records: Array<RunRecord & { label: string; runId?: string }> = [];
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
  const specs = suiteRuns(suite, settings, data, runsDir);
  const jobs = Math.min(settings.jobs, specs.length);
  const cli = builtCliPath();
  const parallel = jobs > 1 && cli !== undefined;
  const chosen =
    runner ??
    (settings.finishedOnly
      ? finishedRunReader(runsDir)
      : parallel
        ? childProcessRunner(cli, runsDir)
        : inProcessRunner(runsDir));
  const how = runner
    ? 'custom runner'
    : settings.finishedOnly
      ? 'finished runs only, nothing trained'
      : parallel
        ? `${jobs} processes`
        : 'in this process';
  log(`${specs.length} training runs, ${how}; logs in ${runsDir}`);
  const outcomes = await runPool(specs, jobs, chosen, log);
  const failed: string[] = [];
  const missing: string[] = [];
  outcomes.forEach((outcome, i) => {
    const spec = specs[i]!;
    const row = suite.rows[spec.row]!;
    if ('error' in outcome) {
      (outcome.error instanceof NotFinishedError ? missing : failed).push(spec.id);
      return;
    }
    records.push({
      label: row.label,
      method: row.method,
      backbone: row.backbone,
      seed: spec.seed,
      runId: spec.id,
      metrics: finiteMetrics(outcome.report.test),
    });
  });
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
    rows,
    failed,
    missing,
    runs: records,
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
    .option('--config <file>', 'JSON run file with any of these settings (flags override it)')
    .action(async (name: string, opts: Record<string, unknown>) => {
      const settings = await resolveSettings(suiteSchema, {
        configPath: opts.config as string | undefined,
        flags: { ...flagsOf(opts), suite: name },
      });
      const log = (line: string): void => void process.stderr.write(`${line}\n`);
      const command = `dnr-bench ${process.argv.slice(2).join(' ')}`;
      const report = await runSuite(settings, log, command);
      const title =
        `${report.suite} (${report.paper}) · ${report.dataset} · profile ${report.profile} · ` +
        `${report.seeds} seed(s) · test split`;
      process.stdout.write(`${formatTable(report.rows, title)}\n`);
      if (report.failed.length > 0) process.exitCode = 1;
    });
}

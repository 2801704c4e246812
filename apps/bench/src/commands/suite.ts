import { join } from 'node:path';
import { type Command, Option } from 'commander';
import { generateLabDataset, type RerankDataset } from '@dnr/data';
import { z } from 'zod';
import { aggregateRuns, formatTable, type ReportRow, type RunRecord } from '../aggregate';
import { BACKEND_CHOICES, describeBackend, selectBackend } from '../backend';
import { REFERENCE_METHODS, evaluateSplit, listsOf, referenceScores } from '../evaluate';
import { safeSegment, writeFileAtomic } from '../files';
import { flagsOf, parseIntFlag } from '../options';
import { resolveSettings } from '../settings';

export const SUITE_NAMES = ['main'] as const;
export const PROFILES = ['quick'] as const;

export const suiteSchema = z.object({
  suite: z.enum(SUITE_NAMES),
  profile: z.enum(PROFILES).default('quick'),
  seeds: z.int().min(1).max(100).default(3),
  backend: z.enum(BACKEND_CHOICES).default('auto'),
  out: z.string().min(1).default('results'),
});
export type SuiteSettings = z.infer<typeof suiteSchema>;

/** The `<suite>.json` document (issue #7's report shape; fractions in [0,1]). */
export interface SuiteReport {
  readonly dataset: string;
  readonly suite: string;
  readonly profile: string;
  readonly seeds: number;
  readonly command: string;
  readonly backend: string;
  readonly rows: readonly ReportRow[];
}

/** The dataset of a profile. `quick` is the synthetic lab dataset with its documented defaults. */
function profileDataset(profile: SuiteSettings['profile']): { name: string; ds: RerankDataset } {
  switch (profile) {
    case 'quick':
      return { name: 'lab', ds: generateLabDataset({ seed: 2026 }) };
  }
}

/**
 * Runs a suite: every row on the test split, one run per seed, aggregated to mean and std.
 * Today the `main` suite holds the reference rows (oracle, retriever order, random order);
 * reranker rows join as the backbones and DNR land.
 */
export async function runSuite(
  settings: SuiteSettings,
  log: (line: string) => void,
  command: string,
): Promise<SuiteReport> {
  const backend = await selectBackend(settings.backend);
  log(describeBackend(backend));
  const { name, ds } = profileDataset(settings.profile);
  const test = listsOf(ds, 'test');
  log(`dataset: ${name} (${ds.split.length} lists of ${ds.listSize}; ${test.length} test lists)`);
  const runs: RunRecord[] = [];
  for (let seed = 1; seed <= settings.seeds; seed++) {
    for (const method of REFERENCE_METHODS) {
      const scores = referenceScores(ds, test, method, seed);
      if (!scores) continue;
      runs.push({ method, backbone: '-', seed, metrics: evaluateSplit(ds, test, scores) });
    }
  }
  const report: SuiteReport = {
    dataset: name,
    suite: settings.suite,
    profile: settings.profile,
    seeds: settings.seeds,
    command,
    backend: backend.backend,
    rows: aggregateRuns(runs),
  };
  const path = join(
    settings.out,
    'suites',
    safeSegment(settings.profile),
    safeSegment(name),
    `${safeSegment(settings.suite)}.json`,
  );
  await writeFileAtomic(path, `${JSON.stringify(report, null, 2)}\n`);
  log(`wrote ${path}`);
  return report;
}

export function registerSuiteCommand(program: Command): void {
  program
    .command('suite')
    .description('Run a named table or figure of the paper and print it.')
    .argument('<name>', `suite: ${SUITE_NAMES.join(', ')}`)
    .addOption(new Option('--profile <profile>', 'dataset and model sizes').choices(PROFILES))
    .option('--seeds <n>', 'seeds per method (mean ± std over them; default 3)', parseIntFlag)
    .addOption(
      new Option('--backend <name>', 'tfjs backend (default auto)').choices(BACKEND_CHOICES),
    )
    .option('--out <dir>', 'results directory (default results)')
    .option('--config <file>', 'JSON run file with any of these settings (flags override it)')
    .action(async (name: string, opts: Record<string, unknown>) => {
      const settings = await resolveSettings(suiteSchema, {
        configPath: opts.config as string | undefined,
        flags: { ...flagsOf(opts), suite: name },
      });
      const log = (line: string): void => void process.stderr.write(`${line}\n`);
      const command = `dnr-bench ${process.argv.slice(2).join(' ')}`;
      const report = await runSuite(settings, log, command);
      process.stdout.write(
        `${formatTable(report.rows, `${report.suite} · ${report.dataset} · profile ${report.profile} · ${report.seeds} seed(s) · test split`)}\n`,
      );
    });
}

import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Command } from 'commander';
import { z } from 'zod';
import type { MeanStd } from '../aggregate';
import { METRIC_NAMES } from '../evaluate';
import { safeSegment, writeFileAtomic } from '../files';
import { flagsOf } from '../options';
import { PAPER_ML1M } from '../paper';
import { resolveSettings } from '../settings';
import { PROFILES, SUITES } from '../suites';
import type { SuiteReport } from './suite';

export const reportSchema = z.object({
  results: z.string().min(1).default('results'),
  docs: z.string().min(1).default('docs/results'),
  profile: z.string().min(1).optional(),
});
export type ReportSettings = z.infer<typeof reportSchema>;

const pct = (x: number | null | undefined): string =>
  typeof x === 'number' && Number.isFinite(x) ? (100 * x).toFixed(2) : 'n/a';

function cell(v: MeanStd, seeds: number): string {
  return seeds > 1 ? `${pct(v.mean)} ± ${pct(v.std)}` : pct(v.mean);
}

/** Checks the shape of a suite JSON before it is used (files are untrusted input). */
const suiteFileSchema = z.object({
  dataset: z.string(),
  suite: z.string(),
  profile: z.string(),
  seeds: z.int(),
  command: z.string(),
  backend: z.string(),
  rows: z.array(
    z.object({
      label: z.string().optional(),
      method: z.string(),
      backbone: z.string(),
      seeds: z.int(),
      metrics: z.object(
        Object.fromEntries(
          METRIC_NAMES.map((m) => [
            m,
            z.object({ mean: z.number().nullable(), std: z.number().nullable() }),
          ]),
        ) as Record<
          (typeof METRIC_NAMES)[number],
          z.ZodObject<{ mean: z.ZodNullable<z.ZodNumber>; std: z.ZodNullable<z.ZodNumber> }>
        >,
      ),
    }),
  ),
  failed: z.array(z.string()).default([]),
  missing: z.array(z.string()).default([]),
});

/** The Markdown page of one suite report: our table in the paper's layout, the paper's ML-1M figures beside. */
export function suiteMarkdown(report: SuiteReport): string {
  const suite = SUITES[report.suite];
  const profile = PROFILES[report.profile];
  const lines = [
    `# ${suite?.title ?? report.suite} (${suite?.paper ?? ''}) · ${report.dataset} · profile ${report.profile}`,
    '',
    `Produced by \`${report.command}\` on the ${report.backend} backend; ${report.seeds} seed(s) per trained row,`,
    'mean ± sample standard deviation; test split; percentages. The paper columns are its ML-1M figures, for reference',
    '(they come from a different dataset or subset and the full-size models).',
    '',
    ...(profile ? [`Profile \`${profile.name}\`: ${profile.description}.`, ''] : []),
    '| method | H@6 | N@6 | M@6 | F1@6 | AUC | paper H@6 | paper N@6 | paper M@6 | paper F1@6 | paper AUC |',
    '| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |',
  ];
  for (const row of report.rows) {
    const label = (row as { label?: string }).label ?? `${row.method} (${row.backbone})`;
    const paper = PAPER_ML1M[label];
    const ours = METRIC_NAMES.map((m) => cell(row.metrics[m], row.seeds));
    const theirs = METRIC_NAMES.map((m) => paper?.[m]?.toFixed(2) ?? '');
    lines.push(`| ${label} | ${ours.join(' | ')} | ${theirs.join(' | ')} |`);
  }
  if (report.missing.length > 0) {
    lines.push(
      '',
      `Not finished yet, so not in the means (rows may rest on fewer seeds): ${report.missing.join(', ')}.`,
    );
  }
  if (report.failed.length > 0) {
    lines.push('', `Runs that failed and are missing from the means: ${report.failed.join(', ')}.`);
  }
  return `${lines.join('\n')}\n`;
}

/**
 * `dnr-bench report`: for every suite result under `<results>/suites/<profile>/<dataset>/`, writes
 * `<docs>/<dataset>/<suite>.md` (and `.json`, the issue #7 shape). With --profile, only that profile.
 */
export async function runReport(
  settings: ReportSettings,
  log: (l: string) => void,
): Promise<string[]> {
  const base = join(settings.results, 'suites');
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
          throw new Error(
            `${path} is not a suite report: ${checked.error.issues[0]?.message ?? 'bad shape'}`,
          );
        }
        const report = checked.data as unknown as SuiteReport;
        const dir = join(settings.docs, safeSegment(report.dataset));
        const name = safeSegment(
          report.profile === 'standard' ? report.suite : `${report.suite}.${report.profile}`,
        );
        const {
          failed: _failed,
          missing: _missing,
          backend: _backend,
          paper: _paper,
          ...json
        } = report;
        await writeFileAtomic(join(dir, `${name}.json`), `${JSON.stringify(json, null, 2)}\n`);
        await writeFileAtomic(join(dir, `${name}.md`), suiteMarkdown(report));
        written.push(join(dir, `${name}.md`));
        log(`wrote ${join(dir, `${name}.md`)} and .json from ${path}`);
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
      'Write Markdown and JSON reports of finished suites (docs/results/<dataset>/<suite>.md).',
    )
    .option('--results <dir>', 'results directory the suites wrote (default results)')
    .option('--docs <dir>', 'where the reports go (default docs/results)')
    .option('--profile <name>', 'only this profile')
    .option('--config <file>', 'JSON run file with any of these settings (flags override it)')
    .action(async (opts: Record<string, unknown>) => {
      const settings = await resolveSettings(reportSchema, {
        configPath: opts.config as string | undefined,
        flags: flagsOf(opts),
      });
      await runReport(settings, (line) => void process.stderr.write(`${line}\n`));
    });
}

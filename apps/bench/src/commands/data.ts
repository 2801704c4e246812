import type { Command } from 'commander';
import { INTERACTION_FORMATS, prepareRequests, type InteractionFormat } from '@dnr/data';
import { z } from 'zod';
import { DATASET_NAMES, downloadDataset, formatDownloadSummary, formatProgress } from '../download';
import { addProtocolOptions } from '../data-options';
import { flagsOf, parseIntFlag, parseNumberFlag } from '../options';
import { formatPrepareSummary, prepareDataset, prepareSchema } from '../prepare';
import { resolveSettings } from '../settings';

/** Settings of `data stats` (flags > run file > these defaults). */
export const dataStatsSchema = z.object({
  format: z.enum(INTERACTION_FORMATS as [InteractionFormat, ...InteractionFormat[]]),
  input: z.string().min(1),
  minInteractions: z.int().min(1).max(1_000_000).default(20),
  positiveThreshold: z.number().default(3),
  windowSize: z.int().min(1).max(1000).default(6),
  json: z.boolean().default(false),
});
export type DataStatsSettings = z.infer<typeof dataStatsSchema>;

/** Human-readable form of the stats, for the terminal. */
function statsTable(rows: ReadonlyArray<readonly [string, string]>): string {
  const width = Math.max(...rows.map(([k]) => k.length));
  return rows.map(([k, v]) => `${k.padEnd(width)}  ${v}`).join('\n');
}

const fmt = (n: number): string => n.toLocaleString('en-US');

/** `dnr-bench data stats`: counts after the default protocol (design.md section 2 contract). */
export async function runDataStats(settings: DataStatsSettings): Promise<string> {
  const prepared = await prepareRequests(settings.input, {
    format: settings.format,
    minInteractions: settings.minInteractions,
    positiveThreshold: settings.positiveThreshold,
    windowSize: settings.windowSize,
  });
  const { stats } = prepared;
  if (settings.json) {
    return JSON.stringify({
      users: stats.users,
      items: stats.items,
      interactions: stats.interactions,
      requests: stats.requests,
      positives: stats.positives,
    });
  }
  const t = prepared.timings;
  return statsTable([
    ['input', settings.input],
    ['format', settings.format],
    ['raw rows', fmt(prepared.raw.rows)],
    ['raw users / items', `${fmt(prepared.raw.users)} / ${fmt(prepared.raw.items)}`],
    ['duplicate rows', fmt(prepared.raw.duplicates)],
    [`after ${settings.minInteractions}-core users`, fmt(stats.users)],
    ['items', fmt(stats.items)],
    ['interactions', fmt(stats.interactions)],
    [`requests (windows of ${settings.windowSize})`, fmt(stats.requests)],
    ['positives in windows', fmt(stats.positives)],
    [
      'time',
      `load ${t.loadMs.toFixed(0)} ms, k-core ${t.kCoreMs.toFixed(0)} ms, requests ${t.requestsMs.toFixed(0)} ms`,
    ],
  ]);
}

/** Settings of `data download` (flags > run file > these defaults). */
export const dataDownloadSchema = z.object({
  dataset: z.enum(DATASET_NAMES, {
    error: (issue) =>
      issue.input === undefined
        ? `a dataset name is required (one of ${DATASET_NAMES.join(', ')})`
        : `unknown dataset ${JSON.stringify(issue.input)}; valid names: ${DATASET_NAMES.join(', ')}`,
  }),
  dir: z.string().min(1).default('data'),
  archive: z.string().min(1).optional(),
  timeout: z.number().positive().max(86_400).default(600),
  force: z.boolean().default(false),
  json: z.boolean().default(false),
});
export type DataDownloadSettings = z.infer<typeof dataDownloadSchema>;

/** `dnr-bench data download`: fetch (or take `--archive`), verify the published MD5, unpack. */
export async function runDataDownload(settings: DataDownloadSettings): Promise<string> {
  const tty = process.stderr.isTTY === true;
  let progressShown = false;
  const result = await downloadDataset(settings.dataset, {
    dir: settings.dir,
    ...(settings.archive !== undefined ? { archive: settings.archive } : {}),
    force: settings.force,
    timeoutMs: settings.timeout * 1000,
    progressIntervalMs: tty ? 250 : 2000,
    onProgress: (received, total) => {
      const line = `${settings.dataset}: ${formatProgress(received, total)}`;
      process.stderr.write(tty ? `\r${line}\x1b[K` : `${line}\n`);
      progressShown = true;
    },
    log: (line) => {
      if (tty && progressShown) process.stderr.write('\n');
      progressShown = false;
      process.stderr.write(`${line}\n`);
    },
  });
  if (tty && progressShown) process.stderr.write('\n');
  return settings.json ? JSON.stringify(result) : formatDownloadSummary(result);
}

export function registerDataCommands(program: Command): void {
  const data = program.command('data').description('Load, inspect and prepare datasets.');
  const stats = data
    .command('stats')
    .description(
      'Counts after the default protocol: k-core filter, chronological windows, windows without a positive dropped.',
    );
  addProtocolOptions(stats, { lists: false })
    .option('--json', 'print one JSON object { users, items, interactions, requests, positives }')
    .option('--config <file>', 'JSON run file with any of these settings (flags override it)')
    .action(async (opts: Record<string, unknown>, cmd: Command) => {
      const settings = await resolveSettings(dataStatsSchema, {
        configPath: opts.config as string | undefined,
        flags: flagsOf(opts, cmd),
      });
      process.stdout.write(`${await runDataStats(settings)}\n`);
    });

  const prepare = data
    .command('prepare')
    .description(
      'Build (or reuse from the cache) the reranking dataset of a file: protocol, cross-fitted MF retrievers, scored 50-candidate lists.',
    );
  addProtocolOptions(prepare, { lists: true })
    .option('--dim <d>', 'MF embedding size (default 128)', parseIntFlag)
    .option(
      '--negatives <n>',
      'sampled negatives per positive in MF training (default 4)',
      parseIntFlag,
    )
    .option(
      '--epochs <n>',
      'maximum MF epochs (default 100; early stopping usually ends sooner)',
      parseIntFlag,
    )
    .option('--patience <n>', 'MF early-stopping patience (default 3)', parseIntFlag)
    .option('--seed <n>', 'seed of retrievers, negatives and tie-breaks (default 1)', parseIntFlag)
    .option(
      '--cache-dir <dir>',
      'where prepared datasets and retrievers are cached (default .dnr-cache)',
    )
    .option('--json', 'print the summary as JSON')
    .option('--config <file>', 'JSON run file with any of these settings (flags override it)')
    .action(async (opts: Record<string, unknown>, cmd: Command) => {
      const settings = await resolveSettings(prepareSchema, {
        configPath: opts.config as string | undefined,
        flags: flagsOf(opts, cmd),
      });
      const log = (line: string): void => void process.stderr.write(`${line}\n`);
      const { summary, path, cached } = await prepareDataset(settings, log);
      process.stdout.write(
        settings.json
          ? `${JSON.stringify({ path, cached, ...summary })}\n`
          : `${formatPrepareSummary(summary, path, cached)}\n`,
      );
    });

  data
    .command('download')
    .description(
      'Download an official GroupLens MovieLens archive (ml-100k, ml-1m), verify its published MD5 and unpack it into <dir>/<dataset>/.',
    )
    .argument('<dataset>', `archive to fetch: ${DATASET_NAMES.join(' or ')}`)
    .option('--dir <dir>', 'parent folder of the unpacked dataset (default data)')
    .option('--archive <file.zip>', 'verify and unpack a local copy of the archive (no network)')
    .option(
      '--timeout <s>',
      'give up on the download after this many seconds (default 600)',
      parseNumberFlag,
    )
    .option('--force', 'download and unpack again even when a verified copy exists')
    .option('--json', 'print the result as JSON')
    .option('--config <file>', 'JSON run file with any of these settings (flags override it)')
    .action(async (dataset: string, opts: Record<string, unknown>, cmd: Command) => {
      const settings = await resolveSettings(dataDownloadSchema, {
        configPath: opts.config as string | undefined,
        flags: { dataset, ...flagsOf(opts, cmd) },
      });
      process.stdout.write(`${await runDataDownload(settings)}\n`);
    });
}

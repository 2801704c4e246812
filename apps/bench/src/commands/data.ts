import { type Command, Option } from 'commander';
import { INTERACTION_FORMATS, prepareRequests, type InteractionFormat } from '@dnr/data';
import { z } from 'zod';
import { parseIntFlag, parseNumberFlag } from '../options';
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

export function registerDataCommands(program: Command): void {
  const data = program.command('data').description('Load, inspect and prepare datasets.');
  data
    .command('stats')
    .description(
      'Counts after the default protocol: k-core filter, chronological windows, windows without a positive dropped.',
    )
    .addOption(new Option('--format <format>', 'input format').choices(INTERACTION_FORMATS))
    .option('--input <file>', 'interaction file (.gz read transparently)')
    .option('--min-interactions <n>', 'k of the iterative k-core filter (default 20)', parseIntFlag)
    .option('--positive-threshold <r>', 'ratings >= r are positives (default 3)', parseNumberFlag)
    .option('--window-size <n>', 'items per request window (default 6)', parseIntFlag)
    .option('--json', 'print one JSON object { users, items, interactions, requests, positives }')
    .option('--config <file>', 'JSON run file with any of these settings (flags override it)')
    .action(async (opts: Record<string, unknown>) => {
      const settings = await resolveSettings(dataStatsSchema, {
        configPath: opts.config as string | undefined,
        flags: {
          format: opts.format,
          input: opts.input,
          minInteractions: opts.minInteractions,
          positiveThreshold: opts.positiveThreshold,
          windowSize: opts.windowSize,
          json: opts.json,
        },
      });
      process.stdout.write(`${await runDataStats(settings)}\n`);
    });
}

import { type Command, Option } from 'commander';
import { INTERACTION_FORMATS } from '@dnr/data';
import { parseIntFlag, parseNumberFlag } from './options';

/**
 * The data-protocol flags shared by `data stats`, `data prepare` and `train` (one definition, so
 * their names, parsers and defaults cannot drift apart). `prefix` starts each help text (`train`
 * marks its data flags with `data: `).
 */
export function addProtocolOptions(
  command: Command,
  options: { readonly lists: boolean; readonly prefix?: string },
): Command {
  const p = options.prefix ?? '';
  command
    .addOption(new Option('--format <format>', `${p}input format`).choices(INTERACTION_FORMATS))
    .option('--input <file>', `${p}interaction file (.gz read transparently)`)
    .option(
      '--min-interactions <n>',
      `${p}k of the iterative k-core filter (default 20)`,
      parseIntFlag,
    )
    .option(
      '--positive-threshold <r>',
      `${p}ratings >= r are positives (default 3)`,
      parseNumberFlag,
    )
    .option('--window-size <n>', `${p}items per request window (default 6)`, parseIntFlag);
  if (!options.lists) return command;
  return command
    .option('--history-cap <n>', `${p}history items kept per request (default 50)`, parseIntFlag)
    .option('--list-size <n>', `${p}candidates per list (default 50)`, parseIntFlag)
    .addOption(
      new Option('--split <mode>', `${p}per-user window split (default ratio 80/10/10)`).choices([
        'ratio',
        'leave-last',
      ]),
    )
    .addOption(
      new Option(
        '--candidates <mode>',
        `${p}exposed items + sampled negatives, or the retriever top list (default sampled)`,
      ).choices(['sampled', 'top']),
    )
    .addOption(
      new Option(
        '--retriever-mode <mode>',
        `${p}which windows each retriever is fitted on (default crossfit)`,
      ).choices(['crossfit', 'temporal', 'shared']),
    )
    .option('--folds <k>', `${p}cross-fitting folds (default 2)`, parseIntFlag);
}

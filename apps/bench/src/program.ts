import { Command, Option } from 'commander';
import { BACKEND_CHOICES } from './backend';
import { registerDataCommands } from './commands/data';
import { registerPerfCommand } from './commands/perf';
import { registerReportCommand } from './commands/report';
import { registerSuiteCommand } from './commands/suite';
import { registerTrainCommand } from './commands/train';

/** Version printed by `dnr-bench --version` (kept in step with apps/bench/package.json). */
export const BENCH_VERSION = '0.0.0';

/** The `--backend` option shared by every command that runs tfjs. */
export function backendOption(): Option {
  return new Option(
    '--backend <name>',
    'tfjs backend: auto tries tfjs-node-gpu, tfjs-node, then wasm',
  )
    .choices(BACKEND_CHOICES)
    .default('auto');
}

/**
 * Builds the `dnr-bench` command tree. `exitOverride` makes parse errors and `--help` throw
 * a CommanderError instead of exiting, so the CLI entry (and tests) decide what happens.
 */
export function buildProgram(): Command {
  const program = new Command('dnr-bench')
    .description(
      "The DNR paper's experiment suite: prepare data, train rerankers, run suites and write reports.",
    )
    .version(BENCH_VERSION)
    .showHelpAfterError('(run with --help for usage)')
    .exitOverride();
  registerDataCommands(program);
  registerSuiteCommand(program);
  registerTrainCommand(program);
  registerPerfCommand(program);
  registerReportCommand(program);
  for (const command of program.commands) {
    command.exitOverride();
    for (const sub of command.commands) sub.exitOverride();
  }
  return program;
}

import { CommanderError } from 'commander';
import { buildProgram } from './program';

/** Entry point of the `dnr-bench` executable: errors become one clear message and exit code 1. */
async function main(): Promise<void> {
  const program = buildProgram();
  try {
    await program.parseAsync(process.argv);
  } catch (error) {
    if (error instanceof CommanderError) {
      process.exitCode = error.exitCode;
      return;
    }
    const message = error instanceof Error ? error.message : String(error);
    process.stderr.write(`dnr-bench: ${message}\n`);
    if (process.env.DNR_DEBUG && error instanceof Error && error.stack) {
      process.stderr.write(`${error.stack}\n`);
    }
    process.exitCode = 1;
  }
}

void main();

import { type Command, InvalidArgumentError } from 'commander';

/** Commander parser for integer flags: rejects `3.5`, `abc`, `1e3x` with a message naming the value. */
export function parseIntFlag(value: string): number {
  if (!/^-?\d+$/.test(value.trim())) {
    throw new InvalidArgumentError(`expected an integer, got '${value}'`);
  }
  return Number(value);
}

/** Commander parser for numeric flags. */
export function parseNumberFlag(value: string): number {
  const n = Number(value);
  if (value.trim() === '' || !Number.isFinite(n)) {
    throw new InvalidArgumentError(`expected a number, got '${value}'`);
  }
  return n;
}

/**
 * The flags of a command as settings: commander's camelCase option names are the settings keys;
 * `--config` names the run file and is not a setting. With the command, values the user did not
 * give (commander's defaults, e.g. `true` for a `--no-rank-embedding` flag left out) are dropped,
 * so that they do not override the run file.
 */
export function flagsOf(opts: Record<string, unknown>, command?: Command): Record<string, unknown> {
  const { config: _config, ...flags } = opts;
  if (!command) return flags;
  return Object.fromEntries(
    Object.entries(flags).filter(([key]) => command.getOptionValueSource(key) !== 'default'),
  );
}

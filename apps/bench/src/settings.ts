import { readFile } from 'node:fs/promises';
import type { z } from 'zod';

/**
 * Run settings come from three places, in this order of precedence (written down once, here):
 * command-line flags > the JSON run file given with `--config` > the command's typed defaults.
 * Every source is validated by the same schema, and errors say which key, where, and why.
 */
export class SettingsError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'SettingsError';
  }
}

/** Reads a JSON run file; never evaluates it. Errors name the file and the position. */
export async function readRunFile(path: string): Promise<Record<string, unknown>> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    throw new SettingsError(
      `cannot read run file ${path}: ${code === 'ENOENT' ? 'no such file' : String(error)}`,
    );
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (error) {
    throw new SettingsError(
      `run file ${path} is not valid JSON: ${(error as Error).message}${lineHint(text, error)}`,
    );
  }
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) {
    throw new SettingsError(`run file ${path} must hold one JSON object at the top level`);
  }
  return parsed as Record<string, unknown>;
}

function lineHint(text: string, error: unknown): string {
  const match = /position (\d+)/.exec((error as Error).message);
  if (!match) return '';
  const position = Number(match[1]);
  const before = text.slice(0, position);
  const line = before.split('\n').length;
  const column = position - before.lastIndexOf('\n');
  return ` (line ${line}, column ${column})`;
}

function describeReceived(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  if (typeof value === 'string') return `the string ${JSON.stringify(value.slice(0, 40))}`;
  return `${typeof value} ${JSON.stringify(value)}`;
}

function getAt(input: unknown, path: readonly PropertyKey[]): unknown {
  let current = input;
  for (const key of path) {
    if (current === null || typeof current !== 'object') return undefined;
    current = (current as Record<PropertyKey, unknown>)[key];
  }
  return current;
}

/** Formats schema issues as one line each: where, which key, what was expected, what came. */
export function formatIssues(error: z.ZodError, input: unknown, where: string): string {
  const lines = error.issues.map((issue) => {
    const path = issue.path.map(String).join('.');
    const at = path ? `'${path}'` : 'the top level';
    switch (issue.code) {
      case 'unrecognized_keys':
        return `${where}: unknown key${issue.keys.length > 1 ? 's' : ''} ${issue.keys
          .map((k) => `'${path ? `${path}.` : ''}${k}'`)
          .join(', ')}`;
      case 'invalid_type':
        return `${where}: ${at} must be ${issue.expected}, got ${describeReceived(getAt(input, issue.path))}`;
      case 'too_small':
      case 'too_big':
        return `${where}: ${at} is out of range (${issue.message}), got ${describeReceived(getAt(input, issue.path))}`;
      default:
        return `${where}: ${at}: ${issue.message}`;
    }
  });
  return lines.join('\n');
}

/** Drops keys whose value is undefined (flags the user did not give). */
function defined(record: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(record).filter(([, v]) => v !== undefined));
}

/**
 * Merges defaults < run file < flags and validates the result with `schema` (a strict object,
 * so unknown keys are reported). The run file is also validated on its own first, so its
 * errors name the file.
 */
export async function resolveSettings<T extends z.ZodObject>(
  schema: T,
  options: { configPath?: string; flags: Record<string, unknown> },
): Promise<z.infer<T>> {
  const strict = schema.strict();
  let fileValues: Record<string, unknown> = {};
  if (options.configPath) {
    fileValues = await readRunFile(options.configPath);
    const checked = strict.partial().safeParse(fileValues);
    if (!checked.success) {
      throw new SettingsError(
        formatIssues(checked.error, fileValues, `run file ${options.configPath}`),
      );
    }
  }
  const merged = { ...fileValues, ...defined(options.flags) };
  const result = strict.safeParse(merged);
  if (!result.success) {
    throw new SettingsError(formatIssues(result.error, merged, 'settings'));
  }
  return result.data as z.infer<T>;
}

import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { vi } from 'vitest';
import { buildProgram } from '../src/program';

/** Runs the CLI in-process and captures what it writes. */
export async function runCli(
  args: readonly string[],
): Promise<{ stdout: string; stderr: string; error?: unknown; exitCode?: number }> {
  let stdout = '';
  let stderr = '';
  const out = vi.spyOn(process.stdout, 'write').mockImplementation((chunk) => {
    stdout += String(chunk);
    return true;
  });
  const err = vi.spyOn(process.stderr, 'write').mockImplementation((chunk) => {
    stderr += String(chunk);
    return true;
  });
  // the exit code a command sets is the command's, not the test process's
  const exitCodeBefore = process.exitCode;
  process.exitCode = undefined;
  try {
    const program = buildProgram();
    program.configureOutput({
      writeOut: (s) => (stdout += s),
      writeErr: (s) => (stderr += s),
    });
    await program.parseAsync(['node', 'dnr-bench', ...args]);
    const code = process.exitCode;
    return { stdout, stderr, ...(code === undefined ? {} : { exitCode: Number(code) }) };
  } catch (error) {
    return { stdout, stderr, error };
  } finally {
    process.exitCode = exitCodeBefore;
    out.mockRestore();
    err.mockRestore();
  }
}

/** A fresh temporary directory with the given files. */
export function tempFiles(files: Record<string, string>): string {
  const dir = mkdtempSync(join(tmpdir(), 'dnr-bench-test-'));
  for (const [name, text] of Object.entries(files)) writeFileSync(join(dir, name), text);
  return dir;
}

/** A tiny lab dataset (`lab` settings) on which a suite trains in seconds. */
export const TINY_LAB = {
  numUsers: 40,
  numItems: 60,
  trainLists: 120,
  validationLists: 40,
  testLists: 40,
  listSize: 20,
  historyLength: 8,
} as const;

/** A tiny PRM (train settings) to go with {@link TINY_LAB}. */
export const TINY_MODEL = { dim: 8, heads: 2, ffnDim: 16 } as const;

/**
 * Killing a suite with SIGKILL (parent and training children at once) and rerunning it must finish
 * with the same results as a suite that was never interrupted: finished runs are skipped, the
 * interrupted ones resume from their last checkpoint, and nothing is lost or half-written.
 * Stopping the suite process alone (SIGTERM) must stop its training processes too.
 *
 * The CLI runs as real processes here, bundled from the sources with esbuild (the packages'
 * dist folders may not exist when tests run) into node_modules/.cache so that its dependencies
 * resolve from the workspace.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { processAlive, readHolder, RUN_LOCK_FILE } from '../src/run-lock';
import { tempFiles, TINY_LAB, TINY_MODEL } from './helpers';

const here = dirname(fileURLToPath(import.meta.url));
const root = resolve(here, '../../..');
const PACKAGES = ['data', 'retriever', 'backbones', 'noise', 'objectives', 'metrics'];
const bundleDir = join(root, 'node_modules/.cache/dnr-bench-kill-test', String(process.pid));
const cli = join(bundleDir, 'cli.js');

// A tiny lab and model; enough epochs that a kill lands inside a run.
const TINY = {
  overrides: {
    lab: { ...TINY_LAB, trainLists: 240 },
    ...TINY_MODEL,
    batchSize: 32,
    epochs: 4,
    patience: 4,
  },
};

interface Finished {
  code: number | null;
  signal: NodeJS.Signals | null;
  stderr: string;
}

/**
 * Runs the bundled CLI in its own process group. With `killWhen`, sends `signal` (SIGKILL unless
 * told) to the whole group, or with `parentOnly` to the suite process alone, as soon as the
 * predicate holds on the stderr seen so far (checked on every chunk and every 10 ms).
 */
function runSuite(
  args: readonly string[],
  killWhen?: (stderr: string) => boolean,
  {
    signal = 'SIGKILL',
    parentOnly = false,
  }: { signal?: NodeJS.Signals; parentOnly?: boolean } = {},
): Promise<Finished> {
  return new Promise((done, fail) => {
    const child = spawn(process.execPath, [cli, ...args], {
      cwd: root,
      detached: true,
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let stderr = '';
    let killed = false;
    const check = (): void => {
      if (killWhen && !killed && killWhen(stderr)) {
        killed = true;
        process.kill(parentOnly ? child.pid! : -child.pid!, signal);
      }
    };
    // the predicate also looks at files, which change between stderr lines: poll it as well
    const poll = killWhen ? setInterval(check, 10) : undefined;
    child.stderr.setEncoding('utf8');
    child.stderr.on('data', (chunk: string) => {
      stderr += chunk;
      check();
    });
    child.on('error', (error) => {
      clearInterval(poll);
      fail(error);
    });
    child.on('close', (code, signal) => {
      clearInterval(poll);
      done({ code, signal, stderr });
    });
  });
}

/** `suite beta` on the tiny lab, 2 training processes, results under `<dir>/<out>`. */
function suiteArgs(dir: string, out: string): string[] {
  return [
    'suite',
    'beta',
    '--profile',
    'quick',
    '--seeds',
    '1',
    '--jobs',
    '2',
    '--backend',
    'cpu',
    '--config',
    join(dir, 'tiny.json'),
    '--out',
    join(dir, out),
  ];
}

/** Whether some run in `runs` has written a checkpoint and not finished. */
function midRun(runs: string): boolean {
  return (
    existsSync(runs) &&
    readdirSync(runs).some(
      (id) =>
        existsSync(join(runs, id, 'checkpoint.bin')) && !existsSync(join(runs, id, 'metrics.json')),
    )
  );
}

/** The pids in the run locks left in `runs`. */
function lockHolders(runs: string): number[] {
  return readdirSync(runs).flatMap((id) => readHolder(join(runs, id, RUN_LOCK_FILE))?.pid ?? []);
}

/** Gives the kernel a moment to reap the killed group before its files are inspected. */
async function settle(): Promise<void> {
  await new Promise((r) => setTimeout(r, 300));
}

describe('a killed suite', () => {
  beforeAll(async () => {
    mkdirSync(bundleDir, { recursive: true });
    await build({
      entryPoints: [join(root, 'apps/bench/src/cli.ts')],
      bundle: true,
      platform: 'node',
      format: 'esm',
      target: 'node20',
      outfile: cli,
      packages: 'external',
      alias: Object.fromEntries(
        PACKAGES.map((p) => [`@dnr/${p}`, join(root, `packages/${p}/src/index.ts`)]),
      ),
      logLevel: 'error',
    });
  });
  afterAll(() => rmSync(bundleDir, { recursive: true, force: true }));

  it('finishes on rerun with the same results as an uninterrupted suite', async () => {
    const dir = tempFiles({ 'tiny.json': JSON.stringify(TINY) });
    const args = (out: string): string[] => suiteArgs(dir, out);
    const reference = await runSuite(args('reference'));
    expect(reference.stderr).toMatch(/3 training runs, 2 processes/);
    expect(reference.code).toBe(0);

    // Kill parent and children once one run has finished and another has written a checkpoint
    // (so one is skipped on the rerun and at least one resumes mid-run).
    const runs = join(dir, 'killed', 'runs');
    const killed = await runSuite(args('killed'), (s) => /finished lab-/.test(s) && midRun(runs));
    expect(killed.signal).toBe('SIGKILL');
    await settle();
    expect(existsSync(join(dir, 'killed/suites/quick/lab/beta.json'))).toBe(false);
    // the killed run's lock stays behind; the rerun takes it over (its process is gone) and frees it
    const locked = (): string[] =>
      readdirSync(runs).filter((id) => existsSync(join(runs, id, 'run.lock')));
    expect(locked().length).toBeGreaterThan(0);

    const rerun = await runSuite(args('killed'));
    expect(rerun.code).toBe(0);
    expect(locked()).toEqual([]);
    expect(rerun.stderr).toMatch(/finished earlier/);
    // At least one run resumed from its checkpoint rather than starting over.
    const resumed = readdirSync(runs)
      .filter((id) => existsSync(join(runs, id, 'metrics.json')))
      .map(
        (id) =>
          (
            JSON.parse(readFileSync(join(runs, id, 'metrics.json'), 'utf8')) as {
              resumedFromEpoch: number;
            }
          ).resumedFromEpoch,
      );
    expect(resumed).toHaveLength(3);
    expect(Math.max(...resumed)).toBeGreaterThan(0);

    const read = (out: string): { rows: unknown[] } =>
      JSON.parse(readFileSync(join(dir, out, 'suites/quick/lab/beta.json'), 'utf8')) as {
        rows: unknown[];
      };
    expect(read('killed').rows).toEqual(read('reference').rows);
  }, 240_000);

  it('stopped with SIGTERM to the suite alone, stops its training processes before exiting', async () => {
    const dir = tempFiles({ 'tiny.json': JSON.stringify(TINY) });
    const runs = join(dir, 'stopped', 'runs');
    const stopped = await runSuite(suiteArgs(dir, 'stopped'), () => midRun(runs), {
      signal: 'SIGTERM',
      parentOnly: true,
    });
    // the children were stopped (not orphaned): every lock left behind names a process that is gone
    // (any still running are killed first, so that a failing test leaves no training behind)
    const holders = lockHolders(runs);
    const orphans = holders.filter(processAlive);
    for (const pid of orphans) process.kill(pid, 'SIGKILL');
    expect(orphans).toEqual([]);
    expect(holders.length).toBeGreaterThan(0);
    expect(stopped.stderr).toMatch(/SIGTERM: stopping [12] training process/);
    expect(stopped.code).toBe(143); // 128 + SIGTERM's 15, as if the signal had killed it
    // nothing trains on: the run logs do not grow after the suite exited
    const sizes = (): number[] =>
      readdirSync(runs)
        .filter((f) => f.endsWith('.log'))
        .map((f) => statSync(join(runs, f)).size);
    const before = sizes();
    await new Promise((r) => setTimeout(r, 1500));
    expect(sizes()).toEqual(before);

    const rerun = await runSuite(suiteArgs(dir, 'stopped'));
    expect(rerun.code).toBe(0);
    expect(lockHolders(runs)).toEqual([]);
  }, 240_000);
});

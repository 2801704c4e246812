import { randomBytes } from 'node:crypto';
import { linkSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { z } from 'zod';

/** The lock file a run holds in its directory while it trains (never committed). */
export const RUN_LOCK_FILE = 'run.lock';

const holderSchema = z.object({
  pid: z.int().positive(),
  host: z.string(),
  started: z.string(),
});
type Holder = z.infer<typeof holderSchema>;

/** A held run lock; `release` removes it (only if it is still this process's). */
export interface RunLock {
  readonly path: string;
  release(): void;
}

/**
 * Whether process `pid` of this machine is running: `kill(pid, 0)` succeeds (or is refused for
 * permission, so the process exists) and, on Linux, the process is not a zombie (a killed run
 * whose parent has not reaped it yet no longer trains).
 */
export function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EPERM') return false;
  }
  try {
    // /proc/<pid>/stat: "pid (comm) state ..."; comm may hold spaces and parentheses
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return true; // no procfs (macOS, Windows): trust kill()
  }
}

/** Errors of `link` on file systems without hard links (some network and FUSE mounts). */
const NO_HARD_LINKS = new Set(['EPERM', 'ENOTSUP', 'EOPNOTSUPP', 'ENOSYS']);

/**
 * Creates `path` with `content` unless it exists (the fallback where hard links are missing: a
 * reader may briefly see the file empty, which it treats as held, the safe side). False if it
 * exists.
 */
function createExclusive(path: string, content: string): boolean {
  try {
    writeFileSync(path, content, { flag: 'wx' });
    return true;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw error;
  }
}

/** The holder written in the lock file at `path`, or undefined if it is missing or unreadable. */
export function readHolder(path: string): Holder | undefined {
  try {
    const parsed = holderSchema.safeParse(JSON.parse(readFileSync(path, 'utf8')));
    return parsed.success ? parsed.data : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Takes the lock of the run in `runDir` (`run.lock`, holding this process's pid, host and start
 * time), so that two processes never train the same run at once: suites share runs by id (`main`
 * and `scores` share PRM + DNR), and two suites or a suite and a `train` started side by side
 * would otherwise both train it. The file is created complete or not at all (written aside, then
 * hard-linked into place, which fails if a lock exists).
 *
 * An existing lock whose process is gone (same host, pid not running: a killed run) is stale and
 * is taken over, with a line in `log`. A lock of a running process, of this process, of another
 * host (a shared disk: its process cannot be checked) or that cannot be read is refused with an
 * error naming the file, so the caller can wait or delete it. Where the file system has no hard
 * links the lock is created with an exclusive open instead.
 */
export function acquireRunLock(
  runDir: string,
  runId: string,
  log: (line: string) => void,
): RunLock {
  mkdirSync(runDir, { recursive: true });
  const path = join(runDir, RUN_LOCK_FILE);
  const own: Holder = { pid: process.pid, host: hostname(), started: new Date().toISOString() };
  const content = `${JSON.stringify(own)}\n`;
  const tmp = `${path}.tmp-${process.pid}-${randomBytes(4).toString('hex')}`;
  writeFileSync(tmp, content);
  try {
    for (let attempt = 0; ; attempt++) {
      try {
        linkSync(tmp, path);
        break;
      } catch (error) {
        const code = (error as NodeJS.ErrnoException).code;
        if (code !== 'EEXIST' && !NO_HARD_LINKS.has(code ?? '')) throw error;
        if (code !== 'EEXIST' && createExclusive(path, content)) break;
      }
      const holder = readHolder(path);
      const stale =
        holder !== undefined &&
        holder.host === own.host &&
        holder.pid !== process.pid &&
        !processAlive(holder.pid);
      if (!stale || attempt > 0) {
        const who =
          holder === undefined
            ? 'an unreadable lock'
            : `process ${holder.pid} on ${holder.host} (since ${holder.started})`;
        throw new Error(
          `run ${runId} is being trained by ${who}: ${path} exists. Wait for that run to finish; ` +
            'if no process is training it, delete the file and retry',
        );
      }
      log(`run ${runId}: taking over the stale lock of process ${holder.pid} (no longer running)`);
      rmSync(path, { force: true });
    }
  } finally {
    rmSync(tmp, { force: true });
  }
  return {
    path,
    release() {
      if (readHolder(path)?.pid === process.pid) rmSync(path, { force: true });
    },
  };
}

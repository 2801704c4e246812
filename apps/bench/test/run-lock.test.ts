import { spawn, spawnSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { RUN_LOCK_FILE, acquireRunLock, processAlive } from '../src/run-lock';
import { tempFiles } from './helpers';

/** The pid of a process that has exited and been reaped. */
function deadPid(): number {
  const pid = spawnSync(process.execPath, ['-e', '']).pid;
  if (pid === undefined) throw new Error('could not start a child process');
  return pid;
}

function writeLock(dir: string, holder: Record<string, unknown>): void {
  writeFileSync(join(dir, RUN_LOCK_FILE), JSON.stringify(holder));
}

describe('processAlive', () => {
  it('tells a running process from one that has exited', () => {
    expect(processAlive(process.pid)).toBe(true);
    expect(processAlive(process.ppid)).toBe(true);
    expect(processAlive(deadPid())).toBe(false);
  });

  it.runIf(process.platform === 'linux')(
    'counts a zombie (exited, not reaped) as gone',
    async () => {
      // sh starts a background child that exits shortly after sh has become `sleep 5`, which never
      // reaps it
      const parent = spawn('sh', ['-c', 'sleep 0.3 & echo $!; exec sleep 5'], { stdio: 'pipe' });
      try {
        const zombie = await new Promise<number>((resolve) =>
          parent.stdout.once('data', (d: Buffer) => resolve(Number(String(d).trim()))),
        );
        let state = '';
        for (let i = 0; i < 150 && state !== 'Z'; i++) {
          await new Promise((r) => setTimeout(r, 20));
          const stat = readFileSync(`/proc/${zombie}/stat`, 'utf8');
          state = stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
        }
        expect(state).toBe('Z');
        expect(processAlive(zombie)).toBe(false);
      } finally {
        parent.kill('SIGKILL');
      }
    },
  );
});

describe('acquireRunLock', () => {
  const lines: string[] = [];
  const log = (line: string): void => void lines.push(line);

  it('writes the holder, refuses a second holder naming it, and frees the run on release', () => {
    const dir = join(tempFiles({}), 'lab-prm-none-s1');
    const lock = acquireRunLock(dir, 'lab-prm-none-s1', log);
    const holder = JSON.parse(readFileSync(lock.path, 'utf8')) as Record<string, unknown>;
    expect(holder).toMatchObject({ pid: process.pid, host: hostname() });
    expect(() => acquireRunLock(dir, 'lab-prm-none-s1', log)).toThrow(
      new RegExp(
        `run lab-prm-none-s1 is being trained by process ${process.pid} on .*run\\.lock exists`,
      ),
    );
    lock.release();
    expect(existsSync(lock.path)).toBe(false);
    acquireRunLock(dir, 'lab-prm-none-s1', log).release();
  });

  it('refuses the lock of another running process, of another host and an unreadable one', () => {
    const dir = tempFiles({});
    writeLock(dir, { pid: process.ppid, host: hostname(), started: '2026-01-01T00:00:00Z' });
    expect(() => acquireRunLock(dir, 'r', log)).toThrow(
      `run r is being trained by process ${process.ppid} on ${hostname()} (since 2026-01-01T00:00:00Z)`,
    );
    writeLock(dir, { pid: deadPid(), host: `not-${hostname()}`, started: 'x' });
    expect(() => acquireRunLock(dir, 'r', log)).toThrow(/on not-.*delete the file and retry/);
    writeFileSync(join(dir, RUN_LOCK_FILE), '{"pid": "12"');
    expect(() => acquireRunLock(dir, 'r', log)).toThrow(
      /by an unreadable lock: .*run\.lock exists/,
    );
  });

  it('takes over the lock of a process that is gone, and says so', () => {
    const dir = tempFiles({});
    const dead = deadPid();
    writeLock(dir, { pid: dead, host: hostname(), started: 'x' });
    lines.length = 0;
    const lock = acquireRunLock(dir, 'r', log);
    expect(lines).toEqual([
      `run r: taking over the stale lock of process ${dead} (no longer running)`,
    ]);
    expect(JSON.parse(readFileSync(lock.path, 'utf8'))).toMatchObject({ pid: process.pid });
    lock.release();
  });

  it('does not remove a lock that another process holds by then', () => {
    const dir = tempFiles({});
    const lock = acquireRunLock(dir, 'r', log);
    writeLock(dir, { pid: process.ppid, host: hostname(), started: 'x' });
    lock.release();
    expect(existsSync(lock.path)).toBe(true);
  });
});

import type * as Fs from 'node:fs';
import { readFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it, vi } from 'vitest';
import { acquireRunLock } from '../src/run-lock';
import { tempFiles } from './helpers';

// a file system without hard links: every link() fails as on such mounts
vi.mock('node:fs', async (importOriginal) => {
  const fs = await importOriginal<typeof Fs>();
  return {
    ...fs,
    linkSync: () => {
      throw Object.assign(new Error('EPERM: operation not permitted, link'), { code: 'EPERM' });
    },
  };
});

describe('acquireRunLock without hard links', () => {
  it('creates the lock with an exclusive open and still refuses a second holder', () => {
    const dir = tempFiles({});
    const lock = acquireRunLock(dir, 'r', () => {});
    expect(JSON.parse(readFileSync(join(dir, 'run.lock'), 'utf8'))).toMatchObject({
      pid: process.pid,
      host: hostname(),
    });
    expect(() => acquireRunLock(dir, 'r', () => {})).toThrow(/run r is being trained by process/);
    lock.release();
    acquireRunLock(dir, 'r', () => {}).release();
  });
});

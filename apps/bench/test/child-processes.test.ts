import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { describe, expect, it } from 'vitest';
import { ChildProcesses } from '../src/suite-runner';

/** A node process that runs until it is signalled. */
function sleeper(): ChildProcess {
  return spawn(process.execPath, ['-e', 'setInterval(() => {}, 1000)'], { stdio: 'ignore' });
}

describe('ChildProcesses', () => {
  it('stops every running process with the given signal and waits for them', async () => {
    const children = new ChildProcesses();
    const [a, b] = [sleeper(), sleeper()];
    await Promise.all([once(a, 'spawn'), once(b, 'spawn')]);
    children.add(a);
    children.add(b);
    expect(children.size).toBe(2);
    expect(children.stopping).toBe(false);
    await children.stop('SIGTERM');
    expect([a.signalCode, b.signalCode]).toEqual(['SIGTERM', 'SIGTERM']);
    expect(children.size).toBe(0);
    expect(children.stopping).toBe(true);
  });

  it('forgets a process that exited on its own, and stop() then has nothing to wait for', async () => {
    const children = new ChildProcesses();
    const quick = spawn(process.execPath, ['-e', ''], { stdio: 'ignore' });
    children.add(quick);
    await once(quick, 'exit');
    expect(quick.exitCode).toBe(0);
    expect(children.size).toBe(0);
    await children.stop('SIGINT');
    expect(quick.signalCode).toBeNull();
  });
});

import { spawn, type ChildProcess } from 'node:child_process';
import { EventEmitter, once } from 'node:events';
import { describe, expect, it } from 'vitest';
import { ChildProcesses, stopChildrenOnSignal } from '../src/suite-runner';

/** A node process that runs until it is signalled. */
function sleeper(): ChildProcess {
  return spawn(process.execPath, ['-e', 'setInterval(() => {}, 1000)'], { stdio: 'ignore' });
}

/** A node process that ignores SIGTERM, resolved once its handler is installed. */
async function stubborn(): Promise<ChildProcess> {
  const child = spawn(
    process.execPath,
    ['-e', "process.on('SIGTERM', () => {}); console.log('ready'); setInterval(() => {}, 1000)"],
    { stdio: ['ignore', 'pipe', 'ignore'] },
  );
  await once(child.stdout!, 'data');
  return child;
}

/** Resolves after `ms` milliseconds. */
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** `child` under stopChildrenOnSignal with a fake signal source, recording log lines and exit codes. */
function watched(child: ChildProcess): { signals: EventEmitter; lines: string[]; codes: number[] } {
  const children = new ChildProcesses();
  children.add(child);
  const signals = new EventEmitter();
  const lines: string[] = [];
  const codes: number[] = [];
  stopChildrenOnSignal(
    children,
    (l) => lines.push(l),
    (c) => codes.push(c),
    signals,
  );
  return { signals, lines, codes };
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

describe('stopChildrenOnSignal', () => {
  it('passes a stop signal on, waits for the children, then exits with 128 + its number', async () => {
    const child = sleeper();
    await once(child, 'spawn');
    const { signals, lines, codes } = watched(child);
    signals.emit('SIGINT', 'SIGINT');
    await once(child, 'exit');
    await sleep(0);
    expect(child.signalCode).toBe('SIGINT');
    expect(codes).toEqual([130]);
    expect(lines[0]).toMatch(/^SIGINT: stopping 1 training process/);
  });

  it('kills children that outlive the first signal when a second one comes', async () => {
    const child = await stubborn();
    const { signals, lines, codes } = watched(child);
    signals.emit('SIGTERM', 'SIGTERM');
    await sleep(300);
    expect(child.exitCode === null && child.signalCode === null).toBe(true); // ignored SIGTERM
    expect(codes).toEqual([]); // still waiting for it
    signals.emit('SIGTERM', 'SIGTERM');
    await once(child, 'exit');
    await sleep(0);
    expect(child.signalCode).toBe('SIGKILL');
    expect(codes).toEqual([143]);
    expect(lines[1]).toMatch(/^SIGTERM again: killing 1 training process/);
  });

  it('removes its handlers when released', () => {
    const signals = new EventEmitter();
    const release = stopChildrenOnSignal(
      new ChildProcesses(),
      () => {},
      () => {},
      signals,
    );
    expect(signals.listenerCount('SIGTERM')).toBe(1);
    release();
    expect(['SIGINT', 'SIGTERM', 'SIGHUP'].map((s) => signals.listenerCount(s))).toEqual([0, 0, 0]);
  });
});

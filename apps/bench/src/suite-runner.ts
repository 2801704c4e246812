import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, existsSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { constants } from 'node:os';
import { join } from 'node:path';
import { writeFileAtomic } from './files';
import { finishedRunReport, runTrain, trainSchema, type TrainReport } from './train';

/** One training run of a suite: a row at one seed. */
export interface RunSpec {
  /** Run id: also the directory name under the runs folder. */
  readonly id: string;
  /** Settings of `dnr-bench train` (validated by its schema). */
  readonly settings: Readonly<Record<string, unknown>>;
}

export type Log = (line: string) => void;

/** Runs one training run and returns its report. */
export type JobRunner = (spec: RunSpec) => Promise<TrainReport>;

/** Receives each progress line a run writes (`epoch 3/12 · batch 48/240 · … · ETA 1:10`). */
export type ProgressSink = (id: string, line: string) => void;

/**
 * The latest progress of each running run, for a suite's periodic status line: many runs in
 * separate processes, one view.
 */
export class ProgressBoard {
  private readonly latest = new Map<string, string>();

  /** Keeps a run's line if it is a training progress line (`epoch e/E · batch b/B · …`). */
  readonly update: ProgressSink = (id, line) => {
    const m = /^epoch (\d+\/\d+) · batch (\d+\/\d+) · .*· (ETA \S+)$/.exec(line.trim());
    if (m) this.latest.set(id, `epoch ${m[1]} · batch ${m[2]} · ${m[3]} of the epoch`);
  };

  /** Forgets a run (it ended). */
  clear(id: string): void {
    this.latest.delete(id);
  }

  /** `id: epoch 3/12 · batch 48/240 · ETA 1:10 of the epoch` for each run that has reported. */
  lines(): string[] {
    return [...this.latest].map(([id, status]) => `${id}: ${status}`);
  }
}

/** Splits a stream's chunks into lines for a {@link ProgressSink}. */
function lineSplitter(id: string, sink: ProgressSink): (chunk: Buffer | string) => void {
  let rest = '';
  return (chunk) => {
    const parts = (rest + chunk.toString()).split('\n');
    rest = parts.pop() ?? '';
    for (const line of parts) sink(id, line);
  };
}

/**
 * The training processes a suite has started and that are still running, so that stopping the
 * suite stops them too (see {@link stopChildrenOnSignal}).
 */
export class ChildProcesses {
  private readonly live = new Set<ChildProcess>();
  private stopped = false;

  /** Whether {@link stop} was called: no new process may start. */
  get stopping(): boolean {
    return this.stopped;
  }

  /** Tracks `child` until it exits. */
  add(child: ChildProcess): void {
    this.live.add(child);
    child.once('exit', () => this.live.delete(child));
  }

  /** How many tracked processes are running. */
  get size(): number {
    return this.live.size;
  }

  /** Sends `signal` to every running process; resolves once all of them have exited. */
  async stop(signal: NodeJS.Signals): Promise<void> {
    this.stopped = true;
    // the set holds only processes that have not exited (add() drops them on exit)
    await Promise.all(
      [...this.live].map((child) => {
        const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
        child.kill(signal);
        return exited;
      }),
    );
  }
}

/** The signals that stop a suite (Ctrl-C, `kill`, a closed terminal). */
const STOP_SIGNALS: readonly NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP'];

/**
 * Makes a stop signal to this process stop `children` first: each gets the same signal (a training
 * process killed so resumes from its last checkpoint, which is written atomically), and once all of
 * them have exited this process exits with 128 + the signal's number, as if the signal had killed
 * it. A second signal while they stop kills them at once (SIGKILL). Returns a function that removes
 * the handlers. `exit` ends the process and `signals` delivers the signals (`process.exit` and
 * `process` by default; tests pass their own).
 */
export function stopChildrenOnSignal(
  children: ChildProcesses,
  log: Log,
  exit: (code: number) => void = (code) => process.exit(code),
  signals: Pick<NodeJS.EventEmitter, 'on' | 'off'> = process,
): () => void {
  let stopping = false;
  const onSignal = (signal: NodeJS.Signals): void => {
    if (stopping) {
      log(`${signal} again: killing ${children.size} training process(es) now (SIGKILL)`);
      void children.stop('SIGKILL');
      return;
    }
    stopping = true;
    log(
      `${signal}: stopping ${children.size} training process(es); ` +
        'a rerun resumes each from its last checkpoint',
    );
    void children.stop(signal).then(() => exit(128 + constants.signals[signal]));
  };
  for (const signal of STOP_SIGNALS) signals.on(signal, onSignal);
  return () => {
    for (const signal of STOP_SIGNALS) signals.off(signal, onSignal);
  };
}

/**
 * Runs each job in its own `node <cli> train --config <run file> --json` process (one core each:
 * the wasm backend is single-threaded). The run file is written next to the run's directory; the
 * child's progress goes to `<runsDir>/<id>.log`. Training itself resumes or skips finished runs.
 * Each process is added to `children` while it runs; once `children` is stopping, a job starts no
 * process and never settles (the suite is about to exit).
 */
export function childProcessRunner(
  cliPath: string,
  runsDir: string,
  progress?: ProgressSink,
  children?: ChildProcesses,
): JobRunner {
  return async (spec) => {
    await mkdir(runsDir, { recursive: true });
    const runFile = join(runsDir, `${spec.id}.run.json`);
    await writeFileAtomic(runFile, `${JSON.stringify(spec.settings, null, 2)}\n`);
    const logPath = join(runsDir, `${spec.id}.log`);
    const logStream = createWriteStream(logPath, { flags: 'a' });
    return new Promise<TrainReport>((resolve, reject) => {
      // a stopping suite starts no new run; its process exits once the running ones have
      if (children?.stopping) return;
      const child = spawn(process.execPath, [cliPath, 'train', '--config', runFile, '--json'], {
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      children?.add(child);
      let stdout = '';
      child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
      child.stderr.pipe(logStream);
      if (progress) child.stderr.on('data', lineSplitter(spec.id, progress));
      child.on('error', (error) => {
        logStream.end();
        reject(error);
      });
      child.on('close', (code, signal) => {
        logStream.end();
        const last = stdout.trim().split('\n').at(-1) ?? '';
        if (signal !== null) {
          reject(new Error(`run ${spec.id} was stopped (${signal}); a rerun resumes it`));
          return;
        }
        if (code !== 0) {
          reject(new Error(`run ${spec.id} failed (exit ${code}); see ${logPath}`));
          return;
        }
        try {
          resolve(JSON.parse(last) as TrainReport);
        } catch {
          reject(new Error(`run ${spec.id} printed no JSON report; see ${logPath}`));
        }
      });
    });
  };
}

/** Runs jobs in this process, one after another (for `--jobs 1` and for tests). */
export function inProcessRunner(runsDir: string, progress?: ProgressSink): JobRunner {
  return async (spec) => {
    await mkdir(runsDir, { recursive: true });
    const logPath = join(runsDir, `${spec.id}.log`);
    const stream = createWriteStream(logPath, { flags: 'a' });
    try {
      const settings = trainSchema.parse(spec.settings);
      return await runTrain(
        settings,
        (line) => {
          stream.write(`${line}\n`);
          progress?.(spec.id, line);
        },
        `suite run ${spec.id}`,
      );
    } finally {
      stream.end();
    }
  };
}

/** Outcome of one job of a pool. */
export type JobOutcome =
  | { readonly spec: RunSpec; readonly report: TrainReport }
  | { readonly spec: RunSpec; readonly error: Error };

/** A periodic status line of the running runs (see {@link runPool}). */
export interface PoolStatus {
  readonly board: ProgressBoard;
  /** Milliseconds between status lines. */
  readonly everyMs: number;
}

/**
 * Runs jobs with at most `jobs` at a time, reporting each start and end through `log`, and with
 * `status`, every `everyMs` the latest progress of each running job. A job for which `readOnly`
 * holds (its runner only reads a finished run) gets no start line, only its outcome. A failed job
 * does not stop the others; outcomes come back in the order of `specs`.
 */
export async function runPool(
  specs: readonly RunSpec[],
  jobs: number,
  runner: JobRunner,
  log: Log,
  status?: PoolStatus,
  readOnly?: (spec: RunSpec) => boolean,
): Promise<JobOutcome[]> {
  const outcomes: JobOutcome[] = new Array(specs.length);
  let next = 0;
  let done = 0;
  const started = Date.now();
  const elapsed = (): string => {
    const s = Math.round((Date.now() - started) / 1000);
    return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`;
  };
  const worker = async (): Promise<void> => {
    while (next < specs.length) {
      const i = next++;
      const spec = specs[i]!;
      if (!readOnly?.(spec)) log(`[${done}/${specs.length} done · ${elapsed()}] start ${spec.id}`);
      status?.board.clear(spec.id);
      try {
        const report = await runner(spec);
        outcomes[i] = { spec, report };
        done++;
        const n = report.test?.ndcg;
        log(
          `[${done}/${specs.length} done · ${elapsed()}] ${report.skipped ? 'finished earlier' : 'finished'} ${spec.id}` +
            (typeof n === 'number' ? ` · test N@6 ${(100 * n).toFixed(2)}` : ''),
        );
      } catch (error) {
        outcomes[i] = { spec, error: error as Error };
        done++;
        log(
          error instanceof NotFinishedError
            ? `[${done}/${specs.length} done · ${elapsed()}] not finished, not trained: ${spec.id}`
            : `[${done}/${specs.length} done · ${elapsed()}] FAILED ${spec.id}: ${(error as Error).message}`,
        );
      }
      status?.board.clear(spec.id);
    }
  };
  const timer = status
    ? setInterval(() => {
        const running = status.board.lines();
        if (running.length > 0) {
          log(`[${done}/${specs.length} done · ${elapsed()}] running: ${running.join('; ')}`);
        }
      }, status.everyMs)
    : undefined;
  timer?.unref();
  try {
    await Promise.all(Array.from({ length: Math.max(1, Math.min(jobs, specs.length)) }, worker));
  } finally {
    clearInterval(timer);
  }
  return outcomes;
}

/** The built CLI next to this module (dist/cli.js), if there is one. */
export function builtCliPath(): string | undefined {
  const candidate = new URL('./cli.js', import.meta.url);
  return candidate.protocol === 'file:' && existsSync(candidate) ? candidate.pathname : undefined;
}

/** A run that has not finished yet (`--finished-only`). */
export class NotFinishedError extends Error {
  constructor(id: string) {
    super(`run ${id} is not finished`);
    this.name = 'NotFinishedError';
  }
}

/**
 * Reads finished runs' `metrics.json` and trains nothing (finished runs of a suite, or a partial
 * suite's report). A run trained with other settings than the spec's is an error, as in `train`.
 */
export function finishedRunReader(runsDir: string): JobRunner {
  return async (spec) => {
    const report = finishedRunReport(trainSchema.parse(spec.settings), join(runsDir, spec.id));
    if (!report) throw new NotFinishedError(spec.id);
    return report;
  };
}

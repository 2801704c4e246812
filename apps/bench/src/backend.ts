// The tfjs union registers every gradient (tfjs-core alone registers none) and the cpu backend.
import '@tensorflow/tfjs';
import * as tf from '@tensorflow/tfjs-core';

/** Backends the bench can run on. `auto` tries tfjs-node-gpu, then tfjs-node, then wasm. */
export const BACKEND_CHOICES = ['auto', 'tensorflow', 'wasm', 'cpu'] as const;
export type BackendChoice = (typeof BACKEND_CHOICES)[number];

/** What a run ended up on, printed at the start of every run. */
export interface BackendInfo {
  /** tfjs backend name actually active (`tensorflow`, `wasm` or `cpu`). */
  readonly backend: string;
  /** The package that provided it. */
  readonly provider: string;
  /** Whether it runs on a GPU (tfjs-node-gpu). */
  readonly gpu: boolean;
  /** Candidates tried before it, with the reason each was skipped (empty unless `auto` fell back). */
  readonly skipped: readonly string[];
}

/** A module loader, injectable so tests can simulate missing packages. */
export type ModuleLoader = (specifier: string) => Promise<unknown>;

const defaultLoader: ModuleLoader = (specifier) => import(specifier);

interface Candidate {
  readonly provider: string;
  readonly backend: string;
  readonly gpu: boolean;
  readonly install: string;
}

const NODE_GPU: Candidate = {
  provider: '@tensorflow/tfjs-node-gpu',
  backend: 'tensorflow',
  gpu: true,
  install:
    'npm install @tensorflow/tfjs-node-gpu@4.22.0 (needs internet during install, Linux x64, CUDA 11.2 and cuDNN 8.1)',
};
const NODE_CPU: Candidate = {
  provider: '@tensorflow/tfjs-node',
  backend: 'tensorflow',
  gpu: false,
  install:
    'npm install @tensorflow/tfjs-node@4.22.0 (its install script downloads libtensorflow, so it needs internet)',
};
const WASM: Candidate = {
  provider: '@tensorflow/tfjs-backend-wasm',
  backend: 'wasm',
  gpu: false,
  install: 'npm install @tensorflow/tfjs-backend-wasm@4.22.0',
};
const CPU: Candidate = {
  provider: '@tensorflow/tfjs-backend-cpu',
  backend: 'cpu',
  gpu: false,
  install: 'npm install @tensorflow/tfjs-backend-cpu@4.22.0',
};

/** The candidates tried, in order, for each choice. `tensorflow` prefers the GPU build. */
export function backendCandidates(choice: BackendChoice): readonly Candidate[] {
  switch (choice) {
    case 'auto':
      return [NODE_GPU, NODE_CPU, WASM];
    case 'tensorflow':
      return [NODE_GPU, NODE_CPU];
    case 'wasm':
      return [WASM];
    case 'cpu':
      return [CPU];
  }
}

/** Raised when the requested backend cannot be loaded; the message says how to install it. */
export class BackendUnavailableError extends Error {
  constructor(
    readonly choice: BackendChoice,
    readonly reasons: readonly string[],
    install: readonly string[],
  ) {
    super(
      `Backend '${choice}' is not available:\n` +
        reasons.map((r) => `  - ${r}`).join('\n') +
        `\nTo install it: ${install.join('\n  or: ')}` +
        (choice === 'tensorflow' ? `\nOr run with --backend wasm (always installed).` : ''),
    );
    this.name = 'BackendUnavailableError';
  }
}

function shortReason(error: unknown): string {
  const message = error instanceof Error ? error.message : String(error);
  return message.split('\n')[0]!.slice(0, 200);
}

/**
 * Loads and activates a tfjs backend. `auto` tries tfjs-node-gpu, tfjs-node, then wasm and
 * reports which one it got and why the others were skipped; an explicit choice fails with
 * {@link BackendUnavailableError} (naming the install command) when it cannot load.
 */
export async function selectBackend(
  choice: BackendChoice,
  load: ModuleLoader = defaultLoader,
): Promise<BackendInfo> {
  if (!BACKEND_CHOICES.includes(choice)) {
    throw new RangeError(
      `--backend must be one of ${BACKEND_CHOICES.join(', ')}; got '${String(choice)}'`,
    );
  }
  const skipped: string[] = [];
  const candidates = backendCandidates(choice);
  for (const candidate of candidates) {
    try {
      await load(candidate.provider);
      const ok = await tf.setBackend(candidate.backend);
      if (!ok) throw new Error(`tf.setBackend('${candidate.backend}') returned false`);
      await tf.ready();
      if (candidate.gpu && !isGpuActive()) {
        throw new Error('loaded, but TensorFlow found no usable GPU');
      }
      return {
        backend: tf.getBackend(),
        provider: candidate.provider,
        gpu: candidate.gpu,
        skipped,
      };
    } catch (error) {
      skipped.push(`${candidate.provider}: ${shortReason(error)}`);
    }
  }
  throw new BackendUnavailableError(
    choice,
    skipped,
    candidates.map((c) => c.install),
  );
}

/** tfjs-node-gpu falls back to the CPU silently when CUDA is missing; ask the backend. */
function isGpuActive(): boolean {
  const backend = tf.backend() as unknown as { isUsingGpuDevice?: boolean };
  return backend.isUsingGpuDevice !== false;
}

/** One line for logs: `backend: wasm (@tensorflow/tfjs-backend-wasm; skipped ...)`. */
export function describeBackend(info: BackendInfo): string {
  const gpu = info.gpu ? ', GPU' : '';
  const skipped = info.skipped.length > 0 ? `; skipped ${info.skipped.join('; ')}` : '';
  return `backend: ${info.backend} (${info.provider}${gpu}${skipped})`;
}

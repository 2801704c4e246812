/**
 * Resumable training checkpoints: one file holding the model weights, the best weights so far,
 * the objective's state (optimizer moments...) and the trainer's progress, written atomically
 * (temporary file + fsync + rename, via `@dnr/data` `saveBundle`) and checksummed.
 *
 * @module
 */
import { CacheError, loadBundle, saveBundle, type TypedArray } from '@dnr/data';
import type { NamedWeight } from '@dnr/backbones';
import type { ObjectiveState } from './objective';

/** The bundle `kind` of trainer checkpoints. */
export const CHECKPOINT_KIND = 'dnr-train-checkpoint';
/** Version of the checkpoint's JSON layout; other versions are refused. */
export const CHECKPOINT_VERSION = 1;

/** A checkpoint cannot be used: missing, corrupt, of another version or of another config. */
export class CheckpointError extends Error {
  constructor(
    /** `corrupt` (unreadable / checksum / layout), `config-mismatch` or `missing`. */
    readonly reason: 'corrupt' | 'config-mismatch' | 'missing',
    readonly path: string,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'CheckpointError';
  }
}

/** Everything a resumed run needs. `progress` is the trainer's JSON state (see trainer.ts). */
export interface Checkpoint<P extends object = { readonly [key: string]: unknown }> {
  /** Hash of everything that determines the run (see `trainReranker`). */
  readonly configHash: string;
  /** The trainer's progress (epoch, best, history, early-stopping counters...). JSON only. */
  readonly progress: P;
  /** The model's weights at the end of the checkpointed epoch. */
  readonly modelWeights: readonly NamedWeight[];
  /** The weights of the best epoch so far (null before any epoch). */
  readonly bestWeights: readonly NamedWeight[] | null;
  /** The objective's state at the end of the checkpointed epoch. */
  readonly objective: ObjectiveState;
}

interface ArrayEntry {
  name: string;
  shape: number[];
}

function pack(
  weights: ReadonlyArray<{ name: string; shape: readonly number[]; data: Float32Array }>,
  prefix: string,
  arrays: Record<string, TypedArray>,
): ArrayEntry[] {
  return weights.map((w, i) => {
    const size = w.shape.reduce((a, b) => a * b, 1);
    if (w.data.length !== size) {
      throw new RangeError(
        `checkpoint: '${w.name}' has ${w.data.length} values for shape [${w.shape.join(',')}]`,
      );
    }
    arrays[`${prefix}${i}`] = w.data;
    return { name: w.name, shape: [...w.shape] };
  });
}

function unpack(
  entries: unknown,
  prefix: string,
  arrays: Readonly<Record<string, TypedArray>>,
  path: string,
): NamedWeight[] {
  if (!Array.isArray(entries))
    throw new CheckpointError('corrupt', path, `checkpoint ${path}: bad layout (${prefix})`);
  return entries.map((e: unknown, i) => {
    const entry = e as Partial<ArrayEntry>;
    const data = arrays[`${prefix}${i}`];
    if (
      typeof entry?.name !== 'string' ||
      !Array.isArray(entry.shape) ||
      !(data instanceof Float32Array) ||
      entry.shape.reduce((a, b) => a * b, 1) !== data.length
    ) {
      throw new CheckpointError(
        'corrupt',
        path,
        `checkpoint ${path}: array ${prefix}${i} is malformed`,
      );
    }
    return { name: entry.name, shape: [...entry.shape], data };
  });
}

/**
 * Writes a checkpoint atomically to `path` (a `@dnr/data` bundle of kind
 * {@link CHECKPOINT_KIND}, keyed by `configHash`; header and payload are sha256-checksummed).
 */
export function saveCheckpoint(path: string, ckpt: Checkpoint<object>): void {
  const arrays: Record<string, TypedArray> = {};
  const model = pack(ckpt.modelWeights, 'm.', arrays);
  const best = ckpt.bestWeights ? pack(ckpt.bestWeights, 'b.', arrays) : null;
  const objective = pack(ckpt.objective.arrays, 'o.', arrays);
  saveBundle(
    path,
    {
      kind: CHECKPOINT_KIND,
      arrays,
      meta: {
        version: CHECKPOINT_VERSION,
        configHash: ckpt.configHash,
        progress: ckpt.progress as Record<string, unknown>,
        model,
        best,
        objective,
        objectiveJson: ckpt.objective.json as Record<string, unknown>,
      },
    },
    { key: ckpt.configHash },
  );
}

/**
 * Reads a checkpoint written by {@link saveCheckpoint}.
 *
 * @param expectedHash when given, a checkpoint of another config throws
 *   `CheckpointError('config-mismatch')` before its payload is read.
 * @throws CheckpointError `missing`, `corrupt` (truncated, checksum, wrong kind or layout) or
 *   `config-mismatch`; the message names the file and what to do.
 */
export function loadCheckpoint<P extends object = { readonly [key: string]: unknown }>(
  path: string,
  expectedHash?: string,
): Checkpoint<P> {
  let bundle: ReturnType<typeof loadBundle>;
  try {
    bundle = loadBundle(path, {
      kind: CHECKPOINT_KIND,
      ...(expectedHash !== undefined ? { key: expectedHash } : {}),
    });
  } catch (e) {
    if (e instanceof CacheError) {
      if (e.reason === 'missing')
        throw new CheckpointError('missing', path, `no checkpoint at ${path}`, { cause: e });
      if (e.reason === 'stale-key') {
        throw new CheckpointError(
          'config-mismatch',
          path,
          `checkpoint ${path} belongs to a run with a different configuration (model, objective, data or trainer settings changed); ` +
            'use another run directory, or restart from scratch (trainer option restart: true, CLI --restart)',
          { cause: e },
        );
      }
      throw new CheckpointError(
        'corrupt',
        path,
        `checkpoint ${path} is unusable (${e.reason}: ${e.message}); delete it or restart from scratch ` +
          '(trainer option restart: true, CLI --restart)',
        { cause: e },
      );
    }
    throw e;
  }
  const meta = bundle.meta as Record<string, unknown>;
  if (meta.version !== CHECKPOINT_VERSION) {
    throw new CheckpointError(
      'corrupt',
      path,
      `checkpoint ${path} has layout version ${String(meta.version)}; this library reads ${CHECKPOINT_VERSION}`,
    );
  }
  if (
    typeof meta.configHash !== 'string' ||
    typeof meta.progress !== 'object' ||
    meta.progress === null
  ) {
    throw new CheckpointError(
      'corrupt',
      path,
      `checkpoint ${path}: missing configHash or progress`,
    );
  }
  return {
    configHash: meta.configHash,
    progress: meta.progress as P,
    modelWeights: unpack(meta.model, 'm.', bundle.arrays, path),
    bestWeights: meta.best === null ? null : unpack(meta.best, 'b.', bundle.arrays, path),
    objective: {
      arrays: unpack(meta.objective, 'o.', bundle.arrays, path),
      json: (meta.objectiveJson ?? {}) as Record<string, unknown>,
    },
  };
}

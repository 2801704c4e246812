/**
 * Reading a finished training run's files back (`<runs>/<run-id>/log.jsonl` and `config.json`)
 * for the suites that need more than its metrics: epoch times (Table 12) and the DNR density
 * snapshots (Figure 5). The files are untrusted input: every record is validated, and errors
 * name the file and the line.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';

const finite = z.number().refine(Number.isFinite, 'must be a finite number');

/** A DNR density snapshot (`DnrDensitySnapshot` of `@dnr/objectives`) as stored in the log. */
const densitySchema = z
  .object({
    bins: z.int().min(1),
    range: z.tuple([finite, finite]),
    centers: z.array(finite),
    observed: z.array(finite),
    heuristic: z.array(finite),
    learned: z.array(finite).nullable(),
  })
  .loose()
  .refine(
    (d) =>
      d.centers.length === d.bins &&
      d.observed.length === d.bins &&
      d.heuristic.length === d.bins &&
      (d.learned === null || d.learned.length === d.bins),
    'every density must have `bins` values',
  );
export type DensitySnapshot = z.infer<typeof densitySchema>;

const epochSchema = z
  .object({
    epoch: z.int().min(1),
    trainSeconds: finite.min(0),
    diagnostics: z
      .object({
        phase: z.enum(['heuristic', 'learned']),
        density: densitySchema.nullable().optional(),
      })
      .loose()
      .optional(),
  })
  .loose();

/** The parts of one `log.jsonl` record the suites read. */
export type EpochLog = z.infer<typeof epochSchema>;

/** Path of a run's epoch log. */
export function runLogPath(runsDir: string, runId: string): string {
  return join(runsDir, runId, 'log.jsonl');
}

/**
 * The epochs of a run's `log.jsonl`, in epoch order. A resumed run may have logged an epoch
 * twice (interrupted after the log line, before the checkpoint); the last record of an epoch wins.
 * @throws Error naming the file (and line) when it is missing or a record is malformed.
 */
export function readRunLog(path: string): EpochLog[] {
  if (!existsSync(path)) throw new Error(`cannot read ${path}: no such file`);
  const byEpoch = new Map<number, EpochLog>();
  readFileSync(path, 'utf8')
    .split('\n')
    .forEach((line, i) => {
      if (line.trim() === '') return;
      let json: unknown;
      try {
        json = JSON.parse(line);
      } catch (error) {
        throw new Error(`${path} line ${i + 1} is not JSON: ${(error as Error).message}`);
      }
      const parsed = epochSchema.safeParse(json);
      if (!parsed.success) {
        const issue = parsed.error.issues[0];
        throw new Error(
          `${path} line ${i + 1} is not an epoch record: ${issue?.path.join('.') || 'record'} ${issue?.message ?? ''}`.trim(),
        );
      }
      byEpoch.set(parsed.data.epoch, parsed.data);
    });
  return [...byEpoch.values()].sort((a, b) => a.epoch - b.epoch);
}

const heuristicSchema = z.discriminatedUnion('type', [
  z.object({ type: z.literal('gaussian'), mean: finite, std: finite }).loose(),
  z.object({ type: z.literal('beta'), a: finite, b: finite, signed: z.boolean() }).loose(),
  z.object({ type: z.literal('label-beta') }).loose(),
]);

const configSchema = z
  .object({
    backend: z.string().optional(),
    method: z
      .object({ name: z.string().optional(), heuristic: heuristicSchema.nullable().optional() })
      .loose()
      .optional(),
  })
  .loose();

/** What the suites read from a run's `config.json` (absent or unreadable parts are undefined). */
export interface RunConfigInfo {
  /** The tfjs backend the run was trained on. */
  readonly backend?: string;
  /** The heuristic noise of a DNR method, in words (e.g. `Beta(0.5, 0.5)`). */
  readonly heuristic?: string;
}

/** Names a heuristic noise spec of `@dnr/objectives` as the paper does. */
export function describeHeuristic(spec: z.infer<typeof heuristicSchema>): string {
  switch (spec.type) {
    case 'gaussian':
      return `Gaussian N(${spec.mean}, ${spec.std ** 2})`;
    case 'beta':
      return spec.signed ? `2·Beta(${spec.a}, ${spec.b}) - 1` : `Beta(${spec.a}, ${spec.b})`;
    case 'label-beta':
      return 'label-conditional Beta';
  }
}

/** The backend and heuristic noise recorded in `<runs>/<run-id>/config.json` (best effort). */
export function readRunConfig(runsDir: string, runId: string): RunConfigInfo {
  const path = join(runsDir, runId, 'config.json');
  if (!existsSync(path)) return {};
  let json: unknown;
  try {
    json = JSON.parse(readFileSync(path, 'utf8'));
  } catch {
    return {};
  }
  const parsed = configSchema.safeParse(json);
  if (!parsed.success) return {};
  const heuristic = parsed.data.method?.heuristic;
  return {
    ...(parsed.data.backend !== undefined ? { backend: parsed.data.backend } : {}),
    ...(heuristic ? { heuristic: describeHeuristic(heuristic) } : {}),
  };
}

import { type Command, Option } from 'commander';
import { measureInference, measureMatmulGflops, measurePrmTraining } from '@dnr/backbones';
import { INTERACTION_FORMATS, createRng, type InteractionFormat } from '@dnr/data';
import { evaluateLists } from '@dnr/metrics';
import { z } from 'zod';
import { BACKEND_CHOICES, describeBackend, selectBackend } from '../backend';
import { flagsOf, parseIntFlag } from '../options';
import { measureDataPipeline } from '../perf-data';
import { formatDnrBreakdown, measureDnrCost } from '../perf-dnr';
import { resolveSettings } from '../settings';

export const PERF_SECTIONS = ['metrics', 'data', 'model', 'dnr'] as const;

export const perfSchema = z.object({
  sections: z.array(z.enum(PERF_SECTIONS)).min(1).default(['model', 'metrics', 'data', 'dnr']),
  /** Timed PRM training steps (batch 256) in the model section. */
  steps: z.int().min(1).max(1000).default(3),
  /** dnr section: training lists per epoch. */
  dnrLists: z.int().min(1).max(1_000_000).default(512),
  /** dnr section: lists per step. */
  dnrBatchSize: z.int().min(1).max(100_000).default(256),
  /** dnr section: timed epochs of each method (medians are reported). */
  dnrRepeats: z.int().min(1).max(1000).default(3),
  /** dnr section: DNR's generator step every k batches (1 = Algorithm 1). */
  generatorEvery: z.int().min(1).max(100_000).default(1),
  /** dnr section: DNR's augmentation (double = Algorithm 1; replace = one pass, protocol 0b.4). */
  dnrAugmentation: z.enum(['double', 'replace']).default('double'),
  format: z.enum(INTERACTION_FORMATS as [InteractionFormat, ...InteractionFormat[]]).optional(),
  input: z.string().min(1).optional(),
  backend: z.enum(BACKEND_CHOICES).default('auto'),
  json: z.boolean().default(false),
});
export type PerfSettings = z.infer<typeof perfSchema>;

/** Median of a few timed repetitions (ms). */
function medianMs(reps: number, fn: () => void): number {
  const times: number[] = [];
  for (let r = 0; r < reps; r++) {
    const t = performance.now();
    fn();
    times.push(performance.now() - t);
  }
  times.sort((a, b) => a - b);
  return times[Math.floor(times.length / 2)]!;
}

/** evaluateLists on 20,000 lists x 50 candidates (1,000,000 rows), k = 6: median of 5 runs. */
export function measureMetrics(): { metricsRows: number; metricsMsP50: number } {
  const lists = 20_000;
  const L = 50;
  const rng = createRng(7);
  const scores = new Float32Array(lists * L);
  const labels = new Uint8Array(lists * L);
  for (let i = 0; i < scores.length; i++) {
    labels[i] = rng.next() < 0.12 ? 1 : 0;
    scores[i] = Math.round((rng.next() + 0.3 * labels[i]!) * 1000) / 1000;
  }
  evaluateLists({ scores, labels, listSize: L, k: 6 });
  const ms = medianMs(5, () => evaluateLists({ scores, labels, listSize: L, k: 6 }));
  return { metricsRows: lists * L, metricsMsP50: ms };
}

/**
 * `dnr-bench perf`: speed figures of this machine, one JSON object as the last line with
 * `--json`. Sections: `model` (2-D matMul roofline, default PRM training at batch 256 with 50
 * candidates and 50 history items, single-request inference latency), `metrics` (evaluateLists
 * on 1M rows), `data` (file -> RerankDataset, scoring and evaluating every list; needs --input
 * and --format), `dnr` (a DNR-B epoch after τ against a plain PRM epoch on the same synthetic
 * lists: `dnrOverPrmEpochTime`, protocol 0b.4, with the DNR step's time per phase).
 */
export async function runPerf(
  settings: PerfSettings,
  log: (line: string) => void,
): Promise<Record<string, unknown>> {
  const backend = await selectBackend(settings.backend);
  log(describeBackend(backend));
  const result: Record<string, unknown> = { backend: backend.backend, node: process.version };
  // Data first: peakRssMiB is the process's maximum so far, so it must be read before the model runs.
  if (settings.sections.includes('data')) {
    if (!settings.input || !settings.format) {
      log('data: skipped (give --input and --format, e.g. the ML-1M sequences file)');
    } else {
      log(`data: ${settings.input} (${settings.format}) -> RerankDataset, scoring, metrics`);
      const d = await measureDataPipeline(settings.input, settings.format);
      Object.assign(result, {
        dataLists: d.lists,
        dataRequestsMs: d.requestsMs,
        dataDatasetMs: d.datasetMs,
        dataFileToDatasetMs: d.fileToDatasetMs,
        dataScoringMs: d.scoringMs,
        dataMetricsMs: d.metricsMs,
        peakRssMiB: d.peakRssMiB,
      });
    }
  }
  if (settings.sections.includes('model')) {
    log('model: 2-D matMul 12800x128 by 128x128, PRM training step (B=256, L=50, H=50), inference');
    const before = measureMatmulGflops();
    const training = measurePrmTraining({ steps: settings.steps, matmulGflops: before.gflops });
    // The roofline is the better of two matMul measurements (before and after training).
    const matmulGflops = Math.max(before.gflops, measureMatmulGflops().gflops);
    const inference = measureInference();
    Object.assign(result, {
      matmulGflops,
      prmTrainMsPerStep: training.msPerStep,
      prmTrainSeqPerSec: training.sequencesPerSec,
      prmEffectiveGflops: training.prmEffectiveGflops,
      rooflineRatio: training.prmEffectiveGflops / matmulGflops,
      inferenceMsP50: inference.p50Ms,
      inferenceMsP99: inference.p99Ms,
      inferenceBatchSeqPerSec: inference.batchThroughput,
    });
  }
  if (settings.sections.includes('dnr')) {
    log(
      `dnr: DNR-B epoch (learned generator, generator step every ${settings.generatorEvery}, ` +
        `augmentation ${settings.dnrAugmentation}) vs PRM epoch, ` +
        `${settings.dnrLists} lists, batch ${settings.dnrBatchSize}, ${settings.dnrRepeats} repeats`,
    );
    const d = measureDnrCost({
      lists: settings.dnrLists,
      batchSize: settings.dnrBatchSize,
      repeats: settings.dnrRepeats,
      generatorEvery: settings.generatorEvery,
      augmentation: settings.dnrAugmentation,
    });
    for (const line of formatDnrBreakdown(d)) log(line);
    const round = (v: number): number => Number(v.toFixed(1));
    Object.assign(result, {
      dnrOverPrmEpochTime: d.dnrOverPrmEpochTime,
      dnrOverPrmEpochCpu: d.dnrOverPrmEpochCpu,
      dnrEpochMs: d.dnrEpochMs,
      prmEpochMs: d.prmEpochMs,
      dnrLists: d.lists,
      dnrBatchSize: d.batchSize,
      dnrRepeats: d.repeats,
      dnrGeneratorEvery: d.generatorEvery,
      dnrAugmentation: d.augmentation,
      dnrGeneratorStepsPerEpoch: d.generatorStepsPerEpoch,
      dnrBreakdown: Object.fromEntries(
        Object.entries(d.dnrBreakdown).map(([k, v]) => [k, round(v)]),
      ),
    });
  }
  if (settings.sections.includes('metrics')) {
    log('metrics: evaluateLists on 20,000 lists x 50 candidates');
    Object.assign(result, measureMetrics());
  }
  return result;
}

/** The human-readable form of {@link runPerf}'s result: `key: value` lines (objects flattened). */
export function formatPerfText(result: Record<string, unknown>, prefix = ''): string {
  return Object.entries(result)
    .map(([k, v]) =>
      v !== null && typeof v === 'object' && !Array.isArray(v)
        ? formatPerfText(v as Record<string, unknown>, `${prefix}${k}.`)
        : `${prefix}${k}: ${typeof v === 'number' ? Number(v.toFixed(2)) : String(v)}`,
    )
    .join('\n');
}

export function registerPerfCommand(program: Command): void {
  program
    .command('perf')
    .description(
      'Measure the speed of this machine and backend (a benchmark: never part of the tests).',
    )
    .addOption(
      new Option(
        '--sections <list>',
        `comma-separated: ${PERF_SECTIONS.join(', ')} (default all)`,
      ).argParser((v) => v.split(',').map((s) => s.trim())),
    )
    .addOption(
      new Option('--format <format>', 'input format for the data section').choices(
        INTERACTION_FORMATS,
      ),
    )
    .option('--input <file>', 'interaction file for the data section (e.g. ML-1M sequences)')
    .addOption(
      new Option('--backend <name>', 'tfjs backend (default auto)').choices(BACKEND_CHOICES),
    )
    .option(
      '--steps <n>',
      'timed PRM training steps in the model section (default 3)',
      parseIntFlag,
    )
    .option(
      '--dnr-lists <n>',
      'training lists per epoch in the dnr section (default 512)',
      parseIntFlag,
    )
    .option('--dnr-batch-size <n>', 'lists per step in the dnr section (default 256)', parseIntFlag)
    .option(
      '--dnr-repeats <n>',
      'timed epochs of each method in the dnr section (default 3)',
      parseIntFlag,
    )
    .option(
      '--generator-every <k>',
      "dnr section: DNR's generator step every k batches (default 1)",
      parseIntFlag,
    )
    .addOption(
      new Option(
        '--dnr-augmentation <mode>',
        "dnr section: DNR's augmentation (default double; replace = one pass, protocol 0b.4)",
      ).choices(['double', 'replace']),
    )
    .option('--json', 'print one JSON object as the last line')
    .option('--config <file>', 'JSON run file with any of these settings (flags override it)')
    .action(async (opts: Record<string, unknown>, cmd: Command) => {
      const settings = await resolveSettings(perfSchema, {
        configPath: opts.config as string | undefined,
        flags: flagsOf(opts, cmd),
      });
      const log = (line: string): void => void process.stderr.write(`${line}\n`);
      const result = await runPerf(settings, log);
      const text = settings.json ? JSON.stringify(result) : formatPerfText(result);
      process.stdout.write(`${text}\n`);
    });
}

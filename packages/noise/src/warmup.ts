import type { NoiseConfigBase, NoiseGenerator } from './generator.js';
import { checkKeys, checkNumber } from './generator.js';
import { noiseGeneratorFromConfig } from './registry.js';

/** Options of {@link createWarmupGenerator}. */
export interface WarmupOptions {
  /** Generator used during warm-up (Gaussian for DNR-G, Beta for DNR-B / DNR-BL). */
  heuristic: NoiseGenerator;
  /** Generator used after warm-up (normally a `LearnedNoiseGenerator`). */
  learned: NoiseGenerator;
  /**
   * Warm-up length τ in epochs (integer >= 0). With 0-based epochs, epochs `0 … τ-1` use the
   * heuristic generator and epochs `τ, τ+1, …` the learned one (the paper's 1-based "e <= τ").
   * τ = 0 uses the learned generator from the start. Paper Table 7: 40 / 80 / 100.
   */
  tau: number;
}

/** Serialized {@link WarmupSchedule}. */
export type WarmupScheduleConfig = {
  tau: number;
  heuristic: NoiseConfigBase;
  learned: NoiseConfigBase;
};

/** Which generator an epoch uses. */
export type WarmupPhase = 'heuristic' | 'learned';

/**
 * The warm-up switch of DNR (paper §3.4, protocol §1.6): the heuristic generator for the first τ
 * epochs, then the learned generator. Epochs are 0-based: `isLearnedPhase(epoch)` is `epoch >= tau`.
 */
export class WarmupSchedule {
  readonly heuristic: NoiseGenerator;
  readonly learned: NoiseGenerator;
  readonly tau: number;

  constructor(options: WarmupOptions) {
    const owner = 'WarmupSchedule';
    if (options === null || typeof options !== 'object') {
      throw new TypeError(
        `${owner}: options must be an object { heuristic, learned, tau }, got ${String(options)}`,
      );
    }
    checkKeys(owner, options, ['heuristic', 'learned', 'tau']);
    for (const field of ['heuristic', 'learned'] as const) {
      const g = options[field] as NoiseGenerator | undefined;
      if (g === undefined || g === null || typeof g.sample !== 'function') {
        throw new TypeError(`${owner}: ${field} must be a NoiseGenerator, got ${String(g)}`);
      }
    }
    this.heuristic = options.heuristic;
    this.learned = options.learned;
    this.tau = checkNumber(owner, 'tau', options.tau, { min: 0, integer: true });
  }

  /** True from epoch τ on (0-based): the learned generator is active and trained adversarially. */
  isLearnedPhase(epoch: number): boolean {
    return (
      checkNumber('WarmupSchedule.isLearnedPhase', 'epoch', epoch, { min: 0, integer: true }) >=
      this.tau
    );
  }

  /** `'heuristic'` for epochs `0 … τ-1`, `'learned'` from epoch τ on. */
  phase(epoch: number): WarmupPhase {
    return this.isLearnedPhase(epoch) ? 'learned' : 'heuristic';
  }

  /** The generator to sample from in (0-based) `epoch`. */
  generatorFor(epoch: number): NoiseGenerator {
    return this.isLearnedPhase(epoch) ? this.learned : this.heuristic;
  }

  /** Plain-JSON config with both generators' configs. */
  getConfig(): WarmupScheduleConfig {
    return {
      tau: this.tau,
      heuristic: this.heuristic.getConfig(),
      learned: this.learned.getConfig(),
    };
  }

  /** Rebuilds a schedule (fresh generators) from {@link WarmupSchedule.getConfig}'s output. */
  static fromConfig(config: WarmupScheduleConfig): WarmupSchedule {
    if (config === null || typeof config !== 'object') {
      throw new TypeError(
        `WarmupSchedule.fromConfig: config must be an object, got ${String(config)}`,
      );
    }
    checkKeys('WarmupSchedule.fromConfig', config, ['tau', 'heuristic', 'learned']);
    return new WarmupSchedule({
      tau: config.tau,
      heuristic: noiseGeneratorFromConfig(config.heuristic),
      learned: noiseGeneratorFromConfig(config.learned),
    });
  }

  /** Disposes both generators. */
  dispose(): void {
    this.heuristic.dispose();
    this.learned.dispose();
  }
}

/** Creates a {@link WarmupSchedule} (epochs `0 … τ-1` heuristic, `τ …` learned). */
export function createWarmupGenerator(options: WarmupOptions): WarmupSchedule {
  return new WarmupSchedule(options);
}

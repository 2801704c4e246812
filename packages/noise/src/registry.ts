import type { NoiseConfigBase, NoiseGenerator } from './generator.js';
import { BetaNoise, GaussianNoise, LabelConditionalBetaNoise } from './heuristic.js';
import { LearnedNoiseGenerator } from './learned.js';

/** A factory that builds a generator from its config (validating every field). */
export type NoiseGeneratorFactory = (config: NoiseConfigBase) => NoiseGenerator;

const registry = new Map<string, NoiseGeneratorFactory>([
  ['gaussian', GaussianNoise.fromConfig],
  ['beta', BetaNoise.fromConfig],
  ['label-beta', LabelConditionalBetaNoise.fromConfig],
  ['learned', LearnedNoiseGenerator.fromConfig],
]);

/**
 * Registers a generator factory under `type` so `noiseGeneratorFromConfig` can rebuild it.
 * Built-in types (`gaussian`, `beta`, `label-beta`, `learned`) are always registered;
 * re-registering a type replaces its factory.
 */
export function registerNoiseGenerator(type: string, factory: NoiseGeneratorFactory): void {
  if (typeof type !== 'string' || type.length === 0) {
    throw new TypeError(
      `registerNoiseGenerator: type must be a non-empty string, got ${String(type)}`,
    );
  }
  registry.set(type, factory);
}

/** The registered generator types, sorted. */
export function registeredNoiseGenerators(): string[] {
  return [...registry.keys()].sort();
}

/**
 * Builds a generator from a plain-JSON config (as returned by `getConfig()`), dispatching on
 * `config.type`. Throws a `TypeError` naming the type when it is not registered.
 */
export function noiseGeneratorFromConfig(config: NoiseConfigBase): NoiseGenerator {
  if (config === null || typeof config !== 'object') {
    throw new TypeError(
      `noiseGeneratorFromConfig: config must be an object, got ${String(config)}`,
    );
  }
  const factory = registry.get(config.type);
  if (factory === undefined) {
    throw new TypeError(
      `noiseGeneratorFromConfig: unknown type ${JSON.stringify(config.type)}; registered: ` +
        registeredNoiseGenerators().join(', '),
    );
  }
  return factory(config);
}

/** Alias of {@link noiseGeneratorFromConfig}. */
export const fromConfig = noiseGeneratorFromConfig;

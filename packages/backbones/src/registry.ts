import type { Reranker } from './reranker';
import { Prm, type PrmConfig } from './models/prm';
import { Pier, type PierConfig } from './models/pier';

/**
 * Config type of each registered reranker name. Packages that add rerankers extend it by
 * declaration merging:
 * ```ts
 * declare module '@dnr/backbones' { interface RerankerConfigMap { setrank: SetRankConfig } }
 * ```
 */
export interface RerankerConfigMap {
  prm: PrmConfig;
  pier: PierConfig;
}

/** Builds a reranker from its (possibly partial) config. */
export type RerankerFactory<C> = (config: C) => Reranker;

// eslint-disable-next-line @typescript-eslint/no-explicit-any
const factories = new Map<string, RerankerFactory<any>>([
  ['prm', (c: PrmConfig) => new Prm(c)],
  ['pier', (c: PierConfig) => new Pier(c)],
]);

/**
 * Registers a reranker factory under `name`. Throws if the name is taken, unless `override`.
 */
export function registerReranker<K extends keyof RerankerConfigMap>(
  name: K,
  factory: RerankerFactory<RerankerConfigMap[K]>,
  options?: { override?: boolean },
): void;
export function registerReranker(
  name: string,
  factory: RerankerFactory<unknown>,
  options?: { override?: boolean },
): void;
export function registerReranker(
  name: string,
  factory: RerankerFactory<unknown>,
  options: { override?: boolean } = {},
): void {
  if (!/^[a-z0-9][a-z0-9_.-]*$/i.test(name)) throw new Error(`invalid reranker name '${name}'`);
  if (factories.has(name) && !options.override) {
    throw new Error(`a reranker named '${name}' is already registered (pass { override: true })`);
  }
  factories.set(name, factory);
}

/** Creates a registered reranker. Unknown names throw and list the known ones. */
export function createReranker<K extends keyof RerankerConfigMap>(
  name: K,
  config: RerankerConfigMap[K],
): Reranker;
export function createReranker(name: string, config: unknown): Reranker;
export function createReranker(name: string, config: unknown): Reranker {
  const f = factories.get(name);
  if (!f) {
    throw new Error(`unknown reranker '${name}'; registered: ${listRerankers().join(', ')}`);
  }
  return f(config);
}

/** Names of the registered rerankers, sorted. */
export function listRerankers(): string[] {
  return [...factories.keys()].sort();
}

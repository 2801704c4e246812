export { Split } from './types';
export type { SplitCode, SplitName, Interactions, RequestSet, RerankDataset } from './types';
export { createRng, shuffleInPlace } from './rng';
export type { Rng } from './rng';

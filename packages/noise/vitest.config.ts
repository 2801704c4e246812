import { packageTestConfig } from '../../vitest.shared.ts';

// Tests import '@tensorflow/tfjs' (test/helpers.ts) for the gradients; one module graph for all
// test files (isolate: false) keeps tfjs and its backends from loading once per file.
export default packageTestConfig({ isolate: false });

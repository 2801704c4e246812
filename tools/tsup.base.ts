import type { Options } from 'tsup';

/**
 * Shared tsup settings for every published package: ESM + CJS + type declarations
 * from the single public entry `src/index.ts`. Dependencies and peer dependencies
 * stay external (tsup's default), so no package bundles another.
 */
export function libraryConfig(overrides: Partial<Options> = {}): Options {
  return {
    entry: ['src/index.ts'],
    format: ['esm', 'cjs'],
    dts: true,
    sourcemap: true,
    clean: true,
    target: 'node20',
    platform: 'node',
    tsconfig: 'tsconfig.build.json',
    ...overrides,
  };
}

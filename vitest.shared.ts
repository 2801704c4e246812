import { fileURLToPath } from 'node:url';
import { defineConfig, type ViteUserConfig } from 'vitest/config';

const root = fileURLToPath(new URL('.', import.meta.url));
const packages = ['metrics', 'data', 'retriever', 'backbones', 'noise', 'objectives'];

/**
 * Tests import sibling packages from their TypeScript sources, so `npm test` needs no build.
 */
export function packageTestConfig(overrides: ViteUserConfig['test'] = {}): ViteUserConfig {
  return defineConfig({
    resolve: {
      alias: Object.fromEntries(
        packages.map((name) => [`@dnr/${name}`, `${root}packages/${name}/src/index.ts`]),
      ),
    },
    test: {
      include: ['test/**/*.test.ts'],
      testTimeout: 60_000,
      hookTimeout: 60_000,
      // CI (DNR_TEST_REPORT=1) also writes a JSON report per project for tools/test-summary.mjs.
      ...(process.env.DNR_TEST_REPORT
        ? { reporters: ['default', 'json'], outputFile: { json: '.vitest-report.json' } }
        : {}),
      ...overrides,
    },
  });
}

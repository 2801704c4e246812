import { defineConfig } from 'tsup';
import { libraryConfig } from '../../tools/tsup.base.ts';

// The CLI is an ESM executable; library packages stay external (tsup's default for dependencies).
export default defineConfig(
  libraryConfig({
    entry: ['src/cli.ts'],
    format: ['esm'],
    dts: false,
    banner: { js: '#!/usr/bin/env node' },
  }),
);

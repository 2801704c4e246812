import { defineConfig } from 'tsup';
import { libraryConfig } from '../../tools/tsup.base.ts';

export default defineConfig(libraryConfig());

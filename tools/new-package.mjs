// Writes the boilerplate of a published package (package.json, tsconfigs, tsup and vitest
// configs) under packages/<name>. Existing files are kept. Usage: node tools/new-package.mjs <name> "<description>"
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

const [name, description] = process.argv.slice(2);
if (!name || !/^[a-z][a-z0-9-]*$/.test(name) || !description) {
  console.error('usage: node tools/new-package.mjs <name> "<description>"');
  process.exit(2);
}
const dir = join('packages', name);
mkdirSync(join(dir, 'src'), { recursive: true });
mkdirSync(join(dir, 'test'), { recursive: true });
const write = (file, text) => {
  const path = join(dir, file);
  if (!existsSync(path)) writeFileSync(path, text);
};
write(
  'package.json',
  JSON.stringify(
    {
      name: `@dnr/${name}`,
      version: '0.0.0',
      description,
      license: 'MIT',
      type: 'module',
      sideEffects: false,
      engines: { node: '>=20' },
      repository: { type: 'git', url: 'git+https://github.com/dnr-ts/dnr.git', directory: dir },
      main: './dist/index.cjs',
      module: './dist/index.js',
      types: './dist/index.d.cts',
      exports: {
        '.': {
          import: { types: './dist/index.d.ts', default: './dist/index.js' },
          require: { types: './dist/index.d.cts', default: './dist/index.cjs' },
        },
        './package.json': './package.json',
      },
      files: ['dist', 'README.md', 'CHANGELOG.md'],
      scripts: {
        build: 'tsup',
        test: 'vitest run',
        lint: 'eslint src test',
        typecheck: 'tsc -p tsconfig.json',
      },
      publishConfig: { access: 'public' },
    },
    null,
    2,
  ) + '\n',
);
write(
  'tsconfig.json',
  JSON.stringify(
    { extends: '../../tsconfig.base.json', include: ['src', 'test', '*.ts'] },
    null,
    2,
  ) + '\n',
);
write(
  'tsconfig.build.json',
  JSON.stringify(
    {
      extends: '../../tsconfig.base.json',
      compilerOptions: { paths: {}, noEmit: false },
      include: ['src'],
    },
    null,
    2,
  ) + '\n',
);
write(
  'tsup.config.ts',
  "import { defineConfig } from 'tsup';\nimport { libraryConfig } from '../../tools/tsup.base.ts';\n\nexport default defineConfig(libraryConfig());\n",
);
write(
  'vitest.config.ts',
  "import { packageTestConfig } from '../../vitest.shared.ts';\n\nexport default packageTestConfig();\n",
);
console.log(`packages/${name} ready`);

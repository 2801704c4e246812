// Lints every published package's package.json and build output the way consumers will see it:
// publint (exports, files, module formats) and @arethetypeswrong/cli (types resolve for node10,
// node16 CJS/ESM and bundlers). Run `npm run build` first (npm run check:packages does).
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

const root = new URL('..', import.meta.url).pathname;
const dirs = readdirSync(join(root, 'packages'))
  .map((name) => join(root, 'packages', name))
  .filter((dir) => existsSync(join(dir, 'package.json')))
  .filter((dir) => !JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')).private);

let failed = 0;
const run = (label, command, args, cwd) => {
  try {
    execFileSync(command, args, { cwd, stdio: 'pipe', encoding: 'utf8' });
    console.log(`ok    ${label}`);
  } catch (error) {
    failed++;
    console.log(`FAIL  ${label}\n${error.stdout ?? ''}${error.stderr ?? ''}`);
  }
};
const bin = (name) => join(root, 'node_modules', '.bin', name);
for (const dir of dirs) {
  const name = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')).name;
  if (!existsSync(join(dir, 'dist'))) {
    failed++;
    console.log(`FAIL  ${name}: no dist/ (run npm run build)`);
    continue;
  }
  run(`${name} publint`, bin('publint'), ['--strict'], dir);
  run(`${name} attw`, bin('attw'), ['--pack', '.', '--format', 'table-flipped'], dir);
}
if (failed > 0) {
  console.error(`${failed} package check(s) failed`);
  process.exit(1);
}
console.log(`all ${dirs.length} packages pass publint and attw`);

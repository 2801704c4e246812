// PRM speed measurements on the built package (run `npx tsup` first).
// Usage: node bench/run-perf.mjs [wasm|cpu] [--steps N] [--user-encoder transformer|mean]
//        [--dense fast|tfjs] [--bmm auto|tfjs] [--batch 256] [--skip-inference] [--skip-training]
//        [--prm-fast on|off] (off: PRM inference through the tfjs kernels, as before the fast path)
import '@tensorflow/tfjs'; // registers the gradients training needs (and the cpu backend)
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-wasm';
import {
  measureInference,
  measureMatmulGflops,
  measurePrmTraining,
  setBatchedMatMulMode,
  setDenseMode,
  setPrmFastInference,
} from '../dist/index.js';

const args = process.argv.slice(2);
const opt = (name, dflt) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 && args[i + 1] !== undefined ? args[i + 1] : dflt;
};
const backend = args[0] && !args[0].startsWith('--') ? args[0] : 'wasm';
await tf.setBackend(backend);
await tf.ready();
setDenseMode(opt('dense', 'fast'));
setBatchedMatMulMode(opt('bmm', 'auto'));
setPrmFastInference(opt('prm-fast', 'on') !== 'off');
const matmul = measureMatmulGflops();
const result = {
  backend: tf.getBackend(),
  dense: opt('dense', 'fast'),
  bmm: opt('bmm', 'auto'),
  prmFast: opt('prm-fast', 'on'),
  matmul,
};
if (!args.includes('--skip-training')) {
  const training = measurePrmTraining({
    batchSize: Number(opt('batch', '256')),
    steps: Number(opt('steps', '3')),
    matmulGflops: matmul.gflops,
    prm: { userEncoder: opt('user-encoder', 'transformer') },
  });
  // the machine is shared: take the better of the matmul measurements before and after training
  const after = measureMatmulGflops();
  result.matmulAfter = after;
  const best = Math.max(matmul.gflops, after.gflops);
  training.matmulGflops = best;
  training.rooflineRatio = training.prmEffectiveGflops / best;
  result.training = training;
}
if (!args.includes('--skip-inference')) result.inference = measureInference();
console.log(JSON.stringify(result, null, 2));

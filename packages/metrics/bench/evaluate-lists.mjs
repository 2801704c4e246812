// Benchmark: evaluateLists on 20,000 lists x 50 candidates (1,000,000 rows), k = 6.
// Usage (from packages/metrics): npx tsup && node bench/evaluate-lists.mjs [--runs 7] [--stream]
// Prints one JSON line: {"rows","lists","listSize","k","runs","medianMs","minMs","node",...}.
// With --stream it also times the streaming accumulator (batches of 1,000 lists) and reports
// its aucGlobal error against the exact value and the bound it reports.
import { createListMetricsAccumulator, evaluateLists } from '../dist/index.js';

const args = process.argv.slice(2);
const runsArg = args.indexOf('--runs');
const runs = runsArg >= 0 ? Number(args[runsArg + 1]) : 7;
const stream = args.includes('--stream');

const lists = 20_000;
const listSize = 50;
const k = 6;
const rows = lists * listSize;

// Seeded generator (mulberry32) so every run scores the same data.
let state = 20240611;
function rand() {
  state = (state + 0x6d2b79f5) >>> 0;
  let t = state;
  t = Math.imul(t ^ (t >>> 15), t | 1);
  t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
}

// ~6 positives per list of 50 (as in the paper's protocol); scores = N(0,1) + label, rounded
// to a 1/1000 grid for a share of ties.
const scores = new Float32Array(rows);
const labels = new Uint8Array(rows);
for (let i = 0; i < rows; i++) {
  const y = rand() < 0.12 ? 1 : 0;
  const g = Math.sqrt(-2 * Math.log(1 - rand())) * Math.cos(2 * Math.PI * rand());
  labels[i] = y;
  scores[i] = Math.round((g + y) * 1000) / 1000;
}

function median(xs) {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

evaluateLists({ scores, labels, listSize, k }); // warm-up
const times = [];
let metrics;
for (let r = 0; r < runs; r++) {
  const t0 = performance.now();
  metrics = evaluateLists({ scores, labels, listSize, k });
  times.push(performance.now() - t0);
}

const out = {
  rows,
  lists,
  listSize,
  k,
  runs,
  medianMs: Number(median(times).toFixed(1)),
  minMs: Number(Math.min(...times).toFixed(1)),
  node: process.version,
  metrics,
};

if (stream) {
  const streamTimes = [];
  let acc;
  for (let r = 0; r < runs; r++) {
    const t0 = performance.now();
    acc = createListMetricsAccumulator({ listSize, k });
    for (let l = 0; l < lists; l += 1000) {
      acc.add(
        scores.subarray(l * listSize, (l + 1000) * listSize),
        labels.subarray(l * listSize, (l + 1000) * listSize),
      );
    }
    acc.result();
    streamTimes.push(performance.now() - t0);
  }
  out.stream = {
    medianMs: Number(median(streamTimes).toFixed(1)),
    aucGlobal: acc.result().aucGlobal,
    aucGlobalAbsError: Math.abs(acc.result().aucGlobal - metrics.aucGlobal),
    aucGlobalMaxError: acc.stats().aucGlobalMaxError,
  };
}

console.log(JSON.stringify(out));

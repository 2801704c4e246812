// Measures the MF retriever on real MovieLens data (not part of the timed tests).
// Usage (from packages/retriever, after `npx tsup`):
//   node bench/ml.mjs [ml100k|ml1m-half|ml1m-seq] [--l2 0] [--epochs 100] [--negatives 4] [--dim 128] [--seed 1]
// ml1m-seq = the complete ML-1M as implicit chronological sequences (every interaction positive).
// Protocol: 20-core filter on users and items (iterative), positives = rating >= 3, each user's
// interactions sorted by time; the earliest 80 % of a user's interactions are the retriever's
// training split, the last 20 % its test split. trainMF holds out 10 % of each user's training
// positives for early stopping. Test AUC = held-out test positives vs 1 uniformly sampled item
// the user never interacted with (any rating), global Mann-Whitney.
import { readFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import { gunzipSync } from 'node:zlib';
import { buildUserItemIndex, retrieverAuc, trainMF } from '../dist/index.js';

const DATA = '/work/shared/datasets';
const args = process.argv.slice(2);
const which = args[0] && !args[0].startsWith('--') ? args[0] : 'ml100k';
const opt = (name, dflt) => {
  const k = args.indexOf(`--${name}`);
  return k >= 0 ? Number(args[k + 1]) : dflt;
};

function load(which) {
  let text;
  let sep;
  if (which === 'ml100k') {
    text = readFileSync(`${DATA}/ml-100k/u.data`, 'utf8');
    sep = '\t';
  } else if (which === 'ml1m-half') {
    text = gunzipSync(readFileSync(`${DATA}/ml-1m/ratings.users-1-2999.dat.gz`)).toString('utf8');
    sep = '::';
  } else if (which === 'ml1m-seq') {
    // implicit: every interaction positive, file order = time order
    text = gunzipSync(readFileSync(`${DATA}/ml-1m/sequences.chronological.tsv.gz`)).toString(
      'utf8',
    );
    const rows = [];
    text
      .split('\n')
      .slice(1)
      .forEach((line) => {
        if (!line) return;
        const [u, items] = line.split('\t');
        items.split(' ').forEach((i, t) => rows.push({ u, i, r: 5, t }));
      });
    return rows;
  } else throw new Error(`unknown dataset ${which}`);
  const rows = [];
  for (const line of text.split('\n')) {
    if (!line) continue;
    const [u, i, r, t] = line.split(sep);
    rows.push({ u, i, r: Number(r), t: Number(t) });
  }
  return rows;
}

function kcore(rows, k) {
  for (;;) {
    const cu = new Map();
    const ci = new Map();
    for (const x of rows) {
      cu.set(x.u, (cu.get(x.u) ?? 0) + 1);
      ci.set(x.i, (ci.get(x.i) ?? 0) + 1);
    }
    const kept = rows.filter((x) => cu.get(x.u) >= k && ci.get(x.i) >= k);
    if (kept.length === rows.length) return kept;
    rows = kept;
  }
}

const t0 = performance.now();
const rows = kcore(load(which), 20);
const uid = new Map();
const iid = new Map();
for (const x of rows) {
  if (!uid.has(x.u)) uid.set(x.u, uid.size);
  if (!iid.has(x.i)) iid.set(x.i, iid.size);
}
const numUsers = uid.size;
const numItems = iid.size;
const byUser = Array.from({ length: numUsers }, () => []);
rows.forEach((x, n) => byUser[uid.get(x.u)].push({ i: iid.get(x.i), r: x.r, t: x.t, n }));
const tr = { u: [], i: [] };
const te = { u: [], i: [] };
const all = { u: [], i: [] };
for (let u = 0; u < numUsers; u++) {
  const seq = byUser[u].sort((a, b) => a.t - b.t || a.n - b.n);
  const cut = Math.floor(seq.length * 0.8);
  seq.forEach((x, k) => {
    all.u.push(u);
    all.i.push(x.i);
    if (x.r < 3) return;
    const dst = k < cut ? tr : te;
    dst.u.push(u);
    dst.i.push(x.i);
  });
}
const pairs = (p) => ({
  numUsers,
  numItems,
  user: Int32Array.from(p.u),
  item: Int32Array.from(p.i),
});
const train = pairs(tr);
const test = pairs(te);
const exclude = buildUserItemIndex(pairs(all));
console.log(
  `${which}: ${numUsers} users, ${numItems} items, ${rows.length} interactions after 20-core; ` +
    `${train.user.length} train positives, ${test.user.length} test positives ` +
    `(load ${((performance.now() - t0) / 1000).toFixed(1)} s)`,
);
const config = {
  seed: opt('seed', 1),
  l2: opt('l2', undefined),
  epochs: opt('epochs', undefined),
  negatives: opt('negatives', 4),
  dim: opt('dim', 128),
  batchSize: opt('batch', 1024),
  learningRate: opt('lr', 1e-3),
  evalExclude: exclude,
  onEpoch: (r) =>
    console.log(
      `  epoch ${r.epoch}: loss ${r.loss.toFixed(4)}  valAuc ${(r.valAuc * 100).toFixed(2)}  ` +
        `${(r.ms / 1000).toFixed(2)} s${r.best ? '  *' : ''}`,
    ),
};
const res = trainMF(train, config);
const secs = res.history.map((r) => r.ms / 1000);
const auc = retrieverAuc(res.model, test, { seed: 7, exclude });
const auc4 = retrieverAuc(res.model, test, { seed: 7, exclude, negativesPerPositive: 4 });
console.log(
  JSON.stringify({
    dataset: which,
    users: numUsers,
    items: numItems,
    trainPairs: res.trainPairs,
    validationPairs: res.validationPairs,
    bestEpoch: res.bestEpoch,
    bestValAuc: +res.bestValAuc.toFixed(4),
    testAuc: +auc.toFixed(4),
    testAuc4neg: +auc4.toFixed(4),
    secondsPerEpoch: +(secs.reduce((a, b) => a + b, 0) / secs.length).toFixed(2),
    config: res.config,
  }),
);

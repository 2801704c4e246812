// Cross-fitting vs shared vs temporal retrievers on real data, through @dnr/data's default protocol
// (20-core, windows of 6, windows without a positive dropped, per-user 80/10/10 split of windows,
// 50 candidates = 6 exposed + 44 sampled). Not part of the timed tests. Run from packages/retriever:
//   npx esbuild bench/crossfit.ts --bundle --platform=node --format=esm --outfile=/tmp/dnr-crossfit.mjs
//   node /tmp/dnr-crossfit.mjs ml100k|ml1m-half [crossfit,crossfit-blocks,shared,temporal]
// (esbuild resolves @dnr/data to its TypeScript sources through the root tsconfig paths.)
import { buildRerankDataset, prepareRequests } from '@dnr/data';
import type { RerankDataset } from '@dnr/data';
import { fitRetrievers, retrieverListDiagnostics } from '../src/index';
import type { RetrieverMode } from '../src/index';

const DATA = '/work/shared/datasets';
const which = process.argv[2] ?? 'ml100k';
// `crossfit-blocks` = crossfit with foldAssignment 'blocks'
const modes = (process.argv[3] ?? 'crossfit,shared,temporal').split(',');
const input =
  which === 'ml100k'
    ? { path: `${DATA}/ml-100k/u.data`, format: 'ml100k' as const }
    : { path: `${DATA}/ml-1m/ratings.users-1-2999.dat.gz`, format: 'movielens' as const };

const t0 = performance.now();
const prepared = await prepareRequests(input.path, { format: input.format });
const rs = prepared.requests;
console.log(
  `${which}: ${rs.numUsers} users, ${rs.numItems} items, ${rs.user.length} requests ` +
    `(${((performance.now() - t0) / 1000).toFixed(1)} s)`,
);

function subset(ds: RerankDataset, keep: Uint8Array) {
  const L = ds.listSize;
  const ids: number[] = [];
  keep.forEach((k, r) => k && ids.push(r));
  const scores = new Float32Array(ids.length * L);
  const labels = new Uint8Array(ids.length * L);
  ids.forEach((r, n) => {
    scores.set(ds.scores.subarray(r * L, (r + 1) * L), n * L);
    labels.set(ds.labels.subarray(r * L, (r + 1) * L), n * L);
  });
  return { scores, labels, split: Uint8Array.from(ids, (r) => ds.split[r]!), listSize: L };
}

const pct = (x: number) => (x * 100).toFixed(1);
for (const mode of modes) {
  const t1 = performance.now();
  const epochs: Record<string, number> = {};
  const fitted = fitRetrievers(rs, {
    mode: mode.split('-')[0] as RetrieverMode,
    foldAssignment: mode === 'crossfit-blocks' ? 'blocks' : 'alternate',
    seed: 1,
    onEpoch: (name, r) => {
      epochs[name] = r.epoch;
      process.stdout.write(
        `  ${mode}/${name} epoch ${r.epoch}: loss ${r.loss.toFixed(4)} valAuc ${pct(r.valAuc)} ` +
          `${(r.ms / 1000).toFixed(2)} s\n`,
      );
    },
  });
  const fitS = (performance.now() - t1) / 1000;
  const ds = buildRerankDataset(rs, fitted, { seed: 1 });
  const d = retrieverListDiagnostics(subset(ds, fitted.usable));
  const row = {
    dataset: which,
    mode,
    models: fitted.models.map((m) => `${m.name}:${m.trainPairs} pairs, best epoch ${m.bestEpoch}`),
    testAuc: pct(fitted.testAuc),
    validationAuc: pct(fitted.validationAuc),
    listAuc: { train: pct(d.train.auc), validation: pct(d.validation.auc), test: pct(d.test.auc) },
    listNdcg6: {
      train: pct(d.train.ndcg),
      validation: pct(d.validation.ndcg),
      test: pct(d.test.ndcg),
    },
    trainLists: d.train.lists,
    fitSeconds: +fitS.toFixed(1),
    warning: d.warning ?? null,
  };
  console.log(JSON.stringify(row));
}

import {
  buildRerankDataset,
  createRng,
  prepareRequests,
  type CandidateScorer,
  type InteractionFormat,
  type RequestSet,
} from '@dnr/data';
import { evaluateLists } from '@dnr/metrics';
import { createMF, scoreItemsInto, type MFModel } from '@dnr/retriever';

/** A scorer over one MF model (every request scored by its user's embedding). */
export function mfScorer(requests: RequestSet, model: MFModel): CandidateScorer {
  return {
    scoreLists(requestIds, items, listSize) {
      const out = new Float32Array(requestIds.length * listSize);
      for (let j = 0; j < requestIds.length; j++) {
        const u = requests.user[requestIds[j]!]!;
        scoreItemsInto(
          model,
          u,
          items.subarray(j * listSize, (j + 1) * listSize),
          out,
          j * listSize,
        );
      }
      return out;
    },
  };
}

/** Timings of the data pipeline on one file (milliseconds), without retriever training. */
export interface DataPerf {
  readonly lists: number;
  readonly listSize: number;
  /** Load + k-core + requests. */
  readonly requestsMs: number;
  /** Candidate sampling + scoring + ordering + histories: the RerankDataset from requests. */
  readonly datasetMs: number;
  /** Load to RerankDataset: requestsMs + datasetMs. */
  readonly fileToDatasetMs: number;
  /** Scoring every candidate list once more with the d = 128 MF (the frozen retriever's cost). */
  readonly scoringMs: number;
  /** evaluateLists (k = 6) over every list. */
  readonly metricsMs: number;
  /** Peak resident memory of the process so far (MiB). */
  readonly peakRssMiB: number;
}

/**
 * Measures the data path of issue #4's budget: file -> RerankDataset (an untrained, randomly
 * initialised MF of the paper's size stands in for the retriever: scoring costs the same),
 * scoring all lists, and evaluating them.
 */
export async function measureDataPipeline(
  input: string,
  format: InteractionFormat,
  seed = 1,
): Promise<DataPerf> {
  const t0 = performance.now();
  const { requests } = await prepareRequests(input, { format });
  const t1 = performance.now();
  const model = createMF(requests.numUsers, requests.numItems, { dim: 128, seed });
  const scorer = mfScorer(requests, model);
  const ds = buildRerankDataset(requests, scorer, { seed, listSize: 50, historyCap: 50 });
  const t2 = performance.now();
  const ids = Int32Array.from({ length: ds.user.length }, (_, i) => i);
  const t3 = performance.now();
  const scores = scorer.scoreLists(ids, ds.items, ds.listSize);
  const t4 = performance.now();
  // Random scores: the ranking work of the metrics does not depend on their values.
  const rng = createRng(seed);
  for (let i = 0; i < scores.length; i++) scores[i] = rng.next();
  const t5 = performance.now();
  evaluateLists({ scores, labels: ds.labels, listSize: ds.listSize, k: 6 });
  const t6 = performance.now();
  return {
    lists: ds.user.length,
    listSize: ds.listSize,
    requestsMs: t1 - t0,
    datasetMs: t2 - t1,
    fileToDatasetMs: t2 - t0,
    scoringMs: t4 - t3,
    metricsMs: t6 - t5,
    peakRssMiB: process.resourceUsage().maxRSS / 1024,
  };
}

import type { MetricName } from './evaluate';

/**
 * The paper's ML-1M figures (percent) for the rows our suites reproduce, to print beside ours.
 * Sources: Table 1 (main comparison), Table 2 (score usages, PRM and Pier), Table 3 (ablations),
 * Table 9 (DNR-BL), Table 10 (larger PRM: its "original PRM" and "original PRM+DNR" rows equal
 * Table 1's PRM and DNR-G, so they need no entry of their own).
 * In Table 3 the loss symbols were lost in extraction; the first "w/o" row of each generator is
 * read as "w/o L_adv" and the second as "w/o L_x" (docs/protocol.md).
 */
/** Paper figures of one row; a metric the paper does not report for it is absent. */
type Figures = Readonly<Partial<Record<MetricName, number>>>;

const f = (hr: number, ndcg: number, map: number, f1: number, auc: number): Figures => ({
  hr,
  ndcg,
  map,
  f1,
  auc,
});

/** Paper rows by our row label, ML-1M columns. */
export const PAPER_ML1M: Readonly<Record<string, Figures>> = {
  // Table 1
  SASRec: f(59.79, 72.16, 61.84, 65.41, 85.98),
  Caser: f(58.6, 71.34, 60.55, 64.14, 86.53),
  GRU4Rec: f(58.07, 69.91, 59.03, 63.47, 86.74),
  MiDNN: f(56.86, 70.3, 59.28, 62.16, 86.87),
  DLCM: f(62.31, 73.87, 63.82, 67.96, 89.35),
  SetRank: f(59.35, 73.1, 62.51, 64.72, 88.84),
  PRM: f(60.09, 72.85, 62.21, 65.51, 88.2),
  MIR: f(62.22, 74.33, 64.47, 67.97, 87.76),
  EGRank: f(62.76, 74.75, 64.97, 68.46, 88.72),
  Pier: f(62.74, 75.99, 65.98, 68.74, 90.43),
  NAR4Rec: f(62.81, 75.01, 65.42, 68.31, 88.3),
  DiffuRec: f(62.16, 75.8, 66.28, 67.83, 91.48),
  DCDR: f(60.79, 73.21, 62.57, 66.58, 89.01),
  'DNR-G': f(64.89, 77.67, 68.0, 70.71, 92.75),
  'DNR-B': f(64.23, 77.12, 67.3, 70.01, 92.08),
  // Table 2
  'PRM + c score': f(62.5, 76.73, 67.36, 68.29, 91.35),
  'PRM + + score': f(62.69, 76.05, 66.48, 68.36, 90.77),
  'PRM + w score': f(62.48, 76.68, 67.34, 68.19, 87.2),
  'PRM + DNR': f(64.23, 77.12, 67.3, 70.01, 92.08),
  'Pier + c score': f(62.33, 76.51, 66.95, 69.18, 90.55),
  'Pier + + score': f(62.58, 76.18, 66.52, 68.85, 90.31),
  'Pier + w score': f(62.98, 76.66, 67.16, 69.37, 90.58),
  'Pier + DNR': f(63.41, 77.28, 68.02, 70.22, 91.97),
  // Table 9 (NDCG@6 and MAP@6 only)
  'DNR-BL': { ndcg: 77.43, map: 67.49 },
  // Table 3
  'w/ G': f(63.36, 76.69, 66.82, 69.34, 91.98),
  'w/ B': f(63.65, 76.9, 67.01, 69.64, 90.85),
  'G w/o L_adv': f(63.71, 76.57, 66.61, 69.43, 92.14),
  'G w/o L_x': f(63.47, 76.43, 66.43, 69.19, 91.9),
  'B w/o L_adv': f(63.65, 76.9, 67.01, 69.64, 90.85),
  'B w/o L_x': f(63.32, 76.62, 66.76, 69.29, 90.6),
  // Table 10
  'larger PRM': f(62.95, 76.09, 66.72, 68.61, 88.68),
  'larger PRM + DNR': f(65.87, 78.72, 69.33, 71.95, 89.19),
};

/** The paper's datasets, in its column order. */
export const PAPER_DATASETS = ['ML-1M', 'Kuaivideo', 'Book'] as const;
export type PaperDataset = (typeof PAPER_DATASETS)[number];

/**
 * Table 8: the MF retriever's AUC (percent) — held-out positives against sampled negatives, the
 * metric of `data prepare`'s "retriever AUC" (not the per-list AUC of the candidate lists).
 */
export const PAPER_RETRIEVER_AUC: Readonly<Record<PaperDataset, number>> = {
  'ML-1M': 79.2,
  Kuaivideo: 89.62,
  Book: 88.82,
};

/**
 * Table 12: training seconds per epoch (the paper's mm:ss, PyTorch on an A40 GPU). `w/ score` is
 * PRM fed the retriever score (any usage); `DNR` is not said to be DNR-G or DNR-B.
 */
export const PAPER_EPOCH_SECONDS: Readonly<Record<string, Readonly<Record<PaperDataset, number>>>> =
  {
    PRM: { 'ML-1M': 61, Kuaivideo: 141, Book: 102 },
    Pier: { 'ML-1M': 114, Kuaivideo: 251, Book: 156 },
    DCDR: { 'ML-1M': 147, Kuaivideo: 298, Book: 182 },
    'w/ score': { 'ML-1M': 63, Kuaivideo: 169, Book: 106 },
    DNR: { 'ML-1M': 66, Kuaivideo: 192, Book: 111 },
  };

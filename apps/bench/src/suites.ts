/**
 * The paper's tables as suites, and the profiles that size them. A suite is a list of rows; a
 * row is one method (a backbone plus how it is trained) run once per seed through `dnr-bench
 * train`. Every suite also carries the reference rows (the retriever's order, and the oracle
 * where the dataset knows the truth) computed directly on the dataset. Some suites depend on the
 * profile's sizes (the deeper PRM of `larger`, the grids of `sensitivity`, the epochs of `time`)
 * and some attach extra tables and plots (`extras`, built in `suite-extras.ts`).
 */
import { methodConfig } from '@dnr/objectives';
import { z } from 'zod';

/** One row of a suite: the `dnr-bench train` settings that define the method. */
export interface SuiteRow {
  /** Row label in reports, e.g. `PRM + c score`. */
  readonly label: string;
  /**
   * Method column of `<suite>.json`. Rows are aggregated by (method, backbone), so it must be
   * unique per backbone within a suite (sweep rows carry their value, e.g. `dnr-g alpha=0.2`).
   */
  readonly method: string;
  /** Backbone column of `<suite>.json`. */
  readonly backbone: string;
  /** `dnr-bench train` settings of this row (merged over the profile's). */
  readonly train: Readonly<Record<string, unknown>>;
  /**
   * Run-id stem in place of the method (without spaces): rows whose settings differ from the
   * method's plain row (sweeps, the larger PRM, the timed runs) need their own runs, e.g.
   * `dnr-g-alpha0.2` gives `<dataset>-prm-dnr-g-alpha0.2-<profile>-s<seed>`. Rows that train
   * exactly the settings of another suite's row use its stem and share its runs.
   */
  readonly runKey?: string;
  /** The sweep point of a `sensitivity` row. */
  readonly sweep?: SweepPoint;
  /** Only on the synthetic lab (the row needs its true noise model); dropped for file datasets. */
  readonly labOnly?: boolean;
}

/** Hyperparameters the `sensitivity` suite sweeps (Figure 3). */
export const SWEEP_PARAMS = ['alpha', 'lambda', 'tau'] as const;
export type SweepParam = (typeof SWEEP_PARAMS)[number];

/** DNR methods a sweep can run (those with a learned generator, so that τ matters). */
export const SWEEP_METHODS = ['dnr-g', 'dnr-b', 'dnr-bl'] as const;
export type SweepMethod = (typeof SWEEP_METHODS)[number];

/**
 * `sensitivity` grids in place of a profile's (a run file's `sweep`, recorded in the suite file),
 * e.g. `{ "methods": ["dnr-g"], "alpha": [0.2, 0.4], "lambda": [], "tau": [0, 3] }`; a list left
 * out keeps the profile's, an empty one sweeps nothing.
 */
export const sweepGridsSchema = z
  .object({
    methods: z.array(z.enum(SWEEP_METHODS)).min(1),
    alpha: z.array(z.number().gt(0).lt(1)),
    lambda: z.array(z.number().min(0).max(100)),
    tau: z.array(z.int().min(0).max(100_000)),
  })
  .partial()
  .strict();
export type SweepGrids = z.infer<typeof sweepGridsSchema>;

export interface SweepPoint {
  readonly param: SweepParam;
  readonly value: number;
  readonly method: SweepMethod;
}

/** The grids of the `sensitivity` suite. */
export interface SweepGrid {
  readonly methods: readonly SweepMethod[];
  readonly alpha: readonly number[];
  readonly lambda: readonly number[];
  readonly tau: readonly number[];
}

/** Profile-dependent sizes of the suites that need them. */
export interface SuiteSizes {
  /** `larger` (Table 10): Transformer blocks of the larger PRM. */
  readonly largerBlocks: number;
  /** `time` (Table 12): epochs every timed run trains (no early stopping). */
  readonly timeEpochs: number;
  /** `sensitivity` (Figure 3): methods and swept values. */
  readonly sweep: SweepGrid;
}

/** Extra content a suite attaches to its report (see `suite-extras.ts`). */
export type SuiteExtras = 'retriever' | 'time' | 'sensitivity' | 'noise';

export interface SuiteDefinition {
  readonly name: string;
  /** What the suite reproduces, e.g. `Table 2`. */
  readonly paper: string;
  readonly title: string;
  /** The rows, or a function of the profile's sizes for suites that scale with it. */
  readonly rows: readonly SuiteRow[] | ((sizes: SuiteSizes) => readonly SuiteRow[]);
  /** Tables and plots built after the runs (none for the plain metric tables). */
  readonly extras?: SuiteExtras;
  /** Train one run at a time, whatever `--jobs` says (runs must not compete for the cores). */
  readonly sequential?: boolean;
  /** Settings of the rows that `overrides` may still change (others are refused). */
  readonly overridable?: readonly string[];
}

/** Report labels of the DNR methods. */
export const METHOD_LABELS: Readonly<Record<string, string>> = {
  'dnr-g': 'DNR-G',
  'dnr-b': 'DNR-B',
  'dnr-bl': 'DNR-BL',
  'w-g': 'w/ G',
  'w-b': 'w/ B',
};

const SCORE_USAGES = [
  ['none', ''],
  ['concat', ' + c score'],
  ['add', ' + + score'],
  ['weight', ' + w score'],
] as const;

function backboneRows(backbone: 'prm' | 'pier', label: string): SuiteRow[] {
  return SCORE_USAGES.map(([usage, suffix]) => ({
    label: `${label}${suffix}`,
    method: usage === 'none' ? 'plain' : `${usage} score`,
    backbone,
    train: { method: backbone, scoreUsage: usage },
  }));
}

/** A DNR method (`@dnr/objectives` name) on a backbone. */
function dnrRow(label: string, method: string, backbone: 'prm' | 'pier' = 'prm'): SuiteRow {
  return { label, method, backbone, train: { method, backbone } };
}

const PRM_ROW = backboneRows('prm', 'PRM')[0]!;

/** `patience` of the timed runs: larger than any epoch count, so they never stop early. */
export const NO_EARLY_STOP = 100_000;

/** Table 10: PRM and DNR-G as in `main` (same runs), then both on a PRM with more blocks. */
function largerRows(sizes: SuiteSizes): SuiteRow[] {
  const blocks = sizes.largerBlocks;
  return [
    PRM_ROW,
    dnrRow('DNR-G', 'dnr-g'),
    {
      label: 'larger PRM',
      method: 'larger plain',
      backbone: 'prm',
      train: { ...PRM_ROW.train, blocks },
      runKey: `plain-blocks${blocks}`,
    },
    {
      label: 'larger PRM + DNR',
      method: 'larger dnr-g',
      backbone: 'prm',
      train: { method: 'dnr-g', backbone: 'prm', blocks },
      runKey: `dnr-g-blocks${blocks}`,
    },
  ];
}

/**
 * Table 12: every method trains exactly `timeEpochs` epochs (no early stopping); the DNR rows
 * use τ = 1 so that every epoch after the first runs the learned generator's steps too.
 */
function timeRows(sizes: SuiteSizes): SuiteRow[] {
  const fixed = { epochs: sizes.timeEpochs, patience: NO_EARLY_STOP };
  const plain = (label: string, backbone: 'prm' | 'pier', usage: 'none' | 'concat'): SuiteRow => {
    const method = usage === 'none' ? 'plain' : `${usage} score`;
    return {
      label,
      method,
      backbone,
      train: { method: backbone, scoreUsage: usage, ...fixed },
      runKey: `${method.replace(/ /g, '')}-time`,
    };
  };
  const dnr = (method: 'dnr-g' | 'dnr-b'): SuiteRow => ({
    label: METHOD_LABELS[method]!,
    method,
    backbone: 'prm',
    train: { method, backbone: 'prm', ...fixed, tau: 1 },
    runKey: `${method}-time`,
  });
  return [
    plain('PRM', 'prm', 'none'),
    plain('w/ score', 'prm', 'concat'),
    plain('Pier', 'pier', 'none'),
    dnr('dnr-g'),
    dnr('dnr-b'),
  ];
}

/**
 * Figure 3: one row per (method, hyperparameter, value), the other hyperparameters at the
 * method's defaults. A value equal to the default trains the method's plain row (run id shared
 * with `main`), so the three curves of a method meet at one set of runs.
 */
function sensitivityRows(sizes: SuiteSizes): SuiteRow[] {
  const rows: SuiteRow[] = [];
  for (const method of sizes.sweep.methods) {
    const defaults = methodConfig(method);
    for (const param of SWEEP_PARAMS) {
      for (const value of [...new Set(sizes.sweep[param])]) {
        const isDefault = defaults[param] === value;
        rows.push({
          label: `${METHOD_LABELS[method]!} · ${param} = ${value}`,
          method: `${method} ${param}=${value}`,
          backbone: 'prm',
          train: isDefault
            ? { method, backbone: 'prm' }
            : { method, backbone: 'prm', [param]: value },
          runKey: isDefault ? method : `${method}-${param}${value}`,
          sweep: { param, value, method },
        });
      }
    }
  }
  return rows;
}

/**
 * The lab's reference rows of protocol 0b.7 (besides the oracle and the retriever order, which
 * every suite computes): a PRM that never sees the retriever (what the content alone is worth),
 * PRM + c score trained on honestly scored lists (no train/test shift of the retriever's noise:
 * what DNR tries to make up for), and PRM + c score with the ideal augmentation (synthetic copies of
 * the training lists drawn from the true noise model: the best any score augmentation can do).
 */
const LAB_REFERENCE_ROWS: readonly SuiteRow[] = [
  {
    label: 'PRM, content only (no retriever input)',
    method: 'content only',
    backbone: 'prm',
    train: { method: 'prm', scoreUsage: 'none', rankEmbedding: false },
    runKey: 'contentonly',
    labOnly: true,
  },
  {
    label: 'PRM + c score, honest training scores',
    method: 'honest scores',
    backbone: 'prm',
    train: { method: 'prm', scoreUsage: 'concat', honestScores: true },
    runKey: 'concatscore-honest',
    labOnly: true,
  },
  {
    label: 'PRM + c score, ideal augmentation',
    method: 'ideal augmentation',
    backbone: 'prm',
    train: { method: 'prm', scoreUsage: 'concat', idealAugmentation: 1 },
    runKey: 'concatscore-ideal',
    labOnly: true,
  },
];

/** The suites that exist today; more rows join as baselines land. */
export const SUITES: Readonly<Record<string, SuiteDefinition>> = {
  main: {
    name: 'main',
    paper: 'Table 1',
    title: 'Main comparison',
    rows: [
      ...LAB_REFERENCE_ROWS,
      ...backboneRows('prm', 'PRM'),
      dnrRow('w/ G', 'w-g'),
      dnrRow('w/ B', 'w-b'),
      dnrRow('DNR-G', 'dnr-g'),
      dnrRow('DNR-B', 'dnr-b'),
    ],
  },
  scores: {
    name: 'scores',
    paper: 'Table 2',
    title: 'Ways of feeding retriever scores to PRM and Pier',
    rows: [
      ...backboneRows('prm', 'PRM'),
      dnrRow('PRM + DNR', 'dnr-b'),
      ...backboneRows('pier', 'Pier'),
      dnrRow('Pier + DNR', 'dnr-b', 'pier'),
    ],
  },
  ablation: {
    name: 'ablation',
    paper: 'Table 3',
    title: 'Noise generators and learning objectives',
    rows: [
      PRM_ROW,
      dnrRow('w/ G', 'w-g'),
      dnrRow('w/ B', 'w-b'),
      dnrRow('G w/o L_adv', 'g-wo-adv'),
      dnrRow('G w/o L_x', 'g-wo-x'),
      dnrRow('DNR-G', 'dnr-g'),
      dnrRow('B w/o L_adv', 'b-wo-adv'),
      dnrRow('B w/o L_x', 'b-wo-x'),
      dnrRow('DNR-B', 'dnr-b'),
    ],
  },
  beta: {
    name: 'beta',
    paper: 'Table 9',
    title: 'Beta warm-up noise: U-shaped Beta(0.5, 0.5) vs Beta(2, 5)',
    rows: [PRM_ROW, dnrRow('DNR-B', 'dnr-b'), dnrRow('DNR-BL', 'dnr-bl')],
  },
  retriever: {
    name: 'retriever',
    paper: 'Table 8',
    title: "Retriever quality (AUC and N@6 of the retriever's scores on the candidate lists)",
    rows: [],
    extras: 'retriever',
  },
  larger: {
    name: 'larger',
    paper: 'Table 10',
    title: 'A larger PRM (more Transformer blocks) with and without DNR',
    rows: largerRows,
  },
  time: {
    name: 'time',
    paper: 'Table 12',
    title: 'Training time per epoch',
    rows: timeRows,
    extras: 'time',
    sequential: true,
    overridable: ['epochs'],
  },
  sensitivity: {
    name: 'sensitivity',
    paper: 'Figure 3',
    title: 'Sensitivity to the noise proportion alpha, the L_z weight lambda and the warm-up tau',
    rows: sensitivityRows,
    extras: 'sensitivity',
  },
  noise: {
    name: 'noise',
    paper: 'Figure 5',
    title: 'Densities of learned, Gaussian, Beta and observed noise',
    rows: [dnrRow('DNR-G', 'dnr-g'), dnrRow('DNR-B', 'dnr-b'), dnrRow('DNR-BL', 'dnr-bl')],
    extras: 'noise',
  },
};
export const SUITE_NAMES = Object.keys(SUITES) as [string, ...string[]];

/**
 * The rows of a suite at the given sizes.
 * @throws Error when two rows share a label or a (method, backbone) pair (a definition bug).
 */
export function suiteRows(suite: SuiteDefinition, sizes: SuiteSizes): readonly SuiteRow[] {
  const rows = typeof suite.rows === 'function' ? suite.rows(sizes) : suite.rows;
  const labels = new Set<string>();
  const methods = new Set<string>();
  for (const row of rows) {
    const method = `${row.method} (${row.backbone})`;
    if (labels.has(row.label) || methods.has(method)) {
      throw new Error(
        `suite '${suite.name}' has two rows labelled '${row.label}' or with method ${method}`,
      );
    }
    labels.add(row.label);
    methods.add(method);
  }
  return rows;
}

/** Dataset and model sizes. */
export interface Profile {
  readonly name: string;
  /** `lab` (embedded synthetic dataset) or `file` (needs --format and --input). */
  readonly data: 'lab' | 'file';
  /** `dnr-bench train` settings shared by every row. */
  readonly train: Readonly<Record<string, unknown>>;
  readonly description: string;
  /** Sizes of the `larger`, `time` and `sensitivity` suites. */
  readonly sizes: SuiteSizes;
}

export const PROFILES: Readonly<Record<string, Profile>> = {
  quick: {
    name: 'quick',
    data: 'lab',
    description:
      'the embedded synthetic lab dataset and a small PRM (d = 32, 1 block, mean-pooled history), up to 6 epochs',
    train: {
      dim: 32,
      blocks: 1,
      heads: 2,
      ffnDim: 64,
      userEncoder: 'mean',
      dropout: 0.1,
      epochs: 6,
      patience: 3,
      batchSize: 128,
      lr: 0.003,
    },
    sizes: {
      largerBlocks: 3,
      timeEpochs: 3,
      sweep: {
        methods: ['dnr-g'],
        alpha: [0.2, 0.4, 0.6],
        lambda: [0.2, 0.4, 0.8],
        tau: [0, 3, 5],
      },
    },
  },
  standard: {
    name: 'standard',
    data: 'file',
    description:
      'a real dataset from --input with reduced width and epochs: d = 64, 1 block, mean-pooled history, ' +
      'dropout 0.3 and weight decay 0.001 (Table 7), up to 20 epochs with patience 3',
    train: {
      dim: 64,
      blocks: 1,
      heads: 4,
      ffnDim: 128,
      userEncoder: 'mean',
      dropout: 0.3,
      weightDecay: 0.001,
      epochs: 20,
      patience: 3,
      batchSize: 256,
    },
    sizes: {
      largerBlocks: 3,
      timeEpochs: 3,
      sweep: {
        methods: ['dnr-g', 'dnr-b'],
        alpha: [0.2, 0.4, 0.6],
        lambda: [0.2, 0.4, 0.8],
        tau: [0, 3, 6],
      },
    },
  },
  paper: {
    name: 'paper',
    data: 'file',
    description:
      "the paper's sizes (Table 7): d = 128, 2 blocks, Transformer history encoder, dropout 0.3, weight decay " +
      '0.001, batch 2048, up to 100 epochs with patience 10 (meant for a GPU)',
    train: {
      dim: 128,
      blocks: 2,
      heads: 4,
      ffnDim: 256,
      userEncoder: 'transformer',
      dropout: 0.3,
      weightDecay: 0.001,
      epochs: 100,
      patience: 10,
      batchSize: 2048,
    },
    sizes: {
      largerBlocks: 6,
      timeEpochs: 3,
      sweep: {
        methods: ['dnr-g', 'dnr-b'],
        alpha: [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9],
        lambda: [0.2, 0.4, 0.6, 0.8, 1],
        tau: [0, 3, 20, 40, 60, 80],
      },
    },
  },
};
export const PROFILE_NAMES = Object.keys(PROFILES) as [string, ...string[]];

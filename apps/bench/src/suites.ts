/**
 * The paper's tables as suites, and the profiles that size them. A suite is a list of rows; a
 * row is one method (a backbone plus how it is trained) run once per seed through `dnr-bench
 * train`. Every suite also carries the reference rows (the retriever's order, and the oracle
 * where the dataset knows the truth) computed directly on the dataset.
 */

/** One row of a suite: the `dnr-bench train` settings that define the method. */
export interface SuiteRow {
  /** Row label in reports, e.g. `PRM + c score`. */
  readonly label: string;
  /** Method column of `<suite>.json`. */
  readonly method: string;
  /** Backbone column of `<suite>.json`. */
  readonly backbone: string;
  /** `dnr-bench train` settings of this row (merged over the profile's). */
  readonly train: Readonly<Record<string, unknown>>;
}

export interface SuiteDefinition {
  readonly name: string;
  /** What the suite reproduces, e.g. `Table 2`. */
  readonly paper: string;
  readonly title: string;
  readonly rows: readonly SuiteRow[];
}

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

/** The suites that exist today; more rows join as baselines land. */
export const SUITES: Readonly<Record<string, SuiteDefinition>> = {
  main: {
    name: 'main',
    paper: 'Table 1',
    title: 'Main comparison',
    rows: [
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
};
export const SUITE_NAMES = Object.keys(SUITES) as [string, ...string[]];

/** Dataset and model sizes. */
export interface Profile {
  readonly name: string;
  /** `lab` (embedded synthetic dataset) or `file` (needs --format and --input). */
  readonly data: 'lab' | 'file';
  /** `dnr-bench train` settings shared by every row. */
  readonly train: Readonly<Record<string, unknown>>;
  readonly description: string;
}

export const PROFILES: Readonly<Record<string, Profile>> = {
  quick: {
    name: 'quick',
    data: 'lab',
    description:
      'the embedded synthetic lab dataset and a small PRM (d = 32, 1 block, mean-pooled history), up to 8 epochs',
    train: {
      dim: 32,
      blocks: 1,
      heads: 2,
      ffnDim: 64,
      userEncoder: 'mean',
      dropout: 0.1,
      epochs: 8,
      patience: 3,
      batchSize: 128,
      lr: 0.003,
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
  },
};
export const PROFILE_NAMES = Object.keys(PROFILES) as [string, ...string[]];

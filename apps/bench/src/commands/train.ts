import { type Command, Option } from 'commander';
import { HEURISTIC_NOISE_NAMES, SCORE_DIVERGENCE_KINDS } from '@dnr/objectives';
import { BACKEND_CHOICES } from '../backend';
import { addProtocolOptions } from '../data-options';
import { flagsOf, parseIntFlag, parseNumberFlag } from '../options';
import { resolveSettings } from '../settings';
import { TRAIN_BACKBONES, TRAIN_METHODS, formatTrainReport, runTrain, trainSchema } from '../train';

/** Registers `dnr-bench train`. */
export function registerTrainCommand(program: Command): void {
  const train = program
    .command('train')
    .description(
      'Train one reranker, plain (--method prm|pier) or with a DNR method on --backbone, with early stopping on validation NDCG@6; writes <out>/<run-id>/{config.json, log.jsonl, checkpoint.bin, best.dnrr, metrics.json}. Rerunning resumes an interrupted run and skips a finished one.',
    )
    .addOption(
      new Option(
        '--method <name>',
        'prm | pier (plain BCE) or a DNR method (dnr-g, dnr-b, dnr-bl, w-g, w-b, g-wo-adv, g-wo-x, b-wo-adv, b-wo-x)',
      ).choices(TRAIN_METHODS),
    )
    .addOption(
      new Option('--backbone <name>', 'backbone of a DNR method (default prm)').choices(
        TRAIN_BACKBONES,
      ),
    )
    .addOption(
      new Option(
        '--score-usage <mode>',
        'how the retriever score enters the model (default none; DNR methods: concat)',
      ).choices(['none', 'concat', 'add', 'weight']),
    )
    .option('--dataset <name>', "'lab' (default) or <format>:<file>")
    .option('--lab-seed <n>', 'seed of the synthetic lab dataset (default 2026)', parseIntFlag);
  addProtocolOptions(train, { lists: true, prefix: 'data: ' })
    .option('--retriever-dim <d>', 'data: MF embedding size (default 128)', parseIntFlag)
    .option('--negatives <n>', 'data: MF negatives per positive (default 4)', parseIntFlag)
    .option('--retriever-epochs <n>', 'data: maximum MF epochs (default 100)', parseIntFlag)
    .option(
      '--retriever-patience <n>',
      'data: MF early-stopping patience (default 3)',
      parseIntFlag,
    )
    .option('--data-seed <n>', 'data: seed of retrievers and negatives (default 1)', parseIntFlag)
    .option('--cache-dir <dir>', 'where prepared datasets are cached (default .dnr-cache)')
    .option('--dim <d>', 'model width (default: the model default, 128 for PRM)', parseIntFlag)
    .option('--blocks <n>', 'Transformer blocks (PRM default 2)', parseIntFlag)
    .option('--heads <n>', 'attention heads (PRM default 4)', parseIntFlag)
    .option('--ffn-dim <n>', 'feed-forward width (PRM default 256)', parseIntFlag)
    .option('--dropout <p>', 'dropout rate (PRM default 0.1)', parseNumberFlag)
    .addOption(
      new Option('--user-encoder <kind>', 'history encoder (model default: transformer)').choices([
        'transformer',
        'mean',
      ]),
    )
    .option('--no-side-features', "ignore the dataset's item/user side features")
    .option('--no-use-ids', 'no item-id embeddings (with side features: a content-only reranker)')
    .option(
      '--no-rank-embedding',
      'PRM: no embedding of the retriever rank (with --score-usage none the model never sees the retriever)',
    )
    .option(
      '--honest-scores',
      'lab only: training lists scored with the test-time retriever noise (no train/test shift)',
    )
    .option(
      '--ideal-augmentation <copies>',
      'lab only: add copies of the training lists with scores redrawn from the true noise model',
      parseIntFlag,
    )
    .option('--epochs <n>', 'maximum epochs (default 100)', parseIntFlag)
    .option('--batch-size <n>', 'training lists per batch (default 256)', parseIntFlag)
    .option('--eval-batch-size <n>', 'lists per evaluation batch (default 512)', parseIntFlag)
    .option('--lr <x>', 'Adam learning rate (default 0.001)', parseNumberFlag)
    .option(
      '--weight-decay <x>',
      'decoupled (AdamW-style) weight decay (default 0)',
      parseNumberFlag,
    )
    .option('--patience <n>', 'early-stopping patience in epochs (default 5)', parseIntFlag)
    .option(
      '--patience-start <n>',
      'first epoch counted by patience (default 1; DNR with a learned generator: tau + 1)',
      parseIntFlag,
    )
    .option('--alpha <x>', 'DNR: noise proportion of Eq. 4 (default 0.4)', parseNumberFlag)
    .option('--lambda <x>', 'DNR: weight of L_z in Eq. 6 (default 0.4)', parseNumberFlag)
    .option('--tau <n>', 'DNR: warm-up epochs with heuristic noise (default 3)', parseIntFlag)
    .option('--beta-adv <x>', 'DNR: weight of L_adv (default 1)', parseNumberFlag)
    .option('--beta-x <x>', 'DNR: weight of L_x (default 1)', parseNumberFlag)
    .addOption(
      new Option('--divergence <kind>', 'DNR: L_x estimator (default softmaxKL)').choices(
        SCORE_DIVERGENCE_KINDS,
      ),
    )
    .addOption(
      new Option('--mix <form>', 'DNR: Eq. 4 form (default linear)').choices(['linear', 'sqrt']),
    )
    .addOption(
      new Option('--denoising-form <form>', 'DNR: Eq. 6 form (default additive)').choices([
        'additive',
        'convex',
      ]),
    )
    .addOption(
      new Option('--noise <name>', "DNR: heuristic noise instead of the method's").choices(
        HEURISTIC_NOISE_NAMES,
      ),
    )
    .addOption(
      new Option(
        '--generator-output <activation>',
        "DNR: learned generator's output (default: sigmoid after Beta, identity after Gaussian)",
      ).choices(['sigmoid', 'tanh', 'identity']),
    )
    .option(
      '--max-deviation <x>',
      'DNR: soft bound of an identity generator output (default 3)',
      parseNumberFlag,
    )
    .option(
      '--generator-every <k>',
      'DNR: a generator step every k batches (default 1)',
      parseIntFlag,
    )
    .option(
      '--generator-lr <x>',
      "DNR: generator's Adam learning rate (default --lr)",
      parseNumberFlag,
    )
    .addOption(
      new Option(
        '--generator-step-mode <mode>',
        "DNR: the reranker's mode during the generator step (default train)",
      ).choices(['train', 'eval']),
    )
    .addOption(
      new Option(
        '--augmentation <mode>',
        'DNR: double = every list scored on real and synthetic scores (Algorithm 1, default); replace = part of each batch carries synthetic scores instead, one pass (protocol 0b.4)',
      ).choices(['double', 'replace']),
    )
    .option('--seed <n>', 'seed of model init, dropout and shuffles (default 1)', parseIntFlag)
    .addOption(
      new Option('--backend <name>', 'tfjs backend (default auto)').choices(BACKEND_CHOICES),
    )
    .option('--out <dir>', 'results directory (default results)')
    .option(
      '--run-id <id>',
      'run directory name (default <dataset>-<method>[-<backbone> for DNR]-<score-usage>-s<seed>)',
    )
    .option('--force', 'retrain a finished run from scratch')
    .option('--restart', "discard an interrupted run's checkpoint instead of resuming it")
    .option('--json', 'print the final metrics as one JSON object')
    .option('--config <file>', 'JSON run file with any of these settings (flags override it)')
    .action(async (opts: Record<string, unknown>, cmd: Command) => {
      const settings = await resolveSettings(trainSchema, {
        configPath: opts.config as string | undefined,
        flags: flagsOf(opts, cmd),
      });
      const log = (line: string): void => void process.stderr.write(`${line}\n`);
      const command = `dnr-bench ${process.argv.slice(2).join(' ')}`;
      const report = await runTrain(settings, log, command);
      process.stdout.write(
        settings.json ? `${JSON.stringify(report)}\n` : `${formatTrainReport(report)}\n`,
      );
    });
}

import { resolve } from 'node:path';
import { BASE_MODEL_DIR, pretrain } from '@openledger/model';
import type { Command } from 'commander';

export function registerModelCommands(program: Command): void {
  const model = program.command('model').description('The base model');
  model
    .command('pretrain')
    .description(
      'Train the small base model from the public-domain corpus (see packages/model/assets/base/MODEL_CARD.md)',
    )
    .option('--out <dir>', 'output folder', BASE_MODEL_DIR)
    .option('--minutes <n>', 'wall-clock budget of the training loop', '30')
    .option('--seed <n>', 'seed', '1337')
    .action(async (opts: { out: string; minutes: string; seed: string }) => {
      const result = await pretrain({
        outDir: resolve(opts.out),
        timeBudgetSec: Number(opts.minutes) * 60,
        seed: Number(opts.seed),
        log: (line) => console.log(line),
      });
      console.log(
        `held-out perplexity ${result.metrics.heldOutPerplexity.toFixed(1)} (unigram ${result.metrics.unigramPerplexity.toFixed(1)}), written to ${opts.out}`,
      );
    });
}

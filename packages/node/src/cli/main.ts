import { Command, CommanderError } from 'commander';
import { toUserFacingError } from '../errors.ts';
import { registerCommands } from './commands.ts';

const program = new Command('openledger')
  .description('OpenLedger: datanets, ModelFactory, OpenLoRA, Proof of Attribution and the OPEN economy')
  .option('--home <dir>', 'data directory (default: $OPENLEDGER_HOME or ./.openledger)')
  .option('--verbose', 'print stack traces and debug output')
  .showHelpAfterError('(run with --help for usage)')
  .exitOverride();

registerCommands(program);

try {
  await program.parseAsync(process.argv);
} catch (error) {
  if (error instanceof CommanderError) {
    // commander already printed its message (or help); keep its exit code
    process.exit(error.exitCode);
  }
  const verbose = process.argv.includes('--verbose');
  const e = toUserFacingError(error);
  process.stderr.write(`openledger: ${e.message}${e.field ? ` (field: ${e.field})` : ''}\n`);
  if (verbose && error instanceof Error && error.stack) process.stderr.write(`${error.stack}\n`);
  process.exit(1);
}

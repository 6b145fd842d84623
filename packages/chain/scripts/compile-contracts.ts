// Compiles contracts/src into packages/chain/artifacts and src/abi.gen.ts (skipped when unchanged).
// Run by `npm install` (postinstall of @openledger/chain); `--force` recompiles regardless.
// With `--postinstall` a compile error is reported but does not fail `npm install` (so a colleague's
// half-written contract never blocks installing packages), except under CI, where it must fail.
import { compileContracts } from '../src/compile.ts';
import { ChainError } from '../src/errors.ts';

const force = process.argv.includes('--force');
const postinstall = process.argv.includes('--postinstall');
try {
  const started = Date.now();
  const result = compileContracts({ force, log: (line) => console.log(`[chain] ${line}`) });
  if (!result.compiled) console.log(`[chain] contracts unchanged (${result.contracts.length} artifacts)`);
  else console.log(`[chain] compiled in ${((Date.now() - started) / 1000).toFixed(1)} s`);
} catch (error) {
  const message = error instanceof ChainError ? error.message : String(error);
  console.error(`[chain] contract compilation failed: ${message}`);
  if (error instanceof ChainError && error.cause instanceof Error) console.error(error.cause.message);
  process.exit(postinstall && !process.env.CI ? 0 : 1);
}

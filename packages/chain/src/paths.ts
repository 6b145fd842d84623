import { isAbsolute, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/** `packages/chain/` — this package's own folder. */
export const packageDir = fileURLToPath(new URL('..', import.meta.url));

/** The repository root (two levels above this package). */
export const repoDir = resolve(packageDir, '../..');

/** Solidity sources compiled into artifacts. */
export const contractsSourceDir = resolve(repoDir, 'contracts/src');

/** Compiled artifacts (`<Name>.json`), git-ignored build output. */
export const artifactsDir = resolve(packageDir, 'artifacts');

/** Generated typed ABIs (`export const openTokenAbi = [...] as const`), git-ignored build output. */
export const abiModulePath = resolve(packageDir, 'src/abi.gen.ts');

/** `$OPENLEDGER_HOME`, default `./.openledger` (relative to the working directory). */
export function resolveHome(home?: string, env: NodeJS.ProcessEnv = process.env): string {
  const chosen = home ?? env.OPENLEDGER_HOME ?? '.openledger';
  return isAbsolute(chosen) ? chosen : resolve(process.cwd(), chosen);
}

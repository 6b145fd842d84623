import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { type Artifact, compileContracts } from './compile.ts';
import { ChainError } from './errors.ts';
import { artifactsDir } from './paths.ts';

const loaded = new Map<string, Artifact>();
let ensured = false;

/**
 * Makes sure `packages/chain/artifacts` matches `contracts/src`: compiles on first use when the
 * artifacts are missing or the sources changed since they were built (a hash check, cheap when clean).
 */
export function ensureArtifacts(options: { log?: (line: string) => void } = {}): void {
  if (ensured) return;
  const result = compileContracts({ log: options.log });
  if (result.compiled) loaded.clear();
  ensured = true;
}

/** The compiled artifact (abi + bytecode) of a contract, compiling first if needed. */
export function loadArtifact(contractName: string): Artifact {
  const cached = loaded.get(contractName);
  if (cached) return cached;
  ensureArtifacts();
  const path = join(artifactsDir, `${contractName}.json`);
  if (!existsSync(path)) {
    throw new ChainError(
      'ARTIFACT_MISSING',
      `no compiled artifact for ${contractName} (is it defined in contracts/src?)`,
    );
  }
  const artifact = JSON.parse(readFileSync(path, 'utf8')) as Artifact;
  if (artifact.bytecode === '0x') {
    throw new ChainError(
      'ARTIFACT_MISSING',
      `${contractName} is abstract or an interface: it has no bytecode`,
    );
  }
  loaded.set(contractName, artifact);
  return artifact;
}

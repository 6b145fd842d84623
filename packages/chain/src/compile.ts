import { createHash } from 'node:crypto';
import {
  closeSync,
  existsSync,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  writeFileSync,
  writeSync,
} from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, relative, resolve, sep } from 'node:path';
import type { Abi, Hex } from 'viem';
import { ChainError } from './errors.ts';
import { abiModulePath, artifactsDir, contractsSourceDir, repoDir } from './paths.ts';

/** A compiled contract as written to `artifacts/<Name>.json`. */
export interface Artifact {
  contractName: string;
  sourceName: string;
  abi: Abi;
  bytecode: Hex;
  deployedBytecode: Hex;
  compiler: { version: string; viaIR: boolean; evmVersion: string; optimizerRuns: number };
}

export interface CompileContractsOptions {
  /** Folder of `.sol` files (searched recursively). Default: `contracts/src`. */
  sourcesDir?: string;
  /** Output folder for `<Name>.json`. Default: `packages/chain/artifacts`. */
  outDir?: string;
  /** Generated TypeScript module with `as const` ABIs; `null` to skip. Default: `src/abi.gen.ts`. */
  abiModule?: string | null;
  /**
   * Library contracts compiled alongside the sources, as `<import path>:<ContractName>`.
   * Default: OpenZeppelin's TimelockController, which the protocol deploys as is.
   */
  libraryContracts?: string[];
  /** Recompile even when the source hash is unchanged. */
  force?: boolean;
  /** Progress lines (default: silent). */
  log?: (line: string) => void;
}

export interface CompileContractsResult {
  /** False when the hash cache matched and nothing was compiled. */
  compiled: boolean;
  contracts: string[];
  viaIR: boolean;
  sourceHash: string;
  outDir: string;
}

export const SOLC_SETTINGS = {
  evmVersion: 'cancun',
  optimizerRuns: 200,
} as const;

export const DEFAULT_LIBRARY_CONTRACTS = [
  '@openzeppelin/contracts/governance/TimelockController.sol:TimelockController',
];

/** Bump when the artifact or generated-module format changes, so caches are invalidated. */
const FORMAT_VERSION = 1;
const CACHE_FILE = '.cache.json';

interface SolcError {
  severity: 'error' | 'warning' | 'info';
  type: string;
  message: string;
  formattedMessage?: string;
  sourceLocation?: { file: string; start: number; end: number };
}

interface SolcOutput {
  errors?: SolcError[];
  contracts?: Record<
    string,
    Record<string, { abi: Abi; evm: { bytecode: { object: string }; deployedBytecode: { object: string } } }>
  >;
}

interface Solc {
  version(): string;
  compile(
    input: string,
    callbacks: { import: (path: string) => { contents: string } | { error: string } },
  ): string;
}

const require = createRequire(import.meta.url);
let solcInstance: Solc | undefined;

function loadSolc(): Solc {
  solcInstance ??= require('solc') as Solc;
  return solcInstance;
}

function solcVersion(): string {
  // Read from package.json: loading the solc-js wasm just to learn its version costs ~1 s.
  const pkg = JSON.parse(readFileSync(require.resolve('solc/package.json'), 'utf8')) as { version: string };
  return pkg.version;
}

function listSolidityFiles(dir: string): string[] {
  if (!existsSync(dir)) return [];
  const out: string[] = [];
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) out.push(...listSolidityFiles(path));
    else if (entry.isFile() && entry.name.endsWith('.sol')) out.push(path);
  }
  return out.sort();
}

/** Resolves `@scope/pkg/path/File.sol` (or `pkg/path/File.sol`) from node_modules. */
function resolvePackageImport(importPath: string): string | undefined {
  const parts = importPath.split('/');
  const pkgName = importPath.startsWith('@') ? parts.slice(0, 2).join('/') : parts[0];
  const rest = parts.slice(importPath.startsWith('@') ? 2 : 1).join('/');
  try {
    const pkgJson = require.resolve(`${pkgName}/package.json`, { paths: [repoDir] });
    return join(dirname(pkgJson), rest);
  } catch {
    return undefined;
  }
}

function packageVersion(name: string): string {
  try {
    const pkgJson = require.resolve(`${name}/package.json`, { paths: [repoDir] });
    return (JSON.parse(readFileSync(pkgJson, 'utf8')) as { version: string }).version;
  } catch {
    return 'missing';
  }
}

function computeSourceHash(sourcesDir: string, files: string[], libraryContracts: string[]): string {
  const hash = createHash('sha256');
  hash.update(
    JSON.stringify({
      format: FORMAT_VERSION,
      solc: solcVersion(),
      oz: packageVersion('@openzeppelin/contracts'),
      settings: SOLC_SETTINGS,
      libraryContracts,
    }),
  );
  for (const file of files) {
    hash.update(relative(sourcesDir, file).split(sep).join('/'));
    hash.update('\0');
    hash.update(readFileSync(file));
    hash.update('\0');
  }
  return hash.digest('hex');
}

function readCache(outDir: string): { sourceHash: string; contracts: string[]; viaIR: boolean } | undefined {
  try {
    return JSON.parse(readFileSync(join(outDir, CACHE_FILE), 'utf8'));
  } catch {
    return undefined;
  }
}

function firstLine(text: string): string {
  return text.split('\n')[0] ?? text;
}

function runSolc(
  sources: Record<string, { content: string }>,
  selection: Record<string, string[]>,
  baseDir: string,
  viaIR: boolean,
): { output: SolcOutput; errors: SolcError[] } {
  const outputSelection: Record<string, Record<string, string[]>> = {};
  for (const [file, contracts] of Object.entries(selection)) {
    outputSelection[file] = {};
    for (const name of contracts)
      outputSelection[file][name] = ['abi', 'evm.bytecode.object', 'evm.deployedBytecode.object'];
  }
  const input = {
    language: 'Solidity',
    sources,
    settings: {
      evmVersion: SOLC_SETTINGS.evmVersion,
      optimizer: { enabled: true, runs: SOLC_SETTINGS.optimizerRuns },
      viaIR,
      outputSelection,
    },
  };
  const findImports = (path: string): { contents: string } | { error: string } => {
    const candidates = [resolve(baseDir, path), resolvePackageImport(path)].filter(
      (p): p is string => p !== undefined,
    );
    for (const candidate of candidates) {
      if (existsSync(candidate)) return { contents: readFileSync(candidate, 'utf8') };
    }
    return { error: `import not found: ${path}` };
  };
  const output = JSON.parse(loadSolc().compile(JSON.stringify(input), { import: findImports })) as SolcOutput;
  const errors = (output.errors ?? []).filter((e) => e.severity === 'error');
  return { output, errors };
}

function shortPath(path: string): string {
  const rel = relative(repoDir, path);
  return rel && !rel.startsWith('..') ? rel : path;
}

function camelCase(name: string): string {
  return name.charAt(0).toLowerCase() + name.slice(1);
}

function renderAbiModule(artifacts: Artifact[]): string {
  const lines = [
    '// Generated by packages/chain/src/compile.ts from contracts/src — do not edit.',
    '// Regenerated by `npm install` (postinstall) and `npx tsx packages/chain/scripts/compile-contracts.ts`.',
    '',
  ];
  for (const artifact of artifacts) {
    lines.push(
      `export const ${camelCase(artifact.contractName)}Abi = ${JSON.stringify(artifact.abi, null, 2)} as const;`,
    );
    lines.push('');
  }
  lines.push(
    `export const contractNames = ${JSON.stringify(artifacts.map((a) => a.contractName))} as const;`,
  );
  lines.push('');
  return lines.join('\n');
}

function writeFileAtomic(path: string, content: string): void {
  mkdirSync(dirname(path), { recursive: true });
  const tmp = `${path}.${process.pid}.tmp`;
  writeFileSync(tmp, content);
  renameSync(tmp, path);
}

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Runs `fn` holding `<outDir>/.lock` (a file with the holder's pid), so parallel test processes
 * that all find stale artifacts compile once instead of each burning a minute of CPU. A lock left
 * by a dead process is taken over.
 */
function withCompileLock<T>(outDir: string, fn: () => T): T {
  mkdirSync(outDir, { recursive: true });
  const lock = join(outDir, '.lock');
  const deadline = Date.now() + 10 * 60_000;
  const sleeper = new Int32Array(new SharedArrayBuffer(4));
  while (true) {
    try {
      const fd = openSync(lock, 'wx');
      writeSync(fd, String(process.pid));
      closeSync(fd);
      break;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      const holder = Number.parseInt(readFileSafe(lock), 10);
      if (Number.isFinite(holder) && !processAlive(holder)) {
        rmSync(lock, { force: true });
        continue;
      }
      if (Date.now() > deadline) {
        throw new ChainError(
          'COMPILE_FAILED',
          `timed out waiting for another compile to finish (lock ${lock})`,
        );
      }
      Atomics.wait(sleeper, 0, 0, 250);
    }
  }
  try {
    return fn();
  } finally {
    rmSync(lock, { force: true });
  }
}

function readFileSafe(path: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return '';
  }
}

/**
 * Compiles every contract in `contracts/src` (plus the OpenZeppelin contracts the protocol deploys
 * unchanged) with solc-js through standard JSON, and writes one `<Name>.json` per contract and the
 * typed ABI module. Skips all work when the source hash matches the last successful compile.
 * Tries the legacy pipeline first and falls back to `viaIR` only on "stack too deep".
 */
export function compileContracts(options: CompileContractsOptions = {}): CompileContractsResult {
  const sourcesDir = options.sourcesDir ?? contractsSourceDir;
  const outDir = options.outDir ?? artifactsDir;
  const abiModule = options.abiModule === undefined ? abiModulePath : options.abiModule;
  const libraryContracts = options.libraryContracts ?? DEFAULT_LIBRARY_CONTRACTS;
  const log = options.log ?? (() => {});

  const files = listSolidityFiles(sourcesDir);
  const sourceHash = computeSourceHash(sourcesDir, files, libraryContracts);
  const upToDate = (): CompileContractsResult | undefined => {
    const cache = readCache(outDir);
    if (
      cache?.sourceHash === sourceHash &&
      cache.contracts.every((name) => existsSync(join(outDir, `${name}.json`))) &&
      (abiModule === null || existsSync(abiModule))
    ) {
      return { compiled: false, contracts: cache.contracts, viaIR: cache.viaIR, sourceHash, outDir };
    }
    return undefined;
  };
  if (!options.force) {
    const cached = upToDate();
    if (cached) return cached;
  }
  return withCompileLock(outDir, () => {
    // Another process may have compiled these very sources while we waited for the lock.
    const cached = options.force ? undefined : upToDate();
    return cached ?? compileNow({ sourcesDir, outDir, abiModule, libraryContracts, files, sourceHash, log });
  });
}

function compileNow(input: {
  sourcesDir: string;
  outDir: string;
  abiModule: string | null;
  libraryContracts: string[];
  files: string[];
  sourceHash: string;
  log: (line: string) => void;
}): CompileContractsResult {
  const { sourcesDir, outDir, abiModule, libraryContracts, files, sourceHash, log } = input;

  // Source unit names are relative to the folder above `src/` (e.g. `src/OpenToken.sol`), so
  // relative imports resolve the same way they do under Foundry.
  const baseDir = dirname(sourcesDir);
  const sources: Record<string, { content: string }> = {};
  const selection: Record<string, string[]> = {};
  for (const file of files) {
    const unit = relative(baseDir, file).split(sep).join('/');
    sources[unit] = { content: readFileSync(file, 'utf8') };
    selection[unit] = ['*'];
  }
  for (const spec of libraryContracts) {
    const [importPath, contractName] = spec.split(':');
    const path = resolvePackageImport(importPath);
    if (!path || !existsSync(path)) {
      throw new ChainError('COMPILE_FAILED', `cannot find library contract ${importPath} in node_modules`);
    }
    sources[importPath] = { content: readFileSync(path, 'utf8') };
    selection[importPath] = [...(selection[importPath] ?? []), contractName];
  }

  log(`compiling ${files.length} source file(s) from ${shortPath(sourcesDir)} with solc ${solcVersion()}`);
  let viaIR = false;
  let { output, errors } = runSolc(sources, selection, baseDir, viaIR);
  if (errors.some((e) => /stack too deep/i.test(e.message))) {
    log('stack too deep in the legacy pipeline; recompiling with viaIR');
    viaIR = true;
    ({ output, errors } = runSolc(sources, selection, baseDir, viaIR));
  }
  if (errors.length > 0) {
    const first = errors[0];
    const where = first.sourceLocation ? `${first.sourceLocation.file}: ` : '';
    const detail = errors.map((e) => e.formattedMessage ?? e.message).join('\n');
    throw new ChainError(
      'COMPILE_FAILED',
      `solc: ${errors.length} error(s); first: ${where}${firstLine(first.message)}`,
      { cause: new Error(detail) },
    );
  }

  const version = loadSolc().version();
  const artifacts: Artifact[] = [];
  const seen = new Map<string, string>();
  for (const [sourceName, contracts] of Object.entries(output.contracts ?? {})) {
    if (!(sourceName in selection)) continue;
    for (const [contractName, compiled] of Object.entries(contracts)) {
      const previous = seen.get(contractName);
      if (previous) {
        throw new ChainError(
          'COMPILE_FAILED',
          `contract name ${contractName} is defined twice (${previous} and ${sourceName}); artifact names must be unique`,
        );
      }
      seen.set(contractName, sourceName);
      artifacts.push({
        contractName,
        sourceName,
        abi: compiled.abi,
        bytecode: `0x${compiled.evm.bytecode.object}`,
        deployedBytecode: `0x${compiled.evm.deployedBytecode.object}`,
        compiler: {
          version,
          viaIR,
          evmVersion: SOLC_SETTINGS.evmVersion,
          optimizerRuns: SOLC_SETTINGS.optimizerRuns,
        },
      });
    }
  }
  artifacts.sort((a, b) => a.contractName.localeCompare(b.contractName));

  // Replace the folder's contents: stale artifacts of deleted contracts must not linger.
  mkdirSync(outDir, { recursive: true });
  const keep = new Set(artifacts.map((a) => `${a.contractName}.json`));
  for (const entry of readdirSync(outDir)) {
    if (entry.endsWith('.json') && !keep.has(entry) && entry !== CACHE_FILE) rmSync(join(outDir, entry));
  }
  for (const artifact of artifacts) {
    writeFileAtomic(join(outDir, `${artifact.contractName}.json`), `${JSON.stringify(artifact, null, 2)}\n`);
  }
  if (abiModule !== null) writeFileAtomic(abiModule, renderAbiModule(artifacts));
  const contracts = artifacts.map((a) => a.contractName);
  writeFileAtomic(join(outDir, CACHE_FILE), `${JSON.stringify({ sourceHash, contracts, viaIR }, null, 2)}\n`);
  log(`wrote ${artifacts.length} artifact(s) to ${shortPath(outDir)}${viaIR ? ' (viaIR)' : ''}`);
  return { compiled: true, contracts, viaIR, sourceHash, outDir };
}

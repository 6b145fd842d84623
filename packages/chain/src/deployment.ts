import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { type Address, getAddress, isAddress } from 'viem';
import {
  type DeployProtocolOptions,
  deployProtocol,
  PROTOCOL_CONTRACTS,
  type ProtocolDeployment,
} from './deploy.ts';
import { ChainError } from './errors.ts';
import { resolveHome } from './paths.ts';
import type { ChainPublicClient } from './transactions.ts';

/** `$OPENLEDGER_HOME/deployments/<chainId>.json`. */
export function deploymentPath(home: string, chainId: number): string {
  return join(resolveHome(home), 'deployments', `${chainId}.json`);
}

function parseDeployment(text: string, path: string): ProtocolDeployment {
  const invalid = (why: string) =>
    new ChainError('DEPLOYMENT_INVALID', `deployment record ${path} is invalid: ${why}`);
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    throw invalid('not JSON');
  }
  const record = raw as Partial<ProtocolDeployment>;
  if (typeof record.chainId !== 'number') throw invalid('chainId must be a number');
  if (typeof record.blockNumber !== 'number') throw invalid('blockNumber must be a number');
  for (const field of ['deployer', 'treasury'] as const) {
    if (typeof record[field] !== 'string' || !isAddress(record[field] as string)) {
      throw invalid(`${field} must be an address`);
    }
  }
  const contracts: Record<string, Address> = {};
  for (const name of PROTOCOL_CONTRACTS) {
    const address = record.contracts?.[name];
    if (typeof address !== 'string' || !isAddress(address))
      throw invalid(`contracts.${name} must be an address`);
    contracts[name] = getAddress(address);
  }
  return {
    chainId: record.chainId,
    deployer: getAddress(record.deployer as string),
    treasury: getAddress(record.treasury as string),
    blockNumber: record.blockNumber,
    contracts: contracts as ProtocolDeployment['contracts'],
  };
}

/** The recorded deployment for `chainId`, or `undefined` when there is none. */
export function readDeployment(home: string, chainId: number): ProtocolDeployment | undefined {
  const path = deploymentPath(home, chainId);
  if (!existsSync(path)) return undefined;
  const record = parseDeployment(readFileSync(path, 'utf8'), path);
  if (record.chainId !== chainId) {
    throw new ChainError(
      'DEPLOYMENT_INVALID',
      `deployment record ${path} is for chain ${record.chainId}, not ${chainId}`,
    );
  }
  return record;
}

/** Writes the record atomically (temp file + rename), so a crash never leaves half a file. */
export function writeDeployment(home: string, deployment: ProtocolDeployment): string {
  const path = deploymentPath(home, deployment.chainId);
  mkdirSync(dirname(path), { recursive: true });
  const tmp = `${path}.${process.pid}.tmp`;
  writeFileSync(tmp, `${JSON.stringify(deployment, null, 2)}\n`);
  renameSync(tmp, path);
  return path;
}

/** Names of the recorded contracts that have no code on the chain (empty = deployment intact). */
export async function missingContracts(
  publicClient: ChainPublicClient,
  deployment: ProtocolDeployment,
): Promise<string[]> {
  const missing: string[] = [];
  for (const name of PROTOCOL_CONTRACTS) {
    const code = await publicClient.getCode({ address: deployment.contracts[name] });
    if (!code || code === '0x') missing.push(name);
  }
  return missing;
}

export interface EnsureDeploymentOptions extends DeployProtocolOptions {
  /** `$OPENLEDGER_HOME`; default from the environment (`./.openledger`). */
  home?: string;
}

export interface EnsureDeploymentResult {
  deployment: ProtocolDeployment;
  /** True when contracts were deployed now, false when the recorded deployment was reused. */
  deployed: boolean;
  path: string;
}

/**
 * Reuses the deployment recorded for this chain when all its contracts still have code (e.g. anvil
 * restarted from its state file); otherwise deploys the protocol and records it.
 */
export async function ensureDeployment(options: EnsureDeploymentOptions): Promise<EnsureDeploymentResult> {
  const home = resolveHome(options.home);
  const log = options.log ?? (() => {});
  const chainId = await options.publicClient.getChainId();
  const path = deploymentPath(home, chainId);
  const recorded = readDeployment(home, chainId);
  if (recorded) {
    const missing = await missingContracts(options.publicClient, recorded);
    if (missing.length === 0) {
      log(`reusing the deployment recorded in ${path}`);
      return { deployment: recorded, deployed: false, path };
    }
    log(`recorded deployment on chain ${chainId} has no code for ${missing.join(', ')}; deploying again`);
  }
  const deployment = await deployProtocol(options);
  writeDeployment(home, deployment);
  log(`deployment recorded in ${path}`);
  return { deployment, deployed: true, path };
}

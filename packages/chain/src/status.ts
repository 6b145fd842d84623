import type { Address } from 'viem';
import { openTokenAbi } from './abi.gen.ts';
import { connectChain } from './clients.ts';
import type { ProtocolAddresses } from './deploy.ts';
import { missingContracts, readDeployment } from './deployment.ts';
import { resolveHome } from './paths.ts';

export interface ChainStatus {
  rpcUrl: string;
  chainId: number;
  blockNumber: number;
  /** Recorded protocol addresses, or null when nothing is recorded for this chain. */
  contracts: ProtocolAddresses | null;
  deployer: Address | null;
  treasury: Address | null;
  /** False when a deployment is recorded but some of its contracts have no code on this chain. */
  deploymentIntact: boolean;
  /** OPEN total supply in wei, as a decimal string (JSON-safe); null when not deployed. */
  openTotalSupply: string | null;
}

export interface ChainStatusOptions {
  rpcUrl: string;
  /** Fail with WRONG_CHAIN unless the endpoint reports this chain id. */
  expectedChainId?: number;
  /** `$OPENLEDGER_HOME` with the deployment records; default from the environment. */
  home?: string;
  probeTimeoutMs?: number;
}

/**
 * What `openledger chain status [--json]` prints: chain id, block number, the recorded protocol
 * addresses and the OPEN total supply. One-line `ChainError`s for an unreachable RPC
 * (`RPC_UNREACHABLE`) or a wrong chain (`WRONG_CHAIN`).
 */
export async function getChainStatus(options: ChainStatusOptions): Promise<ChainStatus> {
  const { publicClient, chainId } = await connectChain({
    rpcUrl: options.rpcUrl,
    expectedChainId: options.expectedChainId,
    probeTimeoutMs: options.probeTimeoutMs,
  });
  const blockNumber = Number(await publicClient.getBlockNumber());
  const deployment = readDeployment(resolveHome(options.home), chainId);
  if (!deployment) {
    return {
      rpcUrl: options.rpcUrl,
      chainId,
      blockNumber,
      contracts: null,
      deployer: null,
      treasury: null,
      deploymentIntact: false,
      openTotalSupply: null,
    };
  }
  const missing = await missingContracts(publicClient, deployment);
  const openTotalSupply = missing.includes('OpenToken')
    ? null
    : (
        await publicClient.readContract({
          address: deployment.contracts.OpenToken,
          abi: openTokenAbi,
          functionName: 'totalSupply',
        })
      ).toString();
  return {
    rpcUrl: options.rpcUrl,
    chainId,
    blockNumber,
    contracts: deployment.contracts,
    deployer: deployment.deployer,
    treasury: deployment.treasury,
    deploymentIntact: missing.length === 0,
    openTotalSupply,
  };
}

import { type Chain, defineChain } from 'viem';
import { openledger } from 'viem/chains';

export const LOCAL_CHAIN_ID = 31337;
export const OPENLEDGER_MAINNET_CHAIN_ID = 1612;
export const OPENLEDGER_TESTNET_CHAIN_ID = 161201;

export type ChainPresetName = 'local' | 'mainnet' | 'testnet';

/** The embedded anvil chain (chain id 31337) at `rpcUrl`. */
export function localChain(rpcUrl: string): Chain {
  return defineChain({
    id: LOCAL_CHAIN_ID,
    name: 'OpenLedger local (anvil)',
    nativeCurrency: { name: 'Ether', symbol: 'ETH', decimals: 18 },
    rpcUrls: { default: { http: [rpcUrl] } },
    testnet: true,
  });
}

/** OpenLedger mainnet (chain id 1612, viem's `openledger`); `rpcUrl` overrides the public endpoint. */
export function openledgerMainnet(rpcUrl?: string): Chain {
  if (!rpcUrl) return openledger;
  return { ...openledger, rpcUrls: { default: { http: [rpcUrl] } } };
}

/**
 * OpenLedger testnet (chain id 161201). viem does not list it, and its public endpoint is not pinned
 * here: pass the RPC URL you use.
 */
export function openledgerTestnet(rpcUrl: string): Chain {
  return defineChain({
    id: OPENLEDGER_TESTNET_CHAIN_ID,
    name: 'OpenLedger Testnet',
    nativeCurrency: { name: 'Open', symbol: 'OPEN', decimals: 18 },
    rpcUrls: { default: { http: [rpcUrl] } },
    testnet: true,
  });
}

/** A chain definition for a preset name, pointed at `rpcUrl` (required for local and testnet). */
export function chainPreset(name: ChainPresetName, rpcUrl?: string): Chain {
  if (name === 'mainnet') return openledgerMainnet(rpcUrl);
  if (!rpcUrl) throw new Error(`chain preset "${name}" needs an rpc url`);
  return name === 'local' ? localChain(rpcUrl) : openledgerTestnet(rpcUrl);
}

/** The chain definition matching a chain id: a preset if known, otherwise a generic one at `rpcUrl`. */
export function chainForId(chainId: number, rpcUrl: string): Chain {
  if (chainId === LOCAL_CHAIN_ID) return localChain(rpcUrl);
  if (chainId === OPENLEDGER_MAINNET_CHAIN_ID) return openledgerMainnet(rpcUrl);
  if (chainId === OPENLEDGER_TESTNET_CHAIN_ID) return openledgerTestnet(rpcUrl);
  return defineChain({
    id: chainId,
    name: `EVM chain ${chainId}`,
    nativeCurrency: { name: 'Ether', symbol: 'ETH', decimals: 18 },
    rpcUrls: { default: { http: [rpcUrl] } },
  });
}

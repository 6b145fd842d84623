import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  type AnvilTestClient,
  type ChainWalletClient,
  createAnvilTestClient,
  createChainClients,
  devAccount,
  type LocalChain,
  startLocalChain,
} from '../src/index.ts';

export function tempHome(prefix = 'openledger-chain-'): { home: string; remove: () => void } {
  const home = mkdtempSync(join(tmpdir(), prefix));
  return { home, remove: () => rmSync(home, { recursive: true, force: true }) };
}

export interface DeployedChain extends LocalChain {
  home: string;
  testClient: AnvilTestClient;
  /** A wallet client signing as dev account `index` (anvil's well-known TEST keys). */
  walletFor(index: number): ChainWalletClient;
  close(): Promise<void>;
}

/** A fresh local chain (anvil on a random port, temp home) with the protocol deployed. */
export async function startDeployedChain(): Promise<DeployedChain> {
  const { home, remove } = tempHome();
  try {
    const chain = await startLocalChain({ home });
    return {
      ...chain,
      home,
      testClient: createAnvilTestClient(chain.rpcUrl),
      walletFor: (index) =>
        createChainClients({ rpcUrl: chain.rpcUrl, account: devAccount(index) }).walletClient!,
      close: async () => {
        await chain.stop();
        remove();
      },
    };
  } catch (error) {
    remove();
    throw error;
  }
}

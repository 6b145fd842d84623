import { devAccount } from './accounts.ts';
import { type AnvilHandle, type StartAnvilOptions, startAnvil } from './anvil.ts';
import { connectChain } from './clients.ts';
import type { ProtocolDeployment } from './deploy.ts';
import { ensureDeployment } from './deployment.ts';
import { resolveHome } from './paths.ts';
import { getProtocol, type Protocol } from './protocol.ts';
import type { ChainPublicClient, ChainWalletClient } from './transactions.ts';

export interface LocalChain {
  anvil: AnvilHandle;
  rpcUrl: string;
  publicClient: ChainPublicClient;
  /** Signs as dev account 0 — anvil's well-known TEST key, deployer and treasury. */
  walletClient: ChainWalletClient;
  deployment: ProtocolDeployment;
  /** False when the deployment recorded in the home folder was reused. */
  deployed: boolean;
  protocol: Protocol;
  /** Stops anvil; its state is dumped to `<home>/chain/state.json`. */
  stop(): Promise<void>;
}

/**
 * The embedded chain of `npm start`: anvil on 127.0.0.1 with its state in `<home>/chain/state.json`
 * and the protocol deployed once (a restart reuses `<home>/deployments/31337.json`).
 */
export async function startLocalChain(
  options: Omit<StartAnvilOptions, 'statePath' | 'chainId'> & { log?: (line: string) => void } = {},
): Promise<LocalChain> {
  const home = resolveHome(options.home);
  const anvil = await startAnvil({ ...options, home });
  try {
    const { publicClient, walletClient } = await connectChain({
      rpcUrl: anvil.rpcUrl,
      expectedChainId: anvil.chainId,
      account: devAccount(0),
    });
    const wallet = walletClient as ChainWalletClient;
    const { deployment, deployed } = await ensureDeployment({
      publicClient,
      walletClient: wallet,
      preset: 'local',
      home,
      log: options.log,
    });
    return {
      anvil,
      rpcUrl: anvil.rpcUrl,
      publicClient,
      walletClient: wallet,
      deployment,
      deployed,
      protocol: getProtocol({ addresses: deployment.contracts, publicClient, walletClient: wallet }),
      stop: () => anvil.stop(),
    };
  } catch (error) {
    await anvil.stop();
    throw error;
  }
}

import {
  accountFromEnv,
  accountFromKeystore,
  connectChain,
  ensureDeployment,
  getChainStatus,
  LOCAL_CHAIN_ID,
} from '@openledger/chain';
import type { Command } from 'commander';
import { resolveHome } from '../home.ts';
import { readNodeInfo } from '../start.ts';

export function registerChainCommands(program: Command): void {
  const chain = program.command('chain').description('Inspect the chain the node uses');
  chain
    .command('status')
    .description('Chain id, block number, protocol addresses and OPEN total supply')
    .option('--rpc <url>', 'JSON-RPC endpoint (default: the running local node, else http://127.0.0.1:8545)')
    .option('--json', 'print JSON')
    .action(async (opts: { rpc?: string; json?: boolean }, cmd) => {
      const home = resolveHome((cmd.optsWithGlobals() as { home?: string }).home);
      const rpcUrl = opts.rpc ?? readNodeInfo(home)?.rpcUrl ?? 'http://127.0.0.1:8545';
      const status = await getChainStatus({ rpcUrl, home });
      if (opts.json) {
        console.log(JSON.stringify(status, null, 2));
        return;
      }
      console.log(`chain id        ${status.chainId}`);
      console.log(`block           ${status.blockNumber}`);
      console.log(`OPEN supply     ${status.openTotalSupply ?? '(not deployed)'}`);
      for (const [name, address] of Object.entries(status.contracts ?? {}))
        console.log(`${name.padEnd(20)} ${address}`);
    });

  program
    .command('deploy')
    .description(
      'Deploy the protocol to an EVM JSON-RPC endpoint (key from $OPENLEDGER_PRIVATE_KEY, or --keystore with $OPENLEDGER_KEYSTORE_PASSWORD)',
    )
    .requiredOption(
      '--rpc <url>',
      'JSON-RPC endpoint, e.g. http://127.0.0.1:8545 or an OpenLedger RPC (chain 1612)',
    )
    .option('--preset <name>', 'governance and parameter preset: local | mainnet', undefined)
    .option('--chain-id <id>', 'refuse unless the endpoint reports this chain id')
    .option(
      '--keystore <file>',
      'an encrypted JSON keystore; its password is read from $OPENLEDGER_KEYSTORE_PASSWORD',
    )
    .action(
      async (
        opts: { rpc: string; preset?: 'local' | 'mainnet'; chainId?: string; keystore?: string },
        cmd,
      ) => {
        const home = resolveHome((cmd.optsWithGlobals() as { home?: string }).home);
        const password = process.env.OPENLEDGER_KEYSTORE_PASSWORD;
        if (opts.keystore && password === undefined) {
          throw new Error('--keystore needs its password in $OPENLEDGER_KEYSTORE_PASSWORD');
        }
        const account = opts.keystore
          ? await accountFromKeystore(opts.keystore, password ?? '')
          : accountFromEnv();
        const { publicClient, walletClient, chainId } = await connectChain({
          rpcUrl: opts.rpc,
          account,
          expectedChainId: opts.chainId ? Number(opts.chainId) : undefined,
        });
        if (!walletClient) throw new Error('no wallet client');
        const preset = opts.preset ?? (chainId === LOCAL_CHAIN_ID ? 'local' : 'mainnet');
        const result = await ensureDeployment({
          home,
          publicClient,
          walletClient,
          preset,
          log: (l) => console.log(l),
        });
        console.log(JSON.stringify(result.deployment, null, 2));
      },
    );
}

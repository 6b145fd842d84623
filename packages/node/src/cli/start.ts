import type { Command } from 'commander';
import { resolveHome, resolvePort } from '../home.ts';
import { startNode } from '../start.ts';

export function registerStartCommand(program: Command): void {
  program
    .command('start')
    .description(
      'Start the whole system: the local chain (anvil, persistent), the protocol contracts (deployed once), ' +
        'the node API and serving, and the Studio. Ctrl-C stops it and keeps all state.',
    )
    .option('--port <port>', 'HTTP port (default: $PORT or 7410)')
    .option(
      '--rpc <url>',
      'use this EVM JSON-RPC endpoint instead of the embedded chain (key: $OPENLEDGER_PRIVATE_KEY)',
    )
    .option('--chain-port <port>', 'port of the embedded chain (default 8545, or a free one)')
    .option('--no-demo', 'do not seed the demo data on first run (also: OPENLEDGER_DEMO=0)')
    .option('--no-studio', 'do not serve the Studio')
    .action(
      async (
        opts: { port?: string; rpc?: string; chainPort?: string; demo: boolean; studio: boolean },
        cmd,
      ) => {
        const global = cmd.optsWithGlobals() as { home?: string };
        const home = resolveHome(global.home);
        const started = Date.now();
        const node = await startNode({
          home,
          port: resolvePort(opts.port),
          rpcUrl: opts.rpc,
          chainPort: opts.chainPort ? Number(opts.chainPort) : undefined,
          demo: opts.demo && process.env.OPENLEDGER_DEMO !== '0',
          studio: opts.studio,
          log: (line) => console.log(line),
        });
        console.log(`data directory: ${home}`);
        console.log(`chain ${node.ctx.chain.chainId} at ${node.ctx.chain.rpcUrl}`);
        for (const [name, address] of Object.entries(node.deployment.contracts))
          console.log(`  ${name.padEnd(20)} ${address}`);
        console.log(`API docs: ${node.url}/docs`);
        console.log(`OpenLedger ready at ${node.url} (${((Date.now() - started) / 1000).toFixed(1)} s)`);
        let stopping = false;
        const shutdown = async (signal: string) => {
          if (stopping) return;
          stopping = true;
          console.log(`\n${signal}: stopping (state is kept in ${home})…`);
          await node.stop();
          process.exit(0);
        };
        process.on('SIGINT', () => void shutdown('SIGINT'));
        process.on('SIGTERM', () => void shutdown('SIGTERM'));
      },
    );
}

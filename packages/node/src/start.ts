import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  type AnvilHandle,
  accountFromEnv,
  type ChainWalletClient,
  connectChain,
  DEV_ACCOUNT_LABEL,
  devAccounts,
  ensureDeployment,
  inferenceEscrowAbi,
  isChainError,
  openTokenAbi,
  type ProtocolDeployment,
  stakingAbi,
  startAnvil,
  writeContractAndWait,
} from '@openledger/chain';
import { openStore, type Store } from '@openledger/store';
import type { FastifyInstance } from 'fastify';
import { type Address, parseEther } from 'viem';
import type { DevAccount, NodeContext } from './context.ts';
import { seedDemo } from './demo.ts';
import { Auth } from './http/auth.ts';
import { createServer } from './http/server.ts';
import { createServices } from './services.ts';
import { Signers } from './signers.ts';

export interface StartNodeOptions {
  home: string;
  port: number;
  host?: string;
  /** an external EVM JSON-RPC endpoint; without it the node runs its embedded anvil chain */
  rpcUrl?: string;
  /** port of the embedded chain; default 8545, or a free one if that is taken */
  chainPort?: number;
  /** seed the demo on first run */
  demo?: boolean;
  /** serve the Studio (and build it if it is not built) */
  studio?: boolean;
  log?: (line: string) => void;
}

export interface RunningNode {
  url: string;
  ctx: NodeContext;
  app: FastifyInstance;
  deployment: ProtocolDeployment;
  stop(): Promise<void>;
}

/** OPEN sent to each local test account on the first run, so they can publish, pay and stake. */
const DEV_ACCOUNT_OPEN = parseEther('100000');
const DEV_ACCOUNT_COUNT = 6;
const DEV_ESCROW_DEPOSIT = parseEther('1000');

const repoDir = resolve(fileURLToPath(new URL('../../..', import.meta.url)));
export const studioDistDir = join(repoDir, 'apps/studio/dist');

/** Starts the chain (embedded or external), the protocol, storage, services and the HTTP server. */
export async function startNode(options: StartNodeOptions): Promise<RunningNode> {
  const log = options.log ?? (() => {});
  const home = options.home;
  mkdirSync(home, { recursive: true });
  const cleanups: (() => Promise<void> | void)[] = [];
  const stop = async () => {
    for (const cleanup of cleanups.reverse()) await cleanup();
  };
  try {
    // chain
    let anvil: AnvilHandle | undefined;
    let rpcUrl = options.rpcUrl;
    if (!rpcUrl) {
      anvil = await startLocalChain(home, options.chainPort, log);
      cleanups.push(() => anvil?.stop());
      rpcUrl = anvil.rpcUrl;
    }
    const local = Boolean(anvil);
    const accounts = local ? devAccounts(DEV_ACCOUNT_COUNT) : [accountFromEnv()];
    const deployer = accounts[0];
    const { publicClient, walletClient, chain, chainId } = await connectChain({ rpcUrl, account: deployer });
    if (!walletClient) throw new Error('no wallet client for the deployer');
    const { deployment, deployed } = await ensureDeployment({
      home,
      publicClient,
      walletClient,
      preset: local ? 'local' : 'mainnet',
      log,
    });

    // storage
    const store: Store = openStore(home);
    cleanups.push(() => store.close());
    const signers = new Signers(rpcUrl, chain, accounts);
    // once per chain, recorded by a marker written only after every step succeeded
    const bootstrapMarker = join(home, 'deployments', `${chainId}.bootstrapped`);
    if (local && (deployed || !existsSync(bootstrapMarker))) {
      await bootstrapLocalChain(walletClient, deployment, signers, accounts.slice(1), log);
      writeFileSync(bootstrapMarker, `${new Date().toISOString()}\n`);
    }
    const devAccountList: DevAccount[] = local
      ? devAccounts(DEV_ACCOUNT_COUNT).map((account, i) => ({
          label: `Local account ${i}${i === 0 ? ' (deployer, treasury)' : ''} — ${DEV_ACCOUNT_LABEL}`,
          address: account.address,
          privateKey: devPrivateKey(i),
        }))
      : [];

    const ctx: NodeContext = {
      home,
      db: store.sql,
      auth: new Auth(store.sql),
      chain: { chainId, rpcUrl, local, publicClient, contracts: deployment.contracts },
      devAccounts: devAccountList,
      services: {},
    };
    const services = await createServices({
      ctx,
      store,
      signers,
      deployment,
      publicClient,
      operator: walletClient,
      log,
    });
    ctx.services = services.registry;
    cleanups.push(() => services.stop());

    // HTTP
    let studioDir: string | undefined;
    if (options.studio !== false) studioDir = ensureStudioBuilt(log);
    const app = await createServer(ctx, { studioDir });
    cleanups.push(() => app.close());
    const host = options.host ?? '127.0.0.1';
    await app.listen({ port: options.port, host });
    const address = app.server.address();
    const port = typeof address === 'object' && address ? address.port : options.port;
    const url = `http://${host}:${port}`;
    writeFileSync(
      join(home, 'node.json'),
      `${JSON.stringify({ url, rpcUrl, chainId, pid: process.pid }, null, 2)}\n`,
    );

    if (options.demo && local) {
      // seeded in the background: the node is usable while the demo fills in
      void seedDemo(url, home, log).catch((error: Error) => log(`demo seeding stopped: ${error.message}`));
    }
    return { url, ctx, app, deployment, stop };
  } catch (error) {
    await stop();
    throw error;
  }
}

async function startLocalChain(home: string, chainPort: number | undefined, log: (line: string) => void) {
  const statePath = join(home, 'chain', 'state.json');
  const port = chainPort ?? Number(process.env.OPENLEDGER_CHAIN_PORT ?? 8545);
  try {
    const anvil = await startAnvil({ home, statePath, port });
    log(`local chain (anvil) at ${anvil.rpcUrl}, state in ${statePath}`);
    return anvil;
  } catch (error) {
    if (!isChainError(error, 'PORT_IN_USE') || chainPort !== undefined) throw error;
    const anvil = await startAnvil({ home, statePath });
    log(`port ${port} is taken; local chain (anvil) at ${anvil.rpcUrl}, state in ${statePath}`);
    return anvil;
  }
}

/**
 * First run on the embedded chain: give the local test accounts OPEN, stake the node's operator and
 * settler (account 0), and put an escrow deposit behind each other account so it can pay for answers.
 */
async function bootstrapLocalChain(
  walletClient: ChainWalletClient,
  deployment: ProtocolDeployment,
  signers: Signers,
  accounts: { address: Address }[],
  log: (line: string) => void,
) {
  const c = deployment.contracts;
  for (const account of accounts) {
    await writeContractAndWait(walletClient, {
      address: c.OpenToken,
      abi: openTokenAbi,
      functionName: 'transfer',
      args: [account.address, DEV_ACCOUNT_OPEN],
    });
  }
  const stake = parseEther('2000');
  await writeContractAndWait(walletClient, {
    address: c.OpenToken,
    abi: openTokenAbi,
    functionName: 'approve',
    args: [c.Staking, stake * 2n],
  });
  for (const role of [0, 1] as const) {
    await writeContractAndWait(walletClient, {
      address: c.Staking,
      abi: stakingAbi,
      functionName: 'stake',
      args: [role, stake],
    });
  }
  for (const account of accounts) {
    const wallet = signers.wallet(account.address);
    await writeContractAndWait(wallet, {
      address: c.OpenToken,
      abi: openTokenAbi,
      functionName: 'approve',
      args: [c.InferenceEscrow, DEV_ESCROW_DEPOSIT],
    });
    await writeContractAndWait(wallet, {
      address: c.InferenceEscrow,
      abi: inferenceEscrowAbi,
      functionName: 'deposit',
      args: [DEV_ESCROW_DEPOSIT],
    });
  }
  log(
    `local test accounts: ${DEV_ACCOUNT_OPEN / 10n ** 18n} OPEN each, ${DEV_ESCROW_DEPOSIT / 10n ** 18n} OPEN in escrow; ` +
      `account 0 staked as operator and settler`,
  );
}

/** anvil's well-known test private keys are public; they are derived, never stored. */
function devPrivateKey(index: number): `0x${string}` {
  const account = devAccounts(index + 1)[index];
  const hd = account.getHdKey();
  if (!hd.privateKey) throw new Error('test account has no private key');
  return `0x${Buffer.from(hd.privateKey).toString('hex')}`;
}

/** Builds the Studio once (vite) if it has not been built; returns its folder or undefined. */
function ensureStudioBuilt(log: (line: string) => void): string | undefined {
  if (existsSync(join(studioDistDir, 'index.html'))) return studioDistDir;
  if (!existsSync(join(repoDir, 'apps/studio/package.json'))) return undefined;
  log('building the Studio (first run)…');
  const result = spawnSync('npm', ['run', 'build', '-w', '@openledger/studio'], {
    cwd: repoDir,
    stdio: ['ignore', 'pipe', 'pipe'],
    encoding: 'utf8',
  });
  if (result.status !== 0) {
    log(
      `the Studio did not build; the API still runs. ${(result.stderr || result.stdout).trim().split('\n').at(-1)}`,
    );
    return undefined;
  }
  return existsSync(join(studioDistDir, 'index.html')) ? studioDistDir : undefined;
}

export function readNodeInfo(home: string): { url: string; rpcUrl: string; chainId: number } | undefined {
  const path = join(home, 'node.json');
  if (!existsSync(path)) return undefined;
  return JSON.parse(readFileSync(path, 'utf8'));
}

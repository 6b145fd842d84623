import { type Account, type Chain, createPublicClient, createWalletClient, http } from 'viem';
import { chainForId } from './chains.ts';
import { ChainError } from './errors.ts';
import type { ChainPublicClient, ChainWalletClient } from './transactions.ts';

export interface ChainClientsOptions {
  rpcUrl: string;
  /** Chain definition; default: derived from `chainId` (see `chainForId`). */
  chain?: Chain;
  /** Used when `chain` is not given; default 31337. */
  chainId?: number;
  /** Signing account; without it there is no wallet client. */
  account?: Account;
  /** HTTP request timeout. Default 30 s. */
  timeoutMs?: number;
}

export interface ChainClients {
  chain: Chain;
  rpcUrl: string;
  publicClient: ChainPublicClient;
  /** Present when an account was given. */
  walletClient: ChainWalletClient | undefined;
}

/** viem public (and, with an account, wallet) clients for an RPC URL and chain. No network call. */
export function createChainClients(options: ChainClientsOptions): ChainClients {
  const chain = options.chain ?? chainForId(options.chainId ?? 31337, options.rpcUrl);
  const transport = http(options.rpcUrl, { retryCount: 1, timeout: options.timeoutMs ?? 30_000 });
  const publicClient = createPublicClient({ chain, transport, pollingInterval: 250 }) as ChainPublicClient;
  const walletClient = options.account
    ? (createWalletClient({
        chain,
        transport,
        account: options.account,
        pollingInterval: 250,
      }) as ChainWalletClient)
    : undefined;
  return { chain, rpcUrl: options.rpcUrl, publicClient, walletClient };
}

/** An RPC URL safe to print: credentials, query strings and long paths (API keys) are cut. */
export function redactRpcUrl(rpcUrl: string): string {
  try {
    const url = new URL(rpcUrl);
    const path = url.pathname.length > 1 ? '/…' : '';
    return `${url.protocol}//${url.host}${path}`;
  } catch {
    return '<invalid url>';
  }
}

function describeFetchError(error: unknown): string {
  const cause = (error as { cause?: { code?: string; message?: string } }).cause;
  if (cause?.code === 'ECONNREFUSED') return 'connection refused';
  if (cause?.code === 'ENOTFOUND') return 'host not found';
  if (cause?.code === 'ECONNRESET') return 'connection reset';
  if ((error as Error).name === 'TimeoutError') return 'timed out';
  return cause?.message ?? (error as Error).message;
}

/** Asks an RPC endpoint for its chain id with a short timeout; a one-line error when it cannot. */
export async function probeChainId(rpcUrl: string, timeoutMs = 5_000): Promise<number> {
  const shown = redactRpcUrl(rpcUrl);
  let response: Response;
  try {
    new URL(rpcUrl);
  } catch {
    throw new ChainError('RPC_UNREACHABLE', `invalid RPC URL: ${shown}`);
  }
  try {
    response = await fetch(rpcUrl, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'eth_chainId', params: [] }),
      signal: AbortSignal.timeout(timeoutMs),
    });
  } catch (error) {
    throw new ChainError('RPC_UNREACHABLE', `cannot reach RPC ${shown}: ${describeFetchError(error)}`);
  }
  let body: { result?: string; error?: { message?: string } };
  try {
    body = (await response.json()) as typeof body;
  } catch {
    throw new ChainError('RPC_UNREACHABLE', `RPC ${shown} answered HTTP ${response.status} without JSON-RPC`);
  }
  if (!body.result) {
    throw new ChainError(
      'RPC_UNREACHABLE',
      `RPC ${shown} refused eth_chainId: ${body.error?.message ?? 'no result'}`,
    );
  }
  return Number(body.result);
}

export interface ConnectChainOptions extends Omit<ChainClientsOptions, 'chainId'> {
  /** Fail unless the endpoint reports this chain id. */
  expectedChainId?: number;
  /** Timeout of the initial probe. Default 5 s. */
  probeTimeoutMs?: number;
}

/**
 * Checks that the RPC answers and is the expected chain, then returns clients for it.
 * Errors (one line, `ChainError`): `RPC_UNREACHABLE`, `WRONG_CHAIN`.
 */
export async function connectChain(
  options: ConnectChainOptions,
): Promise<ChainClients & { chainId: number }> {
  const chainId = await probeChainId(options.rpcUrl, options.probeTimeoutMs);
  const expected = options.expectedChainId ?? options.chain?.id;
  if (expected !== undefined && chainId !== expected) {
    throw new ChainError(
      'WRONG_CHAIN',
      `RPC ${redactRpcUrl(options.rpcUrl)} is chain ${chainId}, expected chain ${expected}`,
    );
  }
  const chain = options.chain ?? chainForId(chainId, options.rpcUrl);
  return { ...createChainClients({ ...options, chain }), chainId };
}

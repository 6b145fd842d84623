import {
  type Abi,
  type Account,
  type Address,
  BaseError,
  type Chain,
  type ContractFunctionArgs,
  type ContractFunctionName,
  encodeDeployData,
  getAddress,
  type Hash,
  type Hex,
  type PublicClient,
  publicActions,
  type TransactionReceipt,
  TransactionReceiptNotFoundError,
  type Transport,
  type WalletClient,
} from 'viem';
import { ChainError } from './errors.ts';

export type ChainPublicClient = PublicClient<Transport, Chain>;
export type ChainWalletClient = WalletClient<Transport, Chain, Account>;

export interface WaitOptions {
  /** Give up after this long (the transaction may still be mined later). Default 60 s. */
  timeoutMs?: number;
  /** Receipt polling interval when the node has no synchronous send. Default 250 ms. */
  pollIntervalMs?: number;
}

const DEFAULT_TIMEOUT_MS = 60_000;

/** Clients whose node answered "method not found" to `eth_sendRawTransactionSync` (EIP-7966). */
const noSyncSend = new WeakSet<object>();

function isMethodUnsupported(error: unknown): boolean {
  if (!(error instanceof BaseError)) return false;
  return Boolean(
    error.walk((e) => {
      const code = (e as { code?: unknown }).code;
      return code === -32601 || code === -32004;
    }),
  );
}

/**
 * Polls `eth_getTransactionReceipt` until the transaction is mined or the timeout passes. An explicit
 * poller instead of viem's `waitForTransactionReceipt`, which has been seen to hang against anvil.
 */
export async function pollTransactionReceipt(
  publicClient: ChainPublicClient,
  hash: Hash,
  options: WaitOptions = {},
): Promise<TransactionReceipt> {
  const deadline = Date.now() + (options.timeoutMs ?? DEFAULT_TIMEOUT_MS);
  const interval = options.pollIntervalMs ?? 250;
  while (true) {
    try {
      return await publicClient.getTransactionReceipt({ hash });
    } catch (error) {
      if (!(error instanceof TransactionReceiptNotFoundError)) throw error;
    }
    if (Date.now() > deadline) {
      throw new ChainError(
        'TX_TIMEOUT',
        `transaction ${hash} was not mined within ${options.timeoutMs ?? DEFAULT_TIMEOUT_MS} ms`,
      );
    }
    await new Promise((resolve) => setTimeout(resolve, interval));
  }
}

function readerOf(walletClient: ChainWalletClient): ChainPublicClient {
  return walletClient.extend(publicActions) as unknown as ChainPublicClient;
}

function assertSuccess(receipt: TransactionReceipt, what: string): TransactionReceipt {
  if (receipt.status !== 'success') {
    throw new ChainError('TX_REVERTED', `${what} reverted in transaction ${receipt.transactionHash}`);
  }
  return receipt;
}

export interface WriteContractAndWaitParameters<
  abi extends Abi | readonly unknown[],
  functionName extends ContractFunctionName<abi, 'nonpayable' | 'payable'>,
  args extends ContractFunctionArgs<abi, 'nonpayable' | 'payable', functionName>,
> {
  address: Address;
  abi: abi;
  functionName: functionName;
  args?: args;
  value?: bigint;
  gas?: bigint;
}

/**
 * Sends a contract call and returns its mined, successful receipt. Uses `writeContractSync`
 * (`eth_sendRawTransactionSync`, which anvil supports) and falls back to `writeContract` plus an
 * explicit receipt poller on nodes without it. Reverts surface as viem's decoded contract errors
 * (custom error name and arguments) when gas estimation fails, or as `TX_REVERTED`.
 */
export async function writeContractAndWait<
  const abi extends Abi | readonly unknown[],
  functionName extends ContractFunctionName<abi, 'nonpayable' | 'payable'>,
  const args extends ContractFunctionArgs<abi, 'nonpayable' | 'payable', functionName>,
>(
  walletClient: ChainWalletClient,
  parameters: WriteContractAndWaitParameters<abi, functionName, args>,
  options: WaitOptions & { publicClient?: ChainPublicClient } = {},
): Promise<TransactionReceipt> {
  const what = `${parameters.functionName}()`;
  if (!noSyncSend.has(walletClient)) {
    try {
      const receipt = await walletClient.writeContractSync({
        ...(parameters as object),
        throwOnReceiptRevert: false,
      } as never);
      return assertSuccess(receipt as TransactionReceipt, what);
    } catch (error) {
      if (!isMethodUnsupported(error)) throw error;
      noSyncSend.add(walletClient);
    }
  }
  const hash = await walletClient.writeContract(parameters as never);
  const publicClient = options.publicClient ?? readerOf(walletClient);
  return assertSuccess(await pollTransactionReceipt(publicClient, hash, options), what);
}

/** Sends a plain transaction (e.g. a contract creation) and returns its successful receipt. */
export async function sendTransactionAndWait(
  walletClient: ChainWalletClient,
  request: { to?: Address; data?: Hex; value?: bigint; gas?: bigint },
  options: WaitOptions & { publicClient?: ChainPublicClient; what?: string } = {},
): Promise<TransactionReceipt> {
  const what = options.what ?? 'transaction';
  if (!noSyncSend.has(walletClient)) {
    try {
      const receipt = await walletClient.sendTransactionSync({
        ...request,
        throwOnReceiptRevert: false,
      } as never);
      return assertSuccess(receipt as TransactionReceipt, what);
    } catch (error) {
      if (!isMethodUnsupported(error)) throw error;
      noSyncSend.add(walletClient);
    }
  }
  const hash = await walletClient.sendTransaction(request as never);
  const publicClient = options.publicClient ?? readerOf(walletClient);
  return assertSuccess(await pollTransactionReceipt(publicClient, hash, options), what);
}

/** Deploys a contract from its abi + bytecode and returns its address and receipt. */
export async function deployContractAndWait(
  walletClient: ChainWalletClient,
  parameters: { abi: Abi; bytecode: Hex; args?: readonly unknown[]; name?: string },
  options: WaitOptions & { publicClient?: ChainPublicClient } = {},
): Promise<{ address: Address; receipt: TransactionReceipt }> {
  const data = encodeDeployData({
    abi: parameters.abi,
    bytecode: parameters.bytecode,
    args: parameters.args ?? [],
  });
  const what = `deployment of ${parameters.name ?? 'contract'}`;
  const receipt = await sendTransactionAndWait(walletClient, { data }, { ...options, what });
  if (!receipt.contractAddress) {
    throw new ChainError(
      'TX_REVERTED',
      `${what} produced no contract address (tx ${receipt.transactionHash})`,
    );
  }
  return { address: getAddress(receipt.contractAddress), receipt };
}

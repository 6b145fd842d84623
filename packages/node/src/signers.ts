import { type ChainWalletClient, createChainClients } from '@openledger/chain';
import { type Account, type Address, type Chain, getAddress } from 'viem';
import { OpenLedgerError } from './errors.ts';

/**
 * The wallets this node may send transactions from, by address. On the embedded chain these are
 * anvil's well-known test accounts, so the Studio can act as several local users; on a real chain
 * only the operator's own key is here, and users send their own transactions from their wallets.
 */
export class Signers {
  readonly #wallets = new Map<Address, ChainWalletClient>();

  constructor(
    readonly rpcUrl: string,
    readonly chain: Chain,
    accounts: Account[],
  ) {
    for (const account of accounts) {
      const { walletClient } = createChainClients({ rpcUrl, chain, account });
      if (walletClient) this.#wallets.set(getAddress(account.address), walletClient);
    }
  }

  has(address: Address): boolean {
    return this.#wallets.has(getAddress(address));
  }

  /** The wallet client of `address`; a clear 403 when this node holds no key for it. */
  wallet(address: Address): ChainWalletClient {
    const wallet = this.#wallets.get(getAddress(address));
    if (!wallet) {
      throw new OpenLedgerError(
        'no_signer',
        `this node holds no key for ${address}; send the transaction from that wallet`,
        { status: 403, field: 'address' },
      );
    }
    return wallet;
  }

  addresses(): Address[] {
    return [...this.#wallets.keys()];
  }
}

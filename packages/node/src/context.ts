import type { Datanets } from '@openledger/datanet';
import type { EconomyChain, Ledger } from '@openledger/economy';
import type { AttributionIndexer, Factory } from '@openledger/factory';
import type { Store } from '@openledger/store';
import type Database from 'better-sqlite3';
import type { Address, PublicClient } from 'viem';
import type { ApiKeys } from './api-keys.ts';
import type { AttributionService } from './attribution-service.ts';
import type { ChainRegistrar } from './chain-registrar.ts';
import type { Auth } from './http/auth.ts';
import type { ServingService } from './serving.ts';
import type { Signers } from './signers.ts';

/** The services the routes use; filled in by services.ts. */
export interface Services {
  store?: Store;
  signers?: Signers;
  datanets?: Datanets;
  factory?: Factory;
  serving?: ServingService;
  ledger?: Ledger;
  economyChain?: EconomyChain;
  apiKeys?: ApiKeys;
  attribution?: AttributionService;
  registrar?: ChainRegistrar;
  indexer?: AttributionIndexer;
  /** called after a model is registered, e.g. to make it servable */
  onModelPublished?: (modelId: number, jobId: number) => Promise<void>;
}

/** A local account the node may act as. Only anvil's well-known *test* keys are ever listed. */
export interface DevAccount {
  label: string;
  address: Address;
  privateKey: `0x${string}`;
}

/**
 * What the HTTP routes and the background services share. Each capability is optional so the
 * node can start (and its tests can run) with the parts that exist.
 */
export interface NodeContext {
  home: string;
  db: Database.Database;
  auth: Auth;
  chain: {
    chainId: number;
    rpcUrl: string;
    local: boolean;
    publicClient: PublicClient;
    contracts: Record<string, Address>;
  };
  /** anvil's test accounts when the node runs the embedded chain; empty otherwise */
  devAccounts: DevAccount[];
  services: Services;
}

import type { ChainPublicClient, ChainWalletClient, ProtocolDeployment } from '@openledger/chain';
import { Datanets } from '@openledger/datanet';
import { type EconomyChain, escrowDomainOf, escrowViewOf, Ledger, VoucherBook } from '@openledger/economy';
import { Factory, SHIPPED_BASE_MODEL_ID } from '@openledger/factory';
import type { Store } from '@openledger/store';
import { ApiKeys } from './api-keys.ts';
import { AttributionService } from './attribution-service.ts';
import { ChainAnchor } from './chain-anchor.ts';
import { ChainRegistrar } from './chain-registrar.ts';
import type { NodeContext, Services } from './context.ts';
import { ServingService } from './serving.ts';
import type { Signers } from './signers.ts';

export interface CreateServicesOptions {
  ctx: NodeContext;
  store: Store;
  signers: Signers;
  deployment: ProtocolDeployment;
  publicClient: ChainPublicClient;
  /** the node's operator and settler wallet */
  operator: ChainWalletClient;
  log: (line: string) => void;
}

/** The node's long-lived services, wired to storage and the chain. */
export async function createServices(options: CreateServicesOptions): Promise<{
  registry: Services;
  stop(): Promise<void>;
  seedDemo?: (url: string) => Promise<void>;
}> {
  const anchor = new ChainAnchor(options.publicClient, options.deployment.contracts, options.signers);
  const datanets = new Datanets(options.store, anchor);
  const factory = new Factory({ home: options.ctx.home, store: options.store, datanets, log: options.log });
  const registrar = new ChainRegistrar(options.publicClient, options.deployment.contracts, options.signers);
  const economyChain: EconomyChain = {
    publicClient: options.publicClient,
    chainId: options.deployment.chainId,
    contracts: options.deployment.contracts,
  };
  const ledger = new Ledger(options.store);
  const book = new VoucherBook({
    domain: escrowDomainOf(economyChain),
    escrow: escrowViewOf(economyChain),
    persistence: ledger,
  });
  const hasBase = factory.catalog.list().some((m) => m.id === SHIPPED_BASE_MODEL_ID);
  const serving = hasBase
    ? new ServingService({
        catalog: factory.catalog,
        chain: economyChain,
        store: options.store,
        signers: options.signers,
        operator: options.operator,
        ledger,
        book,
      })
    : undefined;
  if (!hasBase) options.log('no shipped base model found: serving is off');
  const attribution = new AttributionService(options.ctx.home, options.store, factory);
  if (serving) serving.attributor = attribution;
  return {
    registry: {
      datanets,
      factory,
      registrar,
      serving,
      ledger,
      economyChain,
      apiKeys: new ApiKeys(options.store.sql),
      attribution,
      indexer: attribution,
      store: options.store,
      signers: options.signers,
    },
    async stop() {
      await factory.stop();
      await serving?.close();
      await datanets.close();
    },
  };
}

import type { ChainPublicClient, ProtocolDeployment } from '@openledger/chain';
import { Datanets } from '@openledger/datanet';
import { Factory } from '@openledger/factory';
import type { Store } from '@openledger/store';
import { ChainAnchor } from './chain-anchor.ts';
import { ChainRegistrar } from './chain-registrar.ts';
import type { NodeContext, Services } from './context.ts';
import type { Signers } from './signers.ts';

export interface CreateServicesOptions {
  ctx: NodeContext;
  store: Store;
  signers: Signers;
  deployment: ProtocolDeployment;
  publicClient: ChainPublicClient;
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
  return {
    registry: { datanets, factory, registrar, store: options.store, signers: options.signers },
    async stop() {
      await factory.stop();
    },
  };
}

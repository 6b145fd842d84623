import {
  type ChainPublicClient,
  modelRegistryAbi,
  type ProtocolAddresses,
  writeContractAndWait,
} from '@openledger/chain';
import type { ModelLineage, ModelRegistrar } from '@openledger/factory';
import { type Address, parseEventLogs } from 'viem';
import { readModelLineage, readModelRecord } from './model-record.ts';
import type { Signers } from './signers.ts';

/** Registers fine-tuned models in the ModelRegistry contract from the model owner's wallet. */
export class ChainRegistrar implements ModelRegistrar {
  constructor(
    private readonly publicClient: ChainPublicClient,
    private readonly contracts: ProtocolAddresses,
    private readonly signers: Signers,
  ) {}

  async registerModel(lineage: ModelLineage): Promise<{ modelId: number; txHash?: string }> {
    const receipt = await writeContractAndWait(this.signers.wallet(lineage.owner as Address), {
      address: this.contracts.ModelRegistry,
      abi: modelRegistryAbi,
      functionName: 'registerModel',
      args: [
        {
          baseModelHash: lineage.baseModelHash,
          adapterHash: lineage.adapterHash,
          trainingConfigHash: lineage.trainingConfigHash,
          attributionIndexHash: lineage.attributionIndexHash,
          pricePerKInput: lineage.pricePerKInput,
          pricePerKOutput: lineage.pricePerKOutput,
          uri: lineage.uri,
          datanets: lineage.datanets.map((d) => ({ datanetId: BigInt(d.datanetId), version: d.version })),
        },
      ],
    });
    const [event] = parseEventLogs({
      abi: modelRegistryAbi,
      eventName: 'ModelRegistered',
      logs: receipt.logs,
    });
    return { modelId: Number(event.args.id), txHash: receipt.transactionHash };
  }

  /** The on-chain record of a model and its lineage. */
  async getModel(modelId: number) {
    const registry = this.contracts.ModelRegistry;
    const [model, lineage] = await Promise.all([
      readModelRecord(this.publicClient, registry, modelId),
      readModelLineage(this.publicClient, registry, modelId),
    ]);
    return { model, lineage };
  }
}

import { modelRegistryAbi } from '@openledger/chain';
import type { Address, PublicClient } from 'viem';

/** A model as ModelRegistry records it (docs/protocol.md). */
export interface ModelRecord {
  id: number;
  owner: Address;
  baseModelHash: `0x${string}`;
  adapterHash: `0x${string}`;
  trainingConfigHash: `0x${string}`;
  attributionIndexHash: `0x${string}`;
  pricePerKInput: bigint;
  pricePerKOutput: bigint;
  uri: string;
  deprecated: boolean;
}

export async function readModelCount(client: PublicClient, registry: Address): Promise<number> {
  return Number(
    await client.readContract({ address: registry, abi: modelRegistryAbi, functionName: 'modelCount' }),
  );
}

export async function readModelRecord(
  client: PublicClient,
  registry: Address,
  id: number,
): Promise<ModelRecord> {
  const m = (await client.readContract({
    address: registry,
    abi: modelRegistryAbi,
    functionName: 'getModel',
    args: [BigInt(id)],
  })) as unknown as readonly [
    Address,
    `0x${string}`,
    `0x${string}`,
    `0x${string}`,
    `0x${string}`,
    bigint,
    bigint,
    string,
    boolean,
  ];
  return {
    id,
    owner: m[0],
    baseModelHash: m[1],
    adapterHash: m[2],
    trainingConfigHash: m[3],
    attributionIndexHash: m[4],
    pricePerKInput: m[5],
    pricePerKOutput: m[6],
    uri: m[7],
    deprecated: m[8],
  };
}

export async function readModelLineage(
  client: PublicClient,
  registry: Address,
  id: number,
): Promise<{ datanetId: number; version: number }[]> {
  const lineage = (await client.readContract({
    address: registry,
    abi: modelRegistryAbi,
    functionName: 'getLineage',
    args: [BigInt(id)],
  })) as readonly { datanetId: bigint; version: number }[];
  return lineage.map((l) => ({ datanetId: Number(l.datanetId), version: Number(l.version) }));
}

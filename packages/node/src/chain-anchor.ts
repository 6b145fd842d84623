import {
  type ChainPublicClient,
  datanetRegistryAbi,
  openTokenAbi,
  type ProtocolAddresses,
  protocolParamsAbi,
  writeContractAndWait,
} from '@openledger/chain';
import type { Anchor, AnchorReceipt } from '@openledger/datanet';
import { type Address, parseEventLogs } from 'viem';
import type { Signers } from './signers.ts';

const POLICY = { open: 0, allowlist: 1, owner: 2 } as const;

/** The datanet Anchor backed by the DatanetRegistry contract (docs/protocol.md). */
export class ChainAnchor implements Anchor {
  constructor(
    private readonly publicClient: ChainPublicClient,
    private readonly contracts: ProtocolAddresses,
    private readonly signers: Signers,
  ) {}

  private get registry(): Address {
    return this.contracts.DatanetRegistry;
  }

  async createDatanet(
    req: Parameters<Anchor['createDatanet']>[0],
  ): Promise<AnchorReceipt & { datanetId: number }> {
    const receipt = await writeContractAndWait(this.signers.wallet(req.owner), {
      address: this.registry,
      abi: datanetRegistryAbi,
      functionName: 'createDatanet',
      args: [req.metadataURI, req.metadataHash, req.license, req.permissioned, POLICY[req.policy]],
    });
    const [event] = parseEventLogs({
      abi: datanetRegistryAbi,
      eventName: 'DatanetCreated',
      logs: receipt.logs,
    });
    return { txHash: receipt.transactionHash, datanetId: Number(event.args.id) };
  }

  async updateMetadata(req: Parameters<Anchor['updateMetadata']>[0]): Promise<AnchorReceipt> {
    const receipt = await writeContractAndWait(this.signers.wallet(req.owner), {
      address: this.registry,
      abi: datanetRegistryAbi,
      functionName: 'updateMetadata',
      args: [BigInt(req.datanetId), req.metadataURI, req.metadataHash],
    });
    return { txHash: receipt.transactionHash };
  }

  async publishVersion(
    req: Parameters<Anchor['publishVersion']>[0],
  ): Promise<AnchorReceipt & { version: number }> {
    const wallet = this.signers.wallet(req.owner);
    // publishing costs OPEN (base + per row); approve exactly that fee first
    const params = await this.publicClient.readContract({
      address: this.contracts.ProtocolParams,
      abi: protocolParamsAbi,
      functionName: 'params',
    });
    const fee = BigInt(params.publishFeeBase) + BigInt(params.publishFeePerRow) * BigInt(req.rowCount);
    if (fee > 0n) {
      await writeContractAndWait(wallet, {
        address: this.contracts.OpenToken,
        abi: openTokenAbi,
        functionName: 'approve',
        args: [this.registry, fee],
      });
    }
    const receipt = await writeContractAndWait(wallet, {
      address: this.registry,
      abi: datanetRegistryAbi,
      functionName: 'publishVersion',
      args: [BigInt(req.datanetId), req.root, BigInt(req.rowCount), req.contentURI],
    });
    const [event] = parseEventLogs({
      abi: datanetRegistryAbi,
      eventName: 'VersionPublished',
      logs: receipt.logs,
    });
    return { txHash: receipt.transactionHash, version: Number(event.args.version) };
  }

  async recordContributions(req: Parameters<Anchor['recordContributions']>[0]): Promise<AnchorReceipt> {
    const wallet = this.signers.wallet(req.owner);
    let txHash: string | undefined;
    // keep each transaction well under the block gas limit
    for (let i = 0; i < req.contributions.length; i += 200) {
      const batch = req.contributions.slice(i, i + 200);
      const receipt = await writeContractAndWait(wallet, {
        address: this.registry,
        abi: datanetRegistryAbi,
        functionName: 'recordContributions',
        args: [BigInt(req.datanetId), req.version, batch],
      });
      txHash = receipt.transactionHash;
    }
    return { txHash };
  }

  async grantAccess(req: Parameters<Anchor['grantAccess']>[0]): Promise<AnchorReceipt> {
    return this.#simple(req.owner, 'grantAccess', [BigInt(req.datanetId), req.account]);
  }

  async revokeAccess(req: Parameters<Anchor['revokeAccess']>[0]): Promise<AnchorReceipt> {
    return this.#simple(req.owner, 'revokeAccess', [BigInt(req.datanetId), req.account]);
  }

  async setReviewer(req: Parameters<Anchor['setReviewer']>[0]): Promise<AnchorReceipt> {
    return this.#simple(req.owner, 'setReviewer', [BigInt(req.datanetId), req.account, req.enabled]);
  }

  async getVersion(datanetId: number, version: number) {
    try {
      const v = await this.publicClient.readContract({
        address: this.registry,
        abi: datanetRegistryAbi,
        functionName: 'getVersion',
        args: [BigInt(datanetId), version],
      });
      return { root: v.root, rowCount: Number(v.rowCount) };
    } catch {
      return null;
    }
  }

  async #simple(
    owner: Address,
    functionName: 'grantAccess' | 'revokeAccess' | 'setReviewer',
    args: readonly unknown[],
  ): Promise<AnchorReceipt> {
    const receipt = await writeContractAndWait(this.signers.wallet(owner), {
      address: this.registry,
      abi: datanetRegistryAbi,
      functionName,
      // biome-ignore lint/suspicious/noExplicitAny: the three functions share the (id, account[, bool]) shape
      args: args as any,
    });
    return { txHash: receipt.transactionHash };
  }
}

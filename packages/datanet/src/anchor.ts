import type { Address, ContributionPolicy, Hex32 } from './types.ts';

export interface AnchorReceipt {
  txHash?: string;
}

/**
 * The on-chain side of a datanet (DatanetRegistry, see docs/protocol.md), injected so this package
 * needs no chain client. `owner` is the acting address on whose behalf the node sends the
 * transaction (the registry checks msg.sender is the owner). packages/node implements it with
 * @openledger/chain; MemoryAnchor below is an in-memory stand-in for tests and offline use.
 */
export interface Anchor {
  createDatanet(req: {
    owner: Address;
    metadataURI: string;
    metadataHash: Hex32;
    license: string;
    permissioned: boolean;
    policy: ContributionPolicy;
  }): Promise<AnchorReceipt & { datanetId: number }>;
  updateMetadata(req: {
    owner: Address;
    datanetId: number;
    metadataURI: string;
    metadataHash: Hex32;
  }): Promise<AnchorReceipt>;
  publishVersion(req: {
    owner: Address;
    datanetId: number;
    root: Hex32;
    rowCount: number;
    contentURI: string;
  }): Promise<AnchorReceipt & { version: number }>;
  recordContributions(req: {
    owner: Address;
    datanetId: number;
    version: number;
    contributions: { contributor: Address; contentHash: Hex32 }[];
  }): Promise<AnchorReceipt>;
  grantAccess(req: { owner: Address; datanetId: number; account: Address }): Promise<AnchorReceipt>;
  revokeAccess(req: { owner: Address; datanetId: number; account: Address }): Promise<AnchorReceipt>;
  setReviewer(req: {
    owner: Address;
    datanetId: number;
    account: Address;
    enabled: boolean;
  }): Promise<AnchorReceipt>;
  /** The root and row count recorded on-chain for a version, if the anchor can read it. */
  getVersion?(datanetId: number, version: number): Promise<{ root: Hex32; rowCount: number } | null>;
}

export interface AnchorCall {
  method: string;
  args: Record<string, unknown>;
}

/** An in-memory Anchor that numbers datanets and versions like the registry and records every call. */
export class MemoryAnchor implements Anchor {
  readonly calls: AnchorCall[] = [];
  private nextId = 1;
  private readonly versions = new Map<number, { root: Hex32; rowCount: number }[]>();
  /** Set to make the next call of that method throw (for failure-path tests). */
  failNext: string | null = null;

  private record(method: string, args: object): void {
    if (this.failNext === method) {
      this.failNext = null;
      throw new Error(`MemoryAnchor: ${method} failed (injected)`);
    }
    this.calls.push({ method, args: { ...args } as Record<string, unknown> });
  }

  async createDatanet(req: Parameters<Anchor['createDatanet']>[0]) {
    this.record('createDatanet', req);
    const datanetId = this.nextId++;
    this.versions.set(datanetId, []);
    return { datanetId };
  }

  async updateMetadata(req: Parameters<Anchor['updateMetadata']>[0]) {
    this.record('updateMetadata', req);
    return {};
  }

  async publishVersion(req: Parameters<Anchor['publishVersion']>[0]) {
    this.record('publishVersion', req);
    const list = this.versions.get(req.datanetId);
    if (!list) throw new Error(`UnknownDatanet(${req.datanetId})`);
    list.push({ root: req.root, rowCount: req.rowCount });
    return { version: list.length };
  }

  async recordContributions(req: Parameters<Anchor['recordContributions']>[0]) {
    this.record('recordContributions', { ...req, contributions: [...req.contributions] });
    return {};
  }

  async grantAccess(req: Parameters<Anchor['grantAccess']>[0]) {
    this.record('grantAccess', req);
    return {};
  }

  async revokeAccess(req: Parameters<Anchor['revokeAccess']>[0]) {
    this.record('revokeAccess', req);
    return {};
  }

  async setReviewer(req: Parameters<Anchor['setReviewer']>[0]) {
    this.record('setReviewer', req);
    return {};
  }

  async getVersion(datanetId: number, version: number) {
    return this.versions.get(datanetId)?.[version - 1] ?? null;
  }
}

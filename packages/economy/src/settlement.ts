/**
 * On-chain settlement of an epoch, and the helpers around it (params, prices, verify, claim,
 * challenge).
 *
 * settleEpoch, in order:
 *   1. n = RewardDistributor.currentEpoch(); params = ProtocolParams.paramsAt(n) (a governance
 *      change scheduled during epoch n applies from n + 1 only — the contract guarantees it and the
 *      settlement reads the epoch's own set).
 *   2. For every stream (consumer, operator, model) with requests metered in epoch n, redeem the
 *      consumer's latest voucher in InferenceEscrow (by the operator's wallet). Each redemption is
 *      recorded before it is sent (and removed if it fails) so a crash cannot lose one; the escrow's
 *      `Redeemed` event is checked against the off-chain split to the wei.
 *   3. Requests of epoch n a redemption did not cover (voucher missing, expired, or signed later)
 *      roll over to epoch n + 1.
 *   4. computeEpoch(bundle) → rewards after penalties → reward tree; publish bundle + tree +
 *      manifest content-addressed; RewardDistributor.postRoot(n, root, total, uri) with
 *      total ≤ pool(n) + carry (checked before sending).
 *   5. Negative-influence flags from the epoch's receipts are recorded (they count from n + 1).
 */
import {
  type ChainPublicClient,
  type ChainWalletClient,
  inferenceEscrowAbi,
  modelRegistryAbi,
  openTokenAbi,
  type ProtocolAddresses,
  type ProtocolParamsValues,
  protocolParamsAbi,
  rewardDistributorAbi,
  writeContractAndWait,
} from '@openledger/chain';
import type { BlobStore } from '@openledger/store';
import { type Address, formatEther, getAddress, type Hex, parseEventLogs } from 'viem';
import {
  type BundleRequest,
  computeEpoch,
  EPOCH_BUNDLE_FORMAT,
  type EpochBundle,
  type EpochParams,
} from './epoch.ts';
import { EconomyError } from './errors.ts';
import { type ModelPrice, splitNetFee } from './fees.ts';
import type { Ledger, MeteredRequest, RedemptionRecord } from './ledger.ts';
import { type RewardClaim, RewardTree, type StandardTreeDump } from './merkle.ts';
import { negativeInfluenceFlags } from './penalties.ts';
import {
  blobUri,
  type EpochManifest,
  type EpochVerification,
  getJsonBlob,
  parseBlobUri,
  publishEpoch,
  verifyPublishedEpoch,
} from './publish.ts';
import { type EscrowDomain, type EscrowView, type SignedVoucher, streamKey } from './vouchers.ts';

export interface EconomyChain {
  publicClient: ChainPublicClient;
  chainId: number;
  contracts: Pick<
    ProtocolAddresses,
    'InferenceEscrow' | 'RewardDistributor' | 'ProtocolParams' | 'ModelRegistry'
  >;
}

// ---- reads -------------------------------------------------------------------------------

export async function readCurrentEpoch(chain: EconomyChain): Promise<number> {
  const e = await chain.publicClient.readContract({
    address: chain.contracts.RewardDistributor,
    abi: rewardDistributorAbi,
    functionName: 'currentEpoch',
  });
  return Number(e);
}

/** ProtocolParams.paramsAt(epoch): the parameter set in force for settlement epoch `epoch`. */
export async function readParamsAt(chain: EconomyChain, epoch: number): Promise<ProtocolParamsValues> {
  const p = await chain.publicClient.readContract({
    address: chain.contracts.ProtocolParams,
    abi: protocolParamsAbi,
    functionName: 'paramsAt',
    args: [BigInt(epoch)],
  });
  return p as unknown as ProtocolParamsValues;
}

export function epochParamsOf(p: ProtocolParamsValues): EpochParams & { platformFee: bigint } {
  return {
    ownerBps: Number(p.ownerBps),
    stakersBps: Number(p.stakersBps),
    contributorsBps: Number(p.contributorsBps),
    penaltyThreshold: Number(p.penaltyThreshold),
    penaltyRewardBps: Number(p.penaltyRewardBps),
    platformFee: BigInt(p.platformFee),
  };
}

/** A model's on-chain price (wei per 1,000 tokens) and owner. */
export async function readModelPrice(
  chain: EconomyChain,
  modelId: bigint,
): Promise<ModelPrice & { owner: Address; deprecated: boolean }> {
  const m = await chain.publicClient.readContract({
    address: chain.contracts.ModelRegistry,
    abi: modelRegistryAbi,
    functionName: 'getModel',
    args: [modelId],
  });
  const [owner, , , , , pricePerKInput, pricePerKOutput, , deprecated] = m as unknown as [
    Address,
    Hex,
    Hex,
    Hex,
    Hex,
    bigint,
    bigint,
    string,
    boolean,
  ];
  return { owner, pricePerKInput, pricePerKOutput, deprecated };
}

export function escrowDomainOf(chain: EconomyChain): EscrowDomain {
  return { chainId: chain.chainId, verifyingContract: chain.contracts.InferenceEscrow };
}

/** InferenceEscrow views for a VoucherBook. */
export function escrowViewOf(chain: EconomyChain): EscrowView {
  const base = { address: chain.contracts.InferenceEscrow, abi: inferenceEscrowAbi } as const;
  const pc = chain.publicClient;
  return {
    balanceOf: (consumer) => pc.readContract({ ...base, functionName: 'balanceOf', args: [consumer] }),
    redeemed: (c, o, m) => pc.readContract({ ...base, functionName: 'redeemed', args: [c, o, m] }),
    redeemedPlatform: (c, o, m) =>
      pc.readContract({ ...base, functionName: 'redeemedPlatform', args: [c, o, m] }),
  };
}

export interface EpochInfo {
  root: Hex;
  total: bigint;
  claimed: bigint;
  postedAt: bigint;
  settler: Address;
  uri: string;
  challenged: boolean;
  voided: boolean;
}

export async function readEpochInfo(chain: EconomyChain, epoch: number): Promise<EpochInfo> {
  const r = (await chain.publicClient.readContract({
    address: chain.contracts.RewardDistributor,
    abi: rewardDistributorAbi,
    functionName: 'epochInfo',
    args: [BigInt(epoch)],
  })) as unknown as [Hex, bigint, bigint, bigint, Address, string, boolean, boolean];
  const [root, total, claimed, postedAt, settler, uri, challenged, voided] = r;
  return { root, total, claimed, postedAt: BigInt(postedAt), settler, uri, challenged, voided };
}

async function readPoolAndCarry(
  chain: EconomyChain,
  epoch: number,
): Promise<{ pool: bigint; carry: bigint }> {
  const base = { address: chain.contracts.RewardDistributor, abi: rewardDistributorAbi } as const;
  const [pool, carry] = await Promise.all([
    chain.publicClient.readContract({ ...base, functionName: 'pool', args: [BigInt(epoch)] }),
    chain.publicClient.readContract({ ...base, functionName: 'carry' }),
  ]);
  return { pool, carry };
}

// ---- settlement --------------------------------------------------------------------------

/** tx hash recorded for a redemption confirmed from the escrow's state after a crash (tx unknown) */
export const CONFIRMED_WITHOUT_TX: Hex = `0x${'0'.repeat(64)}`;

export interface SettleOptions {
  ledger: Ledger;
  blobs: BlobStore;
  chain: EconomyChain;
  /** redeems vouchers whose operator is this wallet's account (others are left to their operator) */
  operator?: ChainWalletClient;
  /** an active Settler staker: posts the root */
  settler: ChainWalletClient;
  /** record negative-influence flags from this epoch's receipts (default true) */
  flagNegativeInfluence?: boolean;
  log?: (line: string) => void;
}

export interface SettlementResult {
  epoch: number;
  root: Hex;
  total: bigint;
  funded: bigint;
  withheld: bigint;
  unassigned: bigint;
  contributors: number;
  requests: number;
  rolledOver: number;
  pool: bigint;
  carryBefore: bigint;
  uri: string;
  manifestId: string;
  redemptions: RedemptionRecord[];
  redeemGas: bigint[];
  postTx: Hex;
  postGas: bigint;
  /** Gas of the `prepareClaims` transactions that followed the post (one per 1,024 words). */
  prepareGas: bigint[];
  /** wall time of the off-chain part (bundle, computation, tree, publication) */
  offchainMs: number;
}

function voucherArgs(sv: SignedVoucher) {
  const v = sv.voucher;
  return [
    {
      consumer: v.consumer,
      operator: v.operator,
      modelId: v.modelId,
      cumulativeAmount: v.cumulativeAmount,
      cumulativePlatformFee: v.cumulativePlatformFee,
      deadline: v.deadline,
    },
    sv.signature,
  ] as const;
}

/** Redeem the latest voucher of every stream with requests in `epoch`. Idempotent. */
export async function redeemVouchers(opts: {
  ledger: Ledger;
  chain: EconomyChain;
  operator: ChainWalletClient;
  epoch: number;
  params: EpochParams;
  log?: (line: string) => void;
}): Promise<{ redemptions: RedemptionRecord[]; gas: bigint[] }> {
  const { ledger, chain, operator, epoch, params } = opts;
  const log = opts.log ?? (() => {});
  const me = operator.account.address.toLowerCase();
  const vouchers = new Map(
    ledger
      .loadVouchers()
      .map((sv) => [streamKey(sv.voucher.consumer, sv.voucher.operator, sv.voucher.modelId), sv]),
  );
  const streams = new Set<string>();
  for (const q of ledger.requestsForEpoch(epoch)) {
    if (q.operator.toLowerCase() === me) streams.add(streamKey(q.consumer, q.operator, q.modelId));
  }
  const view = escrowViewOf(chain);
  // Crash recovery: a redemption recorded but not confirmed (the process stopped between sending and
  // recording the receipt) is confirmed if the escrow already shows it, otherwise retried below.
  for (const r of ledger.redemptions(epoch)) {
    if (r.txHash !== null) continue;
    const done = await view.redeemed(r.consumer, r.operator, r.modelId);
    if (done === r.toAmount) ledger.setRedemptionTx(r, CONFIRMED_WITHOUT_TX);
    else if (done === r.fromAmount) ledger.deleteRedemption(r);
  }
  const block = await chain.publicClient.getBlock();
  const out: RedemptionRecord[] = [];
  const gas: bigint[] = [];
  for (const key of [...streams].sort()) {
    const sv = vouchers.get(key);
    if (!sv) continue;
    const v = sv.voucher;
    const [done, donePlatform] = await Promise.all([
      view.redeemed(v.consumer, v.operator, v.modelId),
      view.redeemedPlatform(v.consumer, v.operator, v.modelId),
    ]);
    if (v.cumulativeAmount <= done) continue;
    if (v.deadline < block.timestamp) {
      log(`voucher of ${key} expired at ${v.deadline}; its requests roll over`);
      continue;
    }
    const net = v.cumulativeAmount - done - (v.cumulativePlatformFee - donePlatform);
    const split = splitNetFee(net, params);
    const rec: RedemptionRecord = {
      epoch,
      consumer: v.consumer,
      operator: v.operator,
      modelId: v.modelId,
      fromAmount: done,
      toAmount: v.cumulativeAmount,
      fromPlatform: donePlatform,
      toPlatform: v.cumulativePlatformFee,
      ...split,
      txHash: null,
    };
    ledger.recordRedemption(rec);
    let receipt: Awaited<ReturnType<typeof writeContractAndWait>>;
    try {
      receipt = await writeContractAndWait(
        operator,
        {
          address: chain.contracts.InferenceEscrow,
          abi: inferenceEscrowAbi,
          functionName: 'redeem',
          args: voucherArgs(sv),
        },
        { publicClient: chain.publicClient },
      );
    } catch (e) {
      ledger.deleteRedemption(rec);
      throw e;
    }
    const [ev] = parseEventLogs({ abi: inferenceEscrowAbi, logs: receipt.logs, eventName: 'Redeemed' });
    if (
      !ev ||
      ev.args.amount !== rec.toAmount - rec.fromAmount ||
      ev.args.ownerShare !== split.owner ||
      ev.args.stakersShare !== split.stakers ||
      ev.args.contributorsShare !== split.contributors
    ) {
      throw new EconomyError(
        'SPLIT_MISMATCH',
        `redeem of ${key}: the escrow's split differs from paramsAt(${epoch}) (tx ${receipt.transactionHash})`,
        500,
      );
    }
    rec.txHash = receipt.transactionHash;
    ledger.setRedemptionTx(rec, receipt.transactionHash);
    out.push(rec);
    gas.push(receipt.gasUsed);
    log(`redeemed ${key}: ${rec.toAmount - rec.fromAmount} wei (contributors ${split.contributors})`);
  }
  return { redemptions: out, gas };
}

/** Build the epoch bundle from the ledger (covered requests only) and roll the others over. */
export function buildEpochBundle(opts: {
  ledger: Ledger;
  epoch: number;
  chainId: number;
  params: EpochParams;
  contracts?: EpochBundle['contracts'];
  /** move uncovered requests to epoch + 1 (default true) */
  rollOver?: boolean;
}): { bundle: EpochBundle; covered: MeteredRequest[]; rolledOver: number } {
  const { ledger, epoch } = opts;
  const redemptions = ledger.redemptions(epoch).filter((r) => r.txHash !== null);
  const ranges = new Map<string, RedemptionRecord[]>();
  for (const r of redemptions) {
    const k = streamKey(r.consumer, r.operator, r.modelId);
    ranges.set(k, [...(ranges.get(k) ?? []), r]);
  }
  const covered: MeteredRequest[] = [];
  const roll: string[] = [];
  for (const q of ledger.requestsForEpoch(epoch)) {
    const rs = ranges.get(streamKey(q.consumer, q.operator, q.modelId)) ?? [];
    if (rs.some((r) => q.cumulative > r.fromAmount && q.cumulative <= r.toAmount)) covered.push(q);
    else if (rs.every((r) => q.cumulative > r.toAmount)) roll.push(q.id);
    // else: paid by a redemption outside this settlement (before it): not attributable, its share carries
  }
  if (opts.rollOver !== false && roll.length > 0) ledger.moveRequests(roll, epoch + 1);
  const receiptIds = new Set(covered.map((q) => q.receiptId).filter((id): id is string => id !== null));
  const stored = ledger.receiptsForEpoch(epoch);
  const receipts = [...receiptIds].sort().map((id) => {
    const r = stored.get(id);
    if (!r) throw new EconomyError('EPOCH_INCONSISTENT', `receipt ${id} is referenced but missing`, 500);
    return r;
  });
  const earners = new Set<string>();
  for (const r of receipts)
    for (const w of r.weights) if (w.weight > 0) earners.add(w.contributor.toLowerCase());
  const flags = ledger.flags().filter((f) => f.epoch < epoch && earners.has(f.contributor));
  const requests: BundleRequest[] = covered.map((q) => ({
    id: q.id,
    consumer: q.consumer.toLowerCase(),
    operator: q.operator.toLowerCase(),
    modelId: q.modelId.toString(),
    tokensIn: q.tokensIn,
    tokensOut: q.tokensOut,
    usage: q.usage.toString(),
    platform: q.platform.toString(),
    cumulative: q.cumulative.toString(),
    receiptId: q.receiptId,
  }));
  const bundle: EpochBundle = {
    format: EPOCH_BUNDLE_FORMAT,
    chainId: opts.chainId,
    epoch,
    ...(opts.contracts ? { contracts: opts.contracts } : {}),
    params: {
      ownerBps: opts.params.ownerBps,
      stakersBps: opts.params.stakersBps,
      contributorsBps: opts.params.contributorsBps,
      penaltyThreshold: opts.params.penaltyThreshold,
      penaltyRewardBps: opts.params.penaltyRewardBps,
    },
    redemptions: redemptions.map((r) => ({
      consumer: r.consumer.toLowerCase(),
      operator: r.operator.toLowerCase(),
      modelId: r.modelId.toString(),
      fromAmount: r.fromAmount.toString(),
      toAmount: r.toAmount.toString(),
      fromPlatform: r.fromPlatform.toString(),
      toPlatform: r.toPlatform.toString(),
      owner: r.owner.toString(),
      stakers: r.stakers.toString(),
      contributors: r.contributors.toString(),
      ...(r.txHash ? { txHash: r.txHash } : {}),
    })),
    requests,
    receipts,
    flags,
  };
  return { bundle, covered, rolledOver: roll.length };
}

export async function settleEpoch(opts: SettleOptions): Promise<SettlementResult> {
  const { ledger, blobs, chain, settler } = opts;
  const log = opts.log ?? (() => {});
  const epoch = await readCurrentEpoch(chain);
  if (ledger.epoch(epoch))
    throw new EconomyError('ALREADY_SETTLED', `epoch ${epoch} is already settled`, 409);
  const raw = await readParamsAt(chain, epoch);
  const params = epochParamsOf(raw);
  let redeemGas: bigint[] = [];
  if (opts.operator) {
    const r = await redeemVouchers({ ledger, chain, operator: opts.operator, epoch, params, log });
    redeemGas = r.gas;
  }
  const t0 = performance.now();
  const { bundle, covered, rolledOver } = buildEpochBundle({
    ledger,
    epoch,
    chainId: chain.chainId,
    params,
    contracts: {
      InferenceEscrow: chain.contracts.InferenceEscrow,
      RewardDistributor: chain.contracts.RewardDistributor,
      ProtocolParams: chain.contracts.ProtocolParams,
    },
  });
  const result = computeEpoch(bundle);
  const published = await publishEpoch(blobs, bundle, result);
  const offchainMs = performance.now() - t0;
  const { pool, carry } = await readPoolAndCarry(chain, epoch);
  if (result.total > pool + carry) {
    throw new EconomyError(
      'TOTAL_EXCEEDS_POOL',
      `total: rewards ${result.total} exceed pool ${pool} + carry ${carry} of epoch ${epoch}`,
      500,
    );
  }
  const receipt = await writeContractAndWait(
    settler,
    {
      address: chain.contracts.RewardDistributor,
      abi: rewardDistributorAbi,
      functionName: 'postRoot',
      args: [BigInt(epoch), result.root, result.total, published.uri],
    },
    { publicClient: chain.publicClient },
  );
  ledger.recordEpoch(
    {
      epoch,
      root: result.root,
      total: result.total,
      funded: result.funded,
      withheld: result.withheld,
      unassigned: result.unassigned,
      manifest: published.manifestId,
      uri: published.uri,
      txHash: receipt.transactionHash,
      settledAt: new Date().toISOString(),
    },
    result.rewards,
  );
  if (opts.flagNegativeInfluence !== false) ledger.addFlags(negativeInfluenceFlags(bundle.receipts, epoch));
  const prepareGas = await prepareClaims(chain, settler, epoch, result.rewards.size, log);
  log(
    `epoch ${epoch}: ${result.rewards.size} contributors, total ${result.total} of pool ${pool} + carry ${carry}, root ${result.root}`,
  );
  return {
    epoch,
    root: result.root,
    total: result.total,
    funded: result.funded,
    withheld: result.withheld,
    unassigned: result.unassigned,
    contributors: result.rewards.size,
    requests: covered.length,
    rolledOver,
    pool,
    carryBefore: carry,
    uri: published.uri,
    manifestId: published.manifestId,
    redemptions: ledger.redemptions(epoch),
    redeemGas,
    postTx: receipt.transactionHash,
    postGas: receipt.gasUsed,
    prepareGas,
    offchainMs,
  };
}

/** Leaves per claimed-flag word and words per `prepareClaims` call, as RewardDistributor has them. */
const LEAVES_PER_WORD = 255;
const WORDS_PER_CALL = 1_024;

/**
 * Marks the epoch's claimed-flag words as prepared so every contributor's claim writes a nonzero
 * word (the worst claim stays under 90,000 gas); about 87 gas per contributor, paid by the settler.
 * The root is already posted and recorded, so a failure here costs claimants gas, not money: it is
 * logged, not thrown.
 */
async function prepareClaims(
  chain: EconomyChain,
  settler: ChainWalletClient,
  epoch: number,
  leaves: number,
  log: (line: string) => void,
): Promise<bigint[]> {
  const gas: bigint[] = [];
  const words = Math.ceil(leaves / LEAVES_PER_WORD);
  for (let first = 0; first < words; first += WORDS_PER_CALL) {
    const count = Math.min(WORDS_PER_CALL, words - first);
    try {
      const receipt = await writeContractAndWait(
        settler,
        {
          address: chain.contracts.RewardDistributor,
          abi: rewardDistributorAbi,
          functionName: 'prepareClaims',
          args: [BigInt(epoch), BigInt(first), BigInt(count)],
        },
        { publicClient: chain.publicClient },
      );
      gas.push(receipt.gasUsed);
    } catch (err) {
      log(
        `epoch ${epoch}: preparing claim words ${first}..${first + count - 1} failed: ${(err as Error).message}`,
      );
      break;
    }
  }
  return gas;
}

// ---- verification, claims, challenges ----------------------------------------------------

/**
 * `openledger rewards verify-epoch <n>`: read the root, total and uri posted on-chain for epoch n,
 * fetch the publication, recompute and compare.
 */
export async function verifyEpoch(
  opts: { chain: EconomyChain; blobs: BlobStore },
  epoch: number,
): Promise<EpochVerification> {
  const info = await readEpochInfo(opts.chain, epoch);
  if (info.postedAt === 0n)
    throw new EconomyError('NOT_FOUND', `epoch: no root posted for epoch ${epoch}`, 404);
  return verifyPublishedEpoch(opts.blobs, info.uri, {
    epoch,
    root: info.root,
    total: info.total,
    chainId: opts.chain.chainId,
  });
}

const treeCache = new Map<string, RewardTree>();

/**
 * The leaf index, amount and Merkle proof of `account` in a published epoch (`uri` from
 * epochInfo): the arguments of RewardDistributor.claim; `isClaimed(epoch, index)` tells whether it
 * was claimed.
 */
export async function rewardProof(
  blobs: BlobStore,
  uri: string,
  account: string,
): Promise<RewardClaim | null> {
  const manifestId = parseBlobUri(uri);
  let tree = treeCache.get(manifestId);
  if (!tree) {
    const manifest = await getJsonBlob<EpochManifest>(blobs, manifestId);
    if (!manifest.tree) return null;
    tree = RewardTree.load(await getJsonBlob<StandardTreeDump>(blobs, manifest.tree));
    if (treeCache.size > 16) treeCache.clear();
    treeCache.set(manifestId, tree);
  }
  if (tree.indexOf(account) === undefined) return null;
  return tree.proof(account);
}

/** Claim `account`'s reward for `epoch` (anyone may submit; the OPEN goes to `account`). */
export async function claimReward(
  opts: { chain: EconomyChain; blobs: BlobStore; wallet: ChainWalletClient },
  epoch: number,
  account?: Address,
): Promise<{ account: Address; amount: bigint; txHash: Hex; gasUsed: bigint }> {
  const who = getAddress(account ?? opts.wallet.account.address);
  const info = await readEpochInfo(opts.chain, epoch);
  if (info.postedAt === 0n)
    throw new EconomyError('NOT_FOUND', `epoch: no root posted for epoch ${epoch}`, 404);
  const p = await rewardProof(opts.blobs, info.uri, who);
  if (!p) throw new EconomyError('NOT_FOUND', `account: ${who} has no reward in epoch ${epoch}`, 404);
  const receipt = await writeContractAndWait(
    opts.wallet,
    {
      address: opts.chain.contracts.RewardDistributor,
      abi: rewardDistributorAbi,
      functionName: 'claim',
      args: [BigInt(epoch), BigInt(p.index), who, p.amount, p.proof],
    },
    { publicClient: opts.chain.publicClient },
  );
  return { account: who, amount: p.amount, txHash: receipt.transactionHash, gasUsed: receipt.gasUsed };
}

/**
 * Challenge epoch `epoch` with the evidence of a failed verification: the evidence (the problems,
 * the differing leaves, the publication it was recomputed from) is published as a blob and its uri
 * passed to RewardDistributor.challenge. Governance then resolves (and slashes the settler).
 */
export async function challengeEpoch(
  opts: { chain: EconomyChain; blobs: BlobStore; wallet: ChainWalletClient },
  epoch: number,
  verification: EpochVerification,
): Promise<{ evidenceUri: string; txHash: Hex }> {
  if (verification.ok)
    throw new EconomyError('NOTHING_TO_CHALLENGE', `epoch ${epoch} verified correctly`, 409);
  const evidence = {
    format: 'openledger-challenge-v1',
    chainId: opts.chain.chainId,
    epoch,
    publication: verification.uri,
    onchainRoot: verification.onchainRoot,
    recomputedRoot: verification.recomputedRoot,
    recomputedTotal: verification.recomputedTotal.toString(),
    problems: verification.problems,
    differences: verification.differences.map((d) => ({
      account: d.account,
      published: d.published.toString(),
      recomputed: d.recomputed.toString(),
    })),
  };
  const { id } = await opts.blobs.put(JSON.stringify(evidence));
  const evidenceUri = blobUri(id);
  // the challenge bonds the governed challengeBond (the parameters in force now) in OPEN: approve
  // exactly that first
  const { publicClient } = opts.chain;
  const [params, token] = await Promise.all([
    publicClient.readContract({
      address: opts.chain.contracts.ProtocolParams,
      abi: protocolParamsAbi,
      functionName: 'params',
    }),
    publicClient.readContract({
      address: opts.chain.contracts.RewardDistributor,
      abi: rewardDistributorAbi,
      functionName: 'open',
    }),
  ]);
  const bond = params.challengeBond;
  const held = await publicClient.readContract({
    address: token,
    abi: openTokenAbi,
    functionName: 'balanceOf',
    args: [opts.wallet.account.address],
  });
  if (held < bond) {
    throw new EconomyError(
      'INSUFFICIENT_BOND',
      `challengeBond: a challenge bonds ${formatEther(bond)} OPEN; ${opts.wallet.account.address} holds ${formatEther(held)}`,
      402,
    );
  }
  if (bond > 0n) {
    await writeContractAndWait(
      opts.wallet,
      {
        address: token,
        abi: openTokenAbi,
        functionName: 'approve',
        args: [opts.chain.contracts.RewardDistributor, bond],
      },
      { publicClient: opts.chain.publicClient },
    );
  }
  const receipt = await writeContractAndWait(
    opts.wallet,
    {
      address: opts.chain.contracts.RewardDistributor,
      abi: rewardDistributorAbi,
      functionName: 'challenge',
      args: [BigInt(epoch), evidenceUri],
    },
    { publicClient: opts.chain.publicClient },
  );
  return { evidenceUri, txHash: receipt.transactionHash };
}

/**
 * Epoch computation — pure and deterministic, shared by the settler (to build the reward tree) and
 * by anyone verifying a published epoch (to recompute it from the published bundle).
 *
 * Input: the epoch's redemptions (what InferenceEscrow actually paid into the reward pool), the
 * metered requests each redemption covered, their attribution receipts, the governed parameters of
 * the epoch and the penalty flags raised before it.
 *
 * 1. Per redemption, the contributors' part C = net − ⌊net·ownerBps/10⁴⌋ − ⌊net·stakersBps/10⁴⌋
 *    (exactly the escrow's split of the redeemed delta) is apportioned over the requests it covers
 *    (stream requests with `cumulative` in (fromAmount, toAmount]) in proportion to each request's
 *    nominal contributors' part (its own usage split the same way), largest remainder.
 * 2. Each request's integer part is split over its receipt's positive weights (largest remainder).
 *    A request without a receipt or without positive influence leaves its part unassigned.
 * 3. Per-contributor sums are reduced by penalties (see penalties.ts).
 * 4. The reward tree is built over (contributor, amount > 0), sorted by address.
 *
 * Everything not paid to a contributor (unassigned prepayment, requests without positive
 * attribution, penalty withholdings) is left out of `total`, stays in RewardDistributor's pool and
 * carries to the next epoch. Hence `total ≤ Σ C ≤ pool(epoch)` always holds.
 */
import type { Hex } from 'viem';
import { EconomyError, invalid } from './errors.ts';
import { type FeeShares, largestRemainder, splitByWeights, splitNetFee } from './fees.ts';
import { RewardTree } from './merkle.ts';
import { applyPenalties, type PenaltyApplication, type PenaltyFlag, penaltyScores } from './penalties.ts';
import { streamKey } from './vouchers.ts';

export const EPOCH_BUNDLE_FORMAT = 'openledger-epoch-bundle-v1';

export interface EpochParams extends FeeShares {
  penaltyThreshold: number;
  penaltyRewardBps: number;
}

export interface ReceiptWeight {
  contributor: string;
  /** attribution weight (influence); only positive totals per contributor earn */
  weight: number;
}

export interface Receipt {
  id: string;
  weights: ReceiptWeight[];
}

/** A metered request as published (amounts as decimal strings in JSON). */
export interface BundleRequest {
  id: string;
  consumer: string;
  operator: string;
  modelId: string;
  tokensIn: number;
  tokensOut: number;
  /** net fee of the request (usage part) */
  usage: string;
  platform: string;
  /** stream cumulative amount after this request */
  cumulative: string;
  receiptId: string | null;
}

export interface BundleRedemption {
  consumer: string;
  operator: string;
  modelId: string;
  fromAmount: string;
  toAmount: string;
  fromPlatform: string;
  toPlatform: string;
  /** the escrow's split of the delta, as recorded */
  owner: string;
  stakers: string;
  contributors: string;
  txHash?: string;
}

export interface EpochBundle {
  format: typeof EPOCH_BUNDLE_FORMAT;
  chainId: number;
  epoch: number;
  contracts?: { InferenceEscrow?: string; RewardDistributor?: string; ProtocolParams?: string };
  params: EpochParams;
  redemptions: BundleRedemption[];
  requests: BundleRequest[];
  receipts: Receipt[];
  /** every penalty flag raised before this epoch against a contributor who earns in it */
  flags: PenaltyFlag[];
}

export interface EpochResult {
  epoch: number;
  /** Σ redemption contributors' parts: what this epoch's redemptions funded */
  funded: bigint;
  /** Σ paid rewards: the `total` posted with the root */
  total: bigint;
  /** withheld by penalties */
  withheld: bigint;
  /** funded but not attributable (no covered request, no positive influence) */
  unassigned: bigint;
  /** contributor (lower-case) → wei before penalties */
  gross: Map<string, bigint>;
  /** contributor (lower-case) → wei paid (the tree's leaves) */
  rewards: Map<string, bigint>;
  penalised: PenaltyApplication[];
  tree: RewardTree | null;
  root: Hex;
}

export const ZERO_ROOT: Hex = `0x${'0'.repeat(64)}`;

function big(field: string, s: string): bigint {
  if (typeof s !== 'string' || !/^[0-9]+$/.test(s))
    throw invalid(field, `must be a decimal integer string, got ${s}`);
  return BigInt(s);
}

/** Recompute an epoch from its bundle. Throws EconomyError on an internally inconsistent bundle. */
export function computeEpoch(bundle: EpochBundle): EpochResult {
  if (bundle.format !== EPOCH_BUNDLE_FORMAT) throw invalid('format', `expected ${EPOCH_BUNDLE_FORMAT}`);
  const params = bundle.params;
  const receipts = new Map<string, Receipt>();
  for (const r of bundle.receipts) {
    if (receipts.has(r.id)) throw invalid('receipts', `duplicate receipt id ${r.id}`);
    receipts.set(r.id, r);
  }
  interface Req {
    q: BundleRequest;
    cumulative: bigint;
    usage: bigint;
  }
  const byStream = new Map<string, Req[]>();
  const seenReq = new Set<string>();
  bundle.requests.forEach((q, i) => {
    if (seenReq.has(q.id)) throw invalid('requests', `duplicate request id ${q.id}`);
    seenReq.add(q.id);
    const k = streamKey(q.consumer, q.operator, BigInt(q.modelId));
    let list = byStream.get(k);
    if (!list) {
      list = [];
      byStream.set(k, list);
    }
    list.push({
      q,
      cumulative: big(`requests[${i}].cumulative`, q.cumulative),
      usage: big(`requests[${i}].usage`, q.usage),
    });
  });
  const cmpReq = (a: Req, b: Req) => {
    if (a.cumulative !== b.cumulative) return a.cumulative < b.cumulative ? -1 : 1;
    return a.q.id < b.q.id ? -1 : a.q.id > b.q.id ? 1 : 0;
  };
  for (const list of byStream.values()) list.sort(cmpReq);

  const gross = new Map<string, bigint>();
  let funded = 0n;
  let unassigned = 0n;
  const covered = new Set<string>();
  bundle.redemptions.forEach((r, i) => {
    const from = big(`redemptions[${i}].fromAmount`, r.fromAmount);
    const to = big(`redemptions[${i}].toAmount`, r.toAmount);
    const pFrom = big(`redemptions[${i}].fromPlatform`, r.fromPlatform);
    const pTo = big(`redemptions[${i}].toPlatform`, r.toPlatform);
    if (to <= from || pTo < pFrom || pTo - pFrom > to - from) {
      throw invalid(`redemptions[${i}]`, 'amount range is empty or platform part exceeds it');
    }
    const net = to - from - (pTo - pFrom);
    const split = splitNetFee(net, params);
    if (
      split.owner !== big(`redemptions[${i}].owner`, r.owner) ||
      split.stakers !== big(`redemptions[${i}].stakers`, r.stakers) ||
      split.contributors !== big(`redemptions[${i}].contributors`, r.contributors)
    ) {
      throw new EconomyError(
        'EPOCH_INCONSISTENT',
        `redemptions[${i}]: recorded split differs from the escrow's rule`,
      );
    }
    funded += split.contributors;
    const list = byStream.get(streamKey(r.consumer, r.operator, BigInt(r.modelId))) ?? [];
    const reqs = list.filter((r) => r.cumulative > from && r.cumulative <= to);
    for (const r of reqs) {
      if (covered.has(r.q.id))
        throw new EconomyError('EPOCH_INCONSISTENT', `request ${r.q.id} covered twice`);
      covered.add(r.q.id);
    }
    const nominal = reqs.map((r) => splitNetFee(r.usage, params).contributors);
    const parts = largestRemainder(
      split.contributors,
      nominal,
      reqs.map((r) => r.q.id),
    );
    let assignedHere = 0n;
    reqs.forEach((r, j) => {
      const part = parts[j];
      if (part === 0n) return;
      const receipt = r.q.receiptId === null ? undefined : receipts.get(r.q.receiptId);
      if (!receipt) return;
      const split2 = splitByWeights(part, receipt.weights);
      for (const [c, a] of split2) {
        gross.set(c, (gross.get(c) ?? 0n) + a);
        assignedHere += a;
      }
    });
    unassigned += split.contributors - assignedHere;
  });
  const notCovered = bundle.requests.filter((q) => !covered.has(q.id));
  if (notCovered.length > 0) {
    throw new EconomyError(
      'EPOCH_INCONSISTENT',
      `requests: ${notCovered.length} published requests are not covered by a redemption (first ${notCovered[0].id})`,
    );
  }
  const scores = penaltyScores(bundle.flags, bundle.epoch);
  const { paid, withheld, penalised } = applyPenalties(gross, scores, params);
  const sorted = [...paid.entries()].filter(([, a]) => a > 0n).sort((a, b) => (a[0] < b[0] ? -1 : 1));
  const rewards = new Map(sorted);
  const tree = sorted.length > 0 ? RewardTree.of(sorted) : null;
  const total = sorted.reduce((s, [, a]) => s + a, 0n);
  return {
    epoch: bundle.epoch,
    funded,
    total,
    withheld,
    unassigned,
    gross,
    rewards,
    penalised,
    tree,
    root: tree ? tree.root : ZERO_ROOT,
  };
}

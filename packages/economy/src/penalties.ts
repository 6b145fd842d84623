/**
 * Contributor penalties.
 *
 * Attribution checks raise flags against a contributor — `negative-influence` (their data pushed an
 * answer the wrong way), `duplicate` (near-copies of existing rows), `mislabel` (a detected wrong
 * label) — each with points, a human reason and optional evidence (a blob id, a receipt id). A
 * contributor's penalty score is the sum of the points of their flags; scores and reasons are
 * visible to the contributor (`penaltyReport`).
 *
 * Effect (governed by ProtocolParams): when settling epoch n, a contributor whose score from flags
 * raised in epochs < n (strictly earlier: a penalty reduces *later* rewards, never the epoch in which
 * it was found) is strictly above `penaltyThreshold` receives ⌊gross · penaltyRewardBps / 10 000⌋.
 * The withheld wei are simply not put in the reward tree: they stay in RewardDistributor's pool and
 * carry to the next epoch (`postRoot` carries `pool + carry − total`), so no OPEN is destroyed or
 * re-routed, and the published epoch records gross, paid and withheld per penalised contributor.
 * Default points (a policy, not governed): negative-influence 1, duplicate 10, mislabel 25.
 */

import { invalid } from './errors.ts';
import { BPS } from './fees.ts';

export type PenaltyKind = 'negative-influence' | 'duplicate' | 'mislabel';
export const PENALTY_KINDS: readonly PenaltyKind[] = ['negative-influence', 'duplicate', 'mislabel'];

export const DEFAULT_PENALTY_POINTS: Readonly<Record<PenaltyKind, number>> = {
  'negative-influence': 1,
  duplicate: 10,
  mislabel: 25,
};

export interface PenaltyFlag {
  contributor: string;
  kind: PenaltyKind;
  points: number;
  reason: string;
  /** epoch in which the flag was raised */
  epoch: number;
  evidence?: string;
}

export interface PenaltyScore {
  contributor: string;
  score: number;
  flags: PenaltyFlag[];
}

export interface PenaltyPolicy {
  /** score strictly above this reduces rewards (ProtocolParams.penaltyThreshold) */
  penaltyThreshold: number;
  /** what a penalised contributor still receives, in bps (ProtocolParams.penaltyRewardBps) */
  penaltyRewardBps: number;
}

export function checkFlag(f: PenaltyFlag): PenaltyFlag {
  if (typeof f.contributor !== 'string' || !/^0x[0-9a-fA-F]{40}$/.test(f.contributor)) {
    throw invalid('contributor', `not an address: ${f.contributor}`);
  }
  if (!PENALTY_KINDS.includes(f.kind)) throw invalid('kind', `must be one of ${PENALTY_KINDS.join(', ')}`);
  if (!Number.isSafeInteger(f.points) || f.points < 0 || f.points > 1_000_000) {
    throw invalid('points', `must be an integer in [0, 1000000], got ${f.points}`);
  }
  if (typeof f.reason !== 'string' || f.reason.length === 0 || f.reason.length > 1000) {
    throw invalid('reason', 'must be a non-empty string of at most 1000 characters');
  }
  if (!Number.isSafeInteger(f.epoch) || f.epoch < 0) throw invalid('epoch', `must be a non-negative integer`);
  return { ...f, contributor: f.contributor.toLowerCase() };
}

/** A flag with the default points for its kind. */
export function flag(
  contributor: string,
  kind: PenaltyKind,
  reason: string,
  epoch: number,
  evidence?: string,
): PenaltyFlag {
  return checkFlag({ contributor, kind, points: DEFAULT_PENALTY_POINTS[kind], reason, epoch, evidence });
}

/** Scores from flags raised before `beforeEpoch` (all flags if omitted), per contributor (lower-case). */
export function penaltyScores(
  flags: readonly PenaltyFlag[],
  beforeEpoch?: number,
): Map<string, PenaltyScore> {
  const out = new Map<string, PenaltyScore>();
  for (const f of flags) {
    if (beforeEpoch !== undefined && f.epoch >= beforeEpoch) continue;
    const k = f.contributor.toLowerCase();
    let s = out.get(k);
    if (!s) {
      s = { contributor: k, score: 0, flags: [] };
      out.set(k, s);
    }
    s.score += f.points;
    s.flags.push(f);
  }
  return out;
}

export function isPenalised(score: number, policy: PenaltyPolicy): boolean {
  return score > policy.penaltyThreshold;
}

export interface PenaltyApplication {
  contributor: string;
  score: number;
  gross: bigint;
  paid: bigint;
  withheld: bigint;
}

/**
 * Apply penalties to gross per-contributor amounts. Returns the paid amounts, the total withheld
 * (stays in the pool) and one record per penalised contributor (sorted by address).
 */
export function applyPenalties(
  gross: ReadonlyMap<string, bigint>,
  scores: ReadonlyMap<string, { score: number }>,
  policy: PenaltyPolicy,
): { paid: Map<string, bigint>; withheld: bigint; penalised: PenaltyApplication[] } {
  if (
    !Number.isInteger(policy.penaltyRewardBps) ||
    policy.penaltyRewardBps < 0 ||
    policy.penaltyRewardBps > 10_000
  ) {
    throw invalid('penaltyRewardBps', `must be an integer in [0, 10000], got ${policy.penaltyRewardBps}`);
  }
  const paid = new Map<string, bigint>();
  const penalised: PenaltyApplication[] = [];
  let withheld = 0n;
  for (const [c, g] of gross) {
    const s = scores.get(c.toLowerCase());
    if (s && isPenalised(s.score, policy)) {
      const p = (g * BigInt(policy.penaltyRewardBps)) / BPS;
      withheld += g - p;
      penalised.push({ contributor: c, score: s.score, gross: g, paid: p, withheld: g - p });
      if (p > 0n) paid.set(c, p);
    } else if (g > 0n) {
      paid.set(c, g);
    }
  }
  penalised.sort((a, b) => (a.contributor < b.contributor ? -1 : a.contributor > b.contributor ? 1 : 0));
  return { paid, withheld, penalised };
}

/**
 * Negative-influence flags from receipts: one flag per (receipt, contributor) whose summed weight in
 * that receipt is negative.
 */
export function negativeInfluenceFlags(
  receipts: readonly { id: string; weights: readonly { contributor: string; weight: number | bigint }[] }[],
  epoch: number,
  points = DEFAULT_PENALTY_POINTS['negative-influence'],
): PenaltyFlag[] {
  const out: PenaltyFlag[] = [];
  for (const r of receipts) {
    const sums = new Map<string, number>();
    for (const w of r.weights) {
      const k = w.contributor.toLowerCase();
      sums.set(k, (sums.get(k) ?? 0) + Number(w.weight));
    }
    for (const [c, s] of [...sums].sort((a, b) => (a[0] < b[0] ? -1 : 1))) {
      if (s < 0) {
        out.push(
          checkFlag({
            contributor: c,
            kind: 'negative-influence',
            points,
            reason: `negative influence ${s.toPrecision(4)} on receipt ${r.id}`,
            epoch,
            evidence: r.id,
          }),
        );
      }
    }
  }
  return out;
}

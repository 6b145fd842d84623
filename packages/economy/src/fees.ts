/**
 * Fee math, all in bigint wei.
 *
 * Fee of one request (PRODUCT.md): `Fee = T_in/1000 · R_in + T_out/1000 · R_out + F_platform`,
 * with `R_in` / `R_out` the model's on-chain prices in wei of OPEN per 1,000 tokens and
 * `F_platform` the governed platform fee (wei per request).
 *
 * Rounding: the usage part is rounded UP once over the sum,
 *   `usage = ceil((T_in·R_in + T_out·R_out) / 1000)`,
 * so the operator is never short-changed and a consumer overpays by less than 1 wei per request.
 * `net = usage` (= Fee − F_platform) is the part shared between model owner, stakers and contributors.
 *
 * Net split — identical to `InferenceEscrow.redeem` so off-chain accounting equals on-chain to the wei:
 *   owner = ⌊net·ownerBps/10 000⌋, stakers = ⌊net·stakersBps/10 000⌋, contributors = net − owner − stakers.
 * Because the escrow splits the *redeemed delta* of a voucher (which may cover many requests), the
 * settlement applies `splitNetFee` to each redemption's net, never to the sum of per-request parts.
 *
 * The contributors' part of one request is split over the receipt's attribution weights (positive
 * weights only) with a deterministic largest-remainder rounding: every contributor gets
 * ⌊amount·w/W⌋, the leftover wei (fewer than the number of contributors) go one each to the largest
 * remainders, ties broken by ascending key. The parts always sum exactly to the amount.
 */
import { EconomyError, invalid } from './errors.ts';

export const BPS = 10_000n;
export const TOKENS_PER_PRICE_UNIT = 1000n;

export interface ModelPrice {
  /** wei of OPEN per 1,000 input tokens */
  pricePerKInput: bigint;
  /** wei of OPEN per 1,000 output tokens */
  pricePerKOutput: bigint;
}

export interface FeeShares {
  ownerBps: number;
  stakersBps: number;
  contributorsBps: number;
}

export interface RequestFee {
  /** T_in·R_in/1000 + T_out·R_out/1000, rounded up once: the net fee shared by owner/stakers/contributors */
  usage: bigint;
  /** F_platform */
  platform: bigint;
  /** usage + platform: what the consumer's voucher must add */
  total: bigint;
}

export interface NetSplit {
  owner: bigint;
  stakers: bigint;
  contributors: bigint;
}

function checkNonNegative(field: string, v: bigint): void {
  if (typeof v !== 'bigint') throw invalid(field, `must be a bigint, got ${typeof v}`);
  if (v < 0n) throw invalid(field, `must be ≥ 0, got ${v}`);
}

function checkTokens(field: string, v: number | bigint): bigint {
  if (typeof v === 'number') {
    if (!Number.isSafeInteger(v) || v < 0) throw invalid(field, `must be a non-negative integer, got ${v}`);
    return BigInt(v);
  }
  checkNonNegative(field, v);
  return v;
}

/** ceil(a / b) for a ≥ 0, b > 0 */
export function ceilDiv(a: bigint, b: bigint): bigint {
  return (a + b - 1n) / b;
}

/** Fee of one request (see the module comment for the rounding). */
export function computeFee(
  tokensIn: number | bigint,
  tokensOut: number | bigint,
  price: ModelPrice,
  platformFee: bigint,
): RequestFee {
  const tIn = checkTokens('tokensIn', tokensIn);
  const tOut = checkTokens('tokensOut', tokensOut);
  checkNonNegative('pricePerKInput', price.pricePerKInput);
  checkNonNegative('pricePerKOutput', price.pricePerKOutput);
  checkNonNegative('platformFee', platformFee);
  const usage = ceilDiv(tIn * price.pricePerKInput + tOut * price.pricePerKOutput, TOKENS_PER_PRICE_UNIT);
  return { usage, platform: platformFee, total: usage + platformFee };
}

export function checkShares(shares: FeeShares): void {
  for (const k of ['ownerBps', 'stakersBps', 'contributorsBps'] as const) {
    const v = shares[k];
    if (!Number.isInteger(v) || v < 0 || v > 10_000)
      throw invalid(k, `must be an integer in [0, 10000], got ${v}`);
  }
  const sum = shares.ownerBps + shares.stakersBps + shares.contributorsBps;
  if (sum !== 10_000)
    throw invalid('shares', `ownerBps + stakersBps + contributorsBps must be 10000, got ${sum}`);
}

/** Split a net fee exactly as InferenceEscrow.redeem does. */
export function splitNetFee(net: bigint, shares: FeeShares): NetSplit {
  checkNonNegative('net', net);
  checkShares(shares);
  const owner = (net * BigInt(shares.ownerBps)) / BPS;
  const stakers = (net * BigInt(shares.stakersBps)) / BPS;
  return { owner, stakers, contributors: net - owner - stakers };
}

/**
 * Largest-remainder apportionment of `amount` over non-negative integer `weights`.
 * Returns parts in input order; `Σ parts = amount` whenever Σ weights > 0 (all zeros → all-zero parts
 * and the caller must treat the amount as unassigned). `keys` break ties between equal remainders
 * (ascending string order; without keys, lower index first).
 */
export function largestRemainder(
  amount: bigint,
  weights: readonly bigint[],
  keys?: readonly string[],
): bigint[] {
  checkNonNegative('amount', amount);
  let total = 0n;
  for (let i = 0; i < weights.length; i++) {
    if (weights[i] < 0n) throw invalid(`weights[${i}]`, `must be ≥ 0, got ${weights[i]}`);
    total += weights[i];
  }
  const parts = new Array<bigint>(weights.length).fill(0n);
  if (total === 0n || amount === 0n) return parts;
  const rems = new Array<bigint>(weights.length);
  let assigned = 0n;
  for (let i = 0; i < weights.length; i++) {
    const p = amount * weights[i];
    parts[i] = p / total;
    rems[i] = p % total;
    assigned += parts[i];
  }
  let left = Number(amount - assigned);
  if (left === 0) return parts;
  const n = weights.length;
  if (left * n <= 64) {
    // few leftovers (the per-receipt case): repeated selection, no allocation
    const taken = new Uint8Array(n);
    for (; left > 0; left--) {
      let best = -1;
      for (let i = 0; i < n; i++) {
        if (taken[i] || weights[i] === 0n) continue;
        if (best < 0 || rems[i] > rems[best] || (rems[i] === rems[best] && before(i, best, keys))) best = i;
      }
      if (best < 0) break;
      taken[best] = 1;
      parts[best] += 1n;
    }
  } else {
    const order: number[] = [];
    for (let i = 0; i < n; i++) if (weights[i] > 0n) order.push(i);
    order.sort((a, b) => {
      if (rems[a] !== rems[b]) return rems[a] > rems[b] ? -1 : 1;
      return before(a, b, keys) ? -1 : 1;
    });
    for (const i of order) {
      if (left === 0) break;
      parts[i] += 1n;
      left--;
    }
  }
  if (left !== 0) throw new EconomyError('INTERNAL', 'largest remainder did not converge', 500);
  return parts;
}

/** tie-break: ascending key, then lower index */
function before(a: number, b: number, keys?: readonly string[]): boolean {
  if (keys && keys[a] !== keys[b]) return keys[a] < keys[b];
  return a < b;
}

/**
 * Exact integer weights from attribution scores. A `number` is converted exactly (an IEEE double is
 * m·2^e, so all inputs are scaled by the same power of two — proportions are kept bit for bit, no
 * rounding); bigints pass through. Non-positive and non-finite weights become 0 (only positive
 * influence earns).
 */
export function exactWeights(weights: readonly (number | bigint)[]): bigint[] {
  const mant: bigint[] = [];
  const exps: number[] = [];
  let minExp = 0;
  for (const w of weights) {
    if (typeof w === 'bigint') {
      mant.push(w > 0n ? w : 0n);
      exps.push(0);
      continue;
    }
    if (!Number.isFinite(w) || w <= 0) {
      mant.push(0n);
      exps.push(0);
      continue;
    }
    const [m, e] = decomposeDouble(w);
    mant.push(m);
    exps.push(e);
    if (e < minExp) minExp = e;
  }
  return mant.map((m, i) => (m === 0n ? 0n : m << BigInt(exps[i] - minExp)));
}

/** x = m · 2^e exactly, with m a positive odd integer (x finite, > 0). */
const f64 = new DataView(new ArrayBuffer(8));

function decomposeDouble(x: number): [bigint, number] {
  const view = f64;
  view.setFloat64(0, x);
  const hi = view.getUint32(0);
  const lo = view.getUint32(4);
  const biasedExp = (hi >>> 20) & 0x7ff;
  // the 53-bit significand as an exact Number (< 2^53)
  let m = (hi & 0xfffff) * 2 ** 32 + lo;
  let e: number;
  if (biasedExp === 0) {
    e = -1074;
  } else {
    m += 2 ** 52;
    e = biasedExp - 1075;
  }
  while (m > 0 && m % 2 === 0) {
    m /= 2;
    e++;
  }
  return [BigInt(m), e];
}

export interface Weighted {
  contributor: string;
  weight: number | bigint;
}

/**
 * Split `amount` over a receipt's weights. Weights of the same contributor are summed first
 * (exactly); only positive totals earn. Returns contributor (lower-cased) → wei; the values sum to
 * `amount`, or the map is empty when no contributor has positive influence (the caller keeps the
 * amount unassigned).
 */
export function splitByWeights(amount: bigint, weights: readonly Weighted[]): Map<string, bigint> {
  const n = weights.length;
  const mant = new Array<bigint>(n);
  const exps = new Array<number>(n);
  let minExp = 0;
  for (let i = 0; i < n; i++) {
    const w = weights[i].weight;
    if (typeof w === 'bigint') {
      mant[i] = w;
      exps[i] = 0;
    } else if (!Number.isFinite(w) || w === 0) {
      mant[i] = 0n;
      exps[i] = 0;
    } else {
      const [m, e] = decomposeDouble(w < 0 ? -w : w);
      mant[i] = w < 0 ? -m : m;
      exps[i] = e;
      if (e < minExp) minExp = e;
    }
  }
  // exact signed sums per contributor on one power-of-two scale
  const byKey = new Map<string, bigint>();
  for (let i = 0; i < n; i++) {
    if (mant[i] === 0n) continue;
    const shift = exps[i] - minExp;
    const v = shift === 0 ? mant[i] : mant[i] << BigInt(shift);
    const k = weights[i].contributor.toLowerCase();
    const prev = byKey.get(k);
    byKey.set(k, prev === undefined ? v : prev + v);
  }
  const keys: string[] = [];
  for (const [k, v] of byKey) if (v > 0n) keys.push(k);
  const out = new Map<string, bigint>();
  if (keys.length === 0) return out;
  keys.sort();
  const parts = largestRemainder(
    amount,
    keys.map((k) => byKey.get(k)!),
    keys,
  );
  for (let i = 0; i < keys.length; i++) if (parts[i] > 0n) out.set(keys[i], parts[i]);
  return out;
}

/** Like exactWeights but keeps the sign (non-finite → 0), all on one common power-of-two scale. */
export function exactSigned(weights: readonly (number | bigint)[]): bigint[] {
  const mags = exactWeights(weights.map((w) => (typeof w === 'bigint' ? (w < 0n ? -w : w) : Math.abs(w))));
  return mags.map((m, i) => {
    const w = weights[i];
    const negative = typeof w === 'bigint' ? w < 0n : w < 0;
    return negative ? -m : m;
  });
}

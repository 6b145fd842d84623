/**
 * Payment vouchers (EIP-712), as InferenceEscrow.redeem checks them.
 *
 * A voucher authorises a running total for one (consumer, operator, modelId) stream:
 * `cumulativeAmount` (fee + platform, all requests so far) and `cumulativePlatformFee` (the platform
 * part of it). The escrow pays `cumulativeAmount − redeemed` on redeem, so only the latest voucher
 * of a stream matters and an old one can never be paid twice.
 *
 * `VoucherBook` is the operator's side: it accepts a voucher only if the signature is the consumer's
 * (low-s, like OpenZeppelin's ECDSA), it has not expired, it strictly raises the stream's total
 * (replays refused), its platform part is consistent, and the consumer can pay it:
 *   available(consumer) = escrow.balanceOf(consumer) − Σ_streams (latest cumulativeAmount − escrow.redeemed)
 * i.e. the escrowed balance minus everything already authorised to any operator but not yet redeemed.
 * (Other operators' unredeemed vouchers are invisible to this book; an operator that accepts more than
 * the escrow can cover takes that risk — `redeem` reverts with InsufficientBalance.)
 */
import {
  type Address,
  getAddress,
  type Hex,
  hashStruct,
  hashTypedData,
  isAddress,
  parseSignature,
  recoverTypedDataAddress,
  type TypedDataDomain,
} from 'viem';
import { EconomyError, invalid } from './errors.ts';

export const ESCROW_DOMAIN_NAME = 'OpenLedger InferenceEscrow';
export const ESCROW_DOMAIN_VERSION = '1';

export const VOUCHER_TYPES = {
  Voucher: [
    { name: 'consumer', type: 'address' },
    { name: 'operator', type: 'address' },
    { name: 'modelId', type: 'uint256' },
    { name: 'cumulativeAmount', type: 'uint256' },
    { name: 'cumulativePlatformFee', type: 'uint256' },
    { name: 'deadline', type: 'uint256' },
  ],
} as const;

export interface Voucher {
  consumer: Address;
  operator: Address;
  modelId: bigint;
  cumulativeAmount: bigint;
  cumulativePlatformFee: bigint;
  /** unix seconds */
  deadline: bigint;
}

export interface SignedVoucher {
  voucher: Voucher;
  signature: Hex;
}

export interface EscrowDomain {
  chainId: number | bigint;
  verifyingContract: Address;
}

/** Anything that signs EIP-712 data: a viem LocalAccount, or a wrapper around a wallet client. */
export interface TypedDataSigner {
  address: Address;
  signTypedData(args: {
    domain: TypedDataDomain;
    types: typeof VOUCHER_TYPES;
    primaryType: 'Voucher';
    message: Voucher;
  }): Promise<Hex>;
}

const SECP256K1_HALF_N = 0x7fffffffffffffffffffffffffffffff5d576e7357a4501ddfe92f46681b20a0n;
const MAX_UINT256 = (1n << 256n) - 1n;

export function escrowDomain(d: EscrowDomain): TypedDataDomain {
  return {
    name: ESCROW_DOMAIN_NAME,
    version: ESCROW_DOMAIN_VERSION,
    chainId: Number(d.chainId),
    verifyingContract: getAddress(d.verifyingContract),
  };
}

export function checkVoucher(v: Voucher): Voucher {
  for (const k of ['consumer', 'operator'] as const) {
    if (typeof v[k] !== 'string' || !isAddress(v[k], { strict: false }))
      throw invalid(k, `not an address: ${v[k]}`);
  }
  for (const k of ['modelId', 'cumulativeAmount', 'cumulativePlatformFee', 'deadline'] as const) {
    if (typeof v[k] !== 'bigint' || v[k] < 0n || v[k] > MAX_UINT256) {
      throw invalid(k, `must be a uint256 bigint, got ${String(v[k])}`);
    }
  }
  if (v.cumulativePlatformFee > v.cumulativeAmount) {
    throw invalid(
      'cumulativePlatformFee',
      `must be ≤ cumulativeAmount (${v.cumulativeAmount}), got ${v.cumulativePlatformFee}`,
    );
  }
  return { ...v, consumer: getAddress(v.consumer), operator: getAddress(v.operator) };
}

export function voucherTypedData(domain: EscrowDomain, v: Voucher) {
  return {
    domain: escrowDomain(domain),
    types: VOUCHER_TYPES,
    primaryType: 'Voucher' as const,
    message: checkVoucher(v),
  };
}

/** EIP-712 digest (what the consumer signs). */
export function voucherDigest(domain: EscrowDomain, v: Voucher): Hex {
  return hashTypedData(voucherTypedData(domain, v));
}

/** EIP-712 struct hash of the voucher (without the domain). */
export function voucherStructHash(v: Voucher): Hex {
  return hashStruct({ data: checkVoucher(v), primaryType: 'Voucher', types: VOUCHER_TYPES });
}

export async function signVoucher(signer: TypedDataSigner, domain: EscrowDomain, v: Voucher): Promise<Hex> {
  const td = voucherTypedData(domain, v);
  if (getAddress(signer.address) !== td.message.consumer) {
    throw invalid(
      'consumer',
      `the signer ${signer.address} is not the voucher's consumer ${td.message.consumer}`,
    );
  }
  return signer.signTypedData(td);
}

/** The address that signed, or undefined for a malformed / high-s signature. */
export async function recoverVoucherSigner(
  domain: EscrowDomain,
  v: Voucher,
  signature: Hex,
): Promise<Address | undefined> {
  try {
    const sig = parseSignature(signature);
    if (BigInt(sig.s) > SECP256K1_HALF_N) return undefined;
    return await recoverTypedDataAddress({ ...voucherTypedData(domain, v), signature });
  } catch {
    return undefined;
  }
}

export async function verifyVoucher(domain: EscrowDomain, v: Voucher, signature: Hex): Promise<boolean> {
  const signer = await recoverVoucherSigner(domain, v, signature);
  return signer !== undefined && signer === getAddress(v.consumer);
}

/**
 * The consumer's next voucher of a stream after a request of fee `total` (of which `platform`).
 */
export function nextVoucher(
  prev: Pick<Voucher, 'cumulativeAmount' | 'cumulativePlatformFee'> | undefined,
  stream: { consumer: Address; operator: Address; modelId: bigint },
  fee: { total: bigint; platform: bigint },
  deadline: bigint,
): Voucher {
  return {
    consumer: stream.consumer,
    operator: stream.operator,
    modelId: stream.modelId,
    cumulativeAmount: (prev?.cumulativeAmount ?? 0n) + fee.total,
    cumulativePlatformFee: (prev?.cumulativePlatformFee ?? 0n) + fee.platform,
    deadline,
  };
}

/** What the book needs from the chain (InferenceEscrow views). */
export interface EscrowView {
  balanceOf(consumer: Address): Promise<bigint>;
  redeemed(consumer: Address, operator: Address, modelId: bigint): Promise<bigint>;
  redeemedPlatform(consumer: Address, operator: Address, modelId: bigint): Promise<bigint>;
}

/** Durable storage of each stream's latest voucher (the Ledger implements it). */
export interface VoucherPersistence {
  loadVouchers(): SignedVoucher[];
  saveVoucher(v: SignedVoucher): void;
}

export interface AcceptedVoucher extends SignedVoucher {
  /** what this voucher adds to the stream's total */
  delta: bigint;
  platformDelta: bigint;
}

export function streamKey(consumer: string, operator: string, modelId: bigint): string {
  return `${consumer.toLowerCase()}/${operator.toLowerCase()}/${modelId}`;
}

export class VoucherBook {
  readonly domain: EscrowDomain;
  private readonly escrow: EscrowView;
  private readonly persistence?: VoucherPersistence;
  private readonly now: () => bigint;
  private readonly latestByStream = new Map<string, SignedVoucher>();
  private readonly locks = new Map<string, Promise<unknown>>();

  constructor(opts: {
    domain: EscrowDomain;
    escrow: EscrowView;
    persistence?: VoucherPersistence;
    /** unix seconds; defaults to the wall clock */
    now?: () => bigint;
  }) {
    this.domain = opts.domain;
    this.escrow = opts.escrow;
    this.persistence = opts.persistence;
    this.now = opts.now ?? (() => BigInt(Math.floor(Date.now() / 1000)));
    for (const sv of this.persistence?.loadVouchers() ?? []) {
      this.latestByStream.set(streamKey(sv.voucher.consumer, sv.voucher.operator, sv.voucher.modelId), sv);
    }
  }

  latest(consumer: string, operator: string, modelId: bigint): SignedVoucher | undefined {
    return this.latestByStream.get(streamKey(consumer, operator, modelId));
  }

  /** Every stream's latest voucher. */
  streams(): SignedVoucher[] {
    return [...this.latestByStream.values()];
  }

  /** escrow balance minus the consumer's authorised-but-unredeemed spend known to this book */
  async available(consumer: Address): Promise<bigint> {
    const balance = await this.escrow.balanceOf(getAddress(consumer));
    return balance - (await this.unredeemed(consumer));
  }

  private async unredeemed(consumer: Address, except?: string): Promise<bigint> {
    let sum = 0n;
    const c = consumer.toLowerCase();
    for (const [key, sv] of this.latestByStream) {
      if (key === except || sv.voucher.consumer.toLowerCase() !== c) continue;
      const r = await this.escrow.redeemed(sv.voucher.consumer, sv.voucher.operator, sv.voucher.modelId);
      if (sv.voucher.cumulativeAmount > r) sum += sv.voucher.cumulativeAmount - r;
    }
    return sum;
  }

  /**
   * Validate and record a voucher. With `expect`, the voucher must add at least `expect.total` and
   * exactly `expect.platform` of platform fee (the fee of the request it pays for).
   * Throws EconomyError: INVALID_SIGNATURE (401), VOUCHER_EXPIRED (400), VOUCHER_REPLAY (409),
   * INVALID_ARGUMENT (400), UNDERPAID (402), INSUFFICIENT_BALANCE (402). Nothing changes on error.
   */
  async accept(
    voucher: Voucher,
    signature: Hex,
    expect?: { total: bigint; platform: bigint },
  ): Promise<AcceptedVoucher> {
    const v = checkVoucher(voucher);
    // Serialise per consumer: the balance check must see every earlier acceptance.
    const lockKey = v.consumer.toLowerCase();
    const prev = this.locks.get(lockKey) ?? Promise.resolve();
    const run = prev.catch(() => undefined).then(() => this.acceptLocked(v, signature, expect));
    this.locks.set(lockKey, run);
    try {
      return await run;
    } finally {
      if (this.locks.get(lockKey) === run) this.locks.delete(lockKey);
    }
  }

  private async acceptLocked(
    v: Voucher,
    signature: Hex,
    expect?: { total: bigint; platform: bigint },
  ): Promise<AcceptedVoucher> {
    if (v.deadline <= this.now()) {
      throw new EconomyError('VOUCHER_EXPIRED', `deadline: voucher expired at ${v.deadline}`, 400);
    }
    if (!(await verifyVoucher(this.domain, v, signature))) {
      throw new EconomyError('INVALID_SIGNATURE', `signature: not signed by the consumer ${v.consumer}`, 401);
    }
    const key = streamKey(v.consumer, v.operator, v.modelId);
    const [onchain, onchainPlatform] = await Promise.all([
      this.escrow.redeemed(v.consumer, v.operator, v.modelId),
      this.escrow.redeemedPlatform(v.consumer, v.operator, v.modelId),
    ]);
    const last = this.latestByStream.get(key)?.voucher;
    const prevAmount = last && last.cumulativeAmount > onchain ? last.cumulativeAmount : onchain;
    const prevPlatform =
      last && last.cumulativePlatformFee > onchainPlatform ? last.cumulativePlatformFee : onchainPlatform;
    if (v.cumulativeAmount <= prevAmount) {
      throw new EconomyError(
        'VOUCHER_REPLAY',
        `cumulativeAmount: must exceed the stream's authorised total ${prevAmount}, got ${v.cumulativeAmount}`,
        409,
      );
    }
    if (v.cumulativePlatformFee < prevPlatform) {
      throw invalid(
        'cumulativePlatformFee',
        `must be ≥ the stream's authorised platform total ${prevPlatform}, got ${v.cumulativePlatformFee}`,
      );
    }
    const delta = v.cumulativeAmount - prevAmount;
    const platformDelta = v.cumulativePlatformFee - prevPlatform;
    if (platformDelta > delta) {
      throw invalid(
        'cumulativePlatformFee',
        `platform increase ${platformDelta} exceeds the amount increase ${delta}`,
      );
    }
    if (expect) {
      if (delta < expect.total) {
        throw new EconomyError(
          'UNDERPAID',
          `cumulativeAmount: adds ${delta}, the request costs ${expect.total}`,
          402,
        );
      }
      if (platformDelta !== expect.platform) {
        throw invalid('cumulativePlatformFee', `must add exactly ${expect.platform}, adds ${platformDelta}`);
      }
    }
    const balance = await this.escrow.balanceOf(v.consumer);
    const others = await this.unredeemed(v.consumer, key);
    const needed = v.cumulativeAmount - onchain;
    if (others + needed > balance) {
      throw new EconomyError(
        'INSUFFICIENT_BALANCE',
        `cumulativeAmount: escrow balance ${balance} minus unredeemed ${others} cannot cover ${needed}`,
        402,
      );
    }
    const sv: SignedVoucher = { voucher: v, signature };
    this.persistence?.saveVoucher(sv);
    this.latestByStream.set(key, sv);
    return { ...sv, delta, platformDelta };
  }
}

/**
 * Metering one paid request: price it from the model's on-chain price and the epoch's governed
 * platform fee, accept the consumer's voucher for it, and record it in the ledger — in that order,
 * so a request is acknowledged only once it is both paid for and durably recorded.
 */
import type { Address, Hex } from 'viem';
import type { EpochParams, Receipt } from './epoch.ts';
import { EconomyError } from './errors.ts';
import { computeFee, type ModelPrice, splitNetFee } from './fees.ts';
import type { Ledger, MeteredRequest } from './ledger.ts';
import type { Voucher, VoucherBook } from './vouchers.ts';

export interface MeterContext {
  ledger: Ledger;
  book: VoucherBook;
  /** the epoch now accumulating fees (RewardDistributor.currentEpoch) */
  epoch: number;
  /** ProtocolParams.paramsAt(epoch) */
  params: EpochParams & { platformFee: bigint };
}

export interface MeterInput {
  id: string;
  consumer: Address;
  operator: Address;
  modelId: bigint;
  price: ModelPrice;
  tokensIn: number;
  tokensOut: number;
  voucher: Voucher;
  signature: Hex;
  receipt?: Receipt;
}

export async function meterRequest(ctx: MeterContext, input: MeterInput): Promise<MeteredRequest> {
  if (ctx.ledger.request(input.id)) {
    throw new EconomyError('DUPLICATE_REQUEST', `id: request ${input.id} is already metered`, 409);
  }
  const fee = computeFee(input.tokensIn, input.tokensOut, input.price, ctx.params.platformFee);
  const split = splitNetFee(fee.usage, ctx.params);
  const accepted = await ctx.book.accept(input.voucher, input.signature, {
    total: fee.total,
    platform: fee.platform,
  });
  return ctx.ledger.recordRequest({
    id: input.id,
    consumer: input.consumer,
    operator: input.operator,
    modelId: input.modelId,
    tokensIn: input.tokensIn,
    tokensOut: input.tokensOut,
    fee,
    split,
    epoch: ctx.epoch,
    cumulative: accepted.voucher.cumulativeAmount,
    receipt: input.receipt,
  });
}

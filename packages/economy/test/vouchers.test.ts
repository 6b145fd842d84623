import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import {
  type Address,
  concat,
  encodeAbiParameters,
  type Hex,
  hexToBigInt,
  keccak256,
  numberToHex,
  toHex,
} from 'viem';
import { generatePrivateKey, privateKeyToAccount } from 'viem/accounts';
import {
  type EscrowView,
  Ledger,
  signVoucher,
  type Voucher,
  VoucherBook,
  verifyVoucher,
  voucherDigest,
} from '../src/index.ts';

const consumer = privateKeyToAccount(generatePrivateKey());
const stranger = privateKeyToAccount(generatePrivateKey());
const operator = privateKeyToAccount(generatePrivateKey()).address;
const domain = { chainId: 31337, verifyingContract: '0x5FbDB2315678afecb367f032d93F642f64180aa3' as Address };
const NOW = 1_800_000_000n;

function voucher(cum: bigint, platform = 0n, over: Partial<Voucher> = {}): Voucher {
  return {
    consumer: consumer.address,
    operator,
    modelId: 1n,
    cumulativeAmount: cum,
    cumulativePlatformFee: platform,
    deadline: NOW + 3600n,
    ...over,
  };
}

class MockEscrow implements EscrowView {
  balance = new Map<string, bigint>();
  red = new Map<string, bigint>();
  async balanceOf(c: Address) {
    return this.balance.get(c.toLowerCase()) ?? 0n;
  }
  async redeemed(c: Address, o: Address, m: bigint) {
    return this.red.get(`${c}/${o}/${m}`.toLowerCase()) ?? 0n;
  }
  async redeemedPlatform() {
    return 0n;
  }
}

test('EIP-712 digest equals an independent encoding of the escrow domain and Voucher type', async () => {
  const v = voucher(123n, 4n);
  const typeHash = keccak256(
    toHex(
      'Voucher(address consumer,address operator,uint256 modelId,uint256 cumulativeAmount,uint256 cumulativePlatformFee,uint256 deadline)',
    ),
  );
  const structHash = keccak256(
    encodeAbiParameters(
      [
        { type: 'bytes32' },
        { type: 'address' },
        { type: 'address' },
        { type: 'uint256' },
        { type: 'uint256' },
        { type: 'uint256' },
        { type: 'uint256' },
      ],
      [typeHash, v.consumer, v.operator, v.modelId, v.cumulativeAmount, v.cumulativePlatformFee, v.deadline],
    ),
  );
  const domainSep = keccak256(
    encodeAbiParameters(
      [
        { type: 'bytes32' },
        { type: 'bytes32' },
        { type: 'bytes32' },
        { type: 'uint256' },
        { type: 'address' },
      ],
      [
        keccak256(
          toHex('EIP712Domain(string name,string version,uint256 chainId,address verifyingContract)'),
        ),
        keccak256(toHex('OpenLedger InferenceEscrow')),
        keccak256(toHex('1')),
        31337n,
        domain.verifyingContract,
      ],
    ),
  );
  assert.equal(voucherDigest(domain, v), keccak256(concat(['0x1901', domainSep, structHash])));
});

test('sign and verify; a forged, tampered or high-s signature is refused', async () => {
  const v = voucher(1000n, 10n);
  const sig = await signVoucher(consumer, domain, v);
  assert.ok(await verifyVoucher(domain, v, sig));
  // signed by someone else
  const forged = await stranger.signTypedData({
    domain: {
      name: 'OpenLedger InferenceEscrow',
      version: '1',
      chainId: 31337,
      verifyingContract: domain.verifyingContract,
    },
    types: {
      Voucher: [
        { name: 'consumer', type: 'address' },
        { name: 'operator', type: 'address' },
        { name: 'modelId', type: 'uint256' },
        { name: 'cumulativeAmount', type: 'uint256' },
        { name: 'cumulativePlatformFee', type: 'uint256' },
        { name: 'deadline', type: 'uint256' },
      ],
    },
    primaryType: 'Voucher',
    message: v,
  });
  assert.equal(await verifyVoucher(domain, v, forged), false);
  // tampered amount, other chain, other contract
  assert.equal(await verifyVoucher(domain, { ...v, cumulativeAmount: 1001n }, sig), false);
  assert.equal(await verifyVoucher({ ...domain, chainId: 1 }, v, sig), false);
  assert.equal(await verifyVoucher({ ...domain, verifyingContract: operator }, v, sig), false);
  // the malleable twin (s' = n − s, v flipped) recovers the same key but OpenZeppelin's ECDSA refuses it
  const n = 0xfffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141n;
  const r = sig.slice(0, 66) as Hex;
  const s = hexToBigInt(`0x${sig.slice(66, 130)}`);
  const vv = Number.parseInt(sig.slice(130), 16);
  const twin = concat([r, numberToHex(n - s, { size: 32 }), numberToHex(vv === 27 ? 28 : 27, { size: 1 })]);
  assert.equal(await verifyVoucher(domain, v, twin), false);
  assert.equal(await verifyVoucher(domain, v, '0x1234'), false);
  // the signer must be the consumer
  await assert.rejects(signVoucher(stranger, domain, v), /consumer/);
});

test('VoucherBook: replays, overspend, expiry, forgery and underpayment refused; nothing changes on error', async () => {
  const escrow = new MockEscrow();
  escrow.balance.set(consumer.address.toLowerCase(), 100n);
  const book = new VoucherBook({ domain, escrow, now: () => NOW });
  const v1 = voucher(60n, 5n);
  const s1 = await signVoucher(consumer, domain, v1);
  const a1 = await book.accept(v1, s1, { total: 60n, platform: 5n });
  assert.equal(a1.delta, 60n);
  assert.equal(await book.available(consumer.address), 40n);
  await assert.rejects(book.accept(v1, s1), { code: 'VOUCHER_REPLAY', status: 409 });
  const lower = voucher(50n, 5n);
  await assert.rejects(book.accept(lower, await signVoucher(consumer, domain, lower)), {
    code: 'VOUCHER_REPLAY',
  });
  // another model stream of the same consumer: only 40 left
  const other = voucher(41n, 0n, { modelId: 2n });
  await assert.rejects(book.accept(other, await signVoucher(consumer, domain, other)), {
    code: 'INSUFFICIENT_BALANCE',
    status: 402,
  });
  const tooMuch = voucher(101n, 5n);
  await assert.rejects(book.accept(tooMuch, await signVoucher(consumer, domain, tooMuch)), {
    code: 'INSUFFICIENT_BALANCE',
  });
  const expired = voucher(70n, 5n, { deadline: NOW });
  await assert.rejects(book.accept(expired, await signVoucher(consumer, domain, expired)), {
    code: 'VOUCHER_EXPIRED',
  });
  const v2 = voucher(70n, 5n);
  const forged = await stranger.signTypedData({
    ...(await import('../src/index.ts')).voucherTypedData(domain, v2),
  });
  await assert.rejects(book.accept(v2, forged), { code: 'INVALID_SIGNATURE', status: 401 });
  const s2 = await signVoucher(consumer, domain, v2);
  await assert.rejects(book.accept(v2, s2, { total: 11n, platform: 0n }), { code: 'UNDERPAID' });
  await assert.rejects(book.accept(v2, s2, { total: 10n, platform: 1n }), /cumulativePlatformFee/);
  const badPlatform = voucher(70n, 4n);
  await assert.rejects(
    book.accept(badPlatform, await signVoucher(consumer, domain, badPlatform)),
    /cumulativePlatformFee/,
  );
  assert.equal(book.latest(consumer.address, operator, 1n)?.voucher.cumulativeAmount, 60n);
  // accepted: the stream moves to 70
  assert.equal((await book.accept(v2, s2, { total: 10n, platform: 0n })).delta, 10n);
  // after the escrow redeemed 70 of it (balance 100 → 30), 30 remain available
  escrow.red.set(`${consumer.address}/${operator}/1`.toLowerCase(), 70n);
  escrow.balance.set(consumer.address.toLowerCase(), 30n);
  assert.equal(await book.available(consumer.address), 30n);
});

test('VoucherBook serialises concurrent acceptances of one consumer (no double spend)', async () => {
  const escrow = new MockEscrow();
  escrow.balance.set(consumer.address.toLowerCase(), 100n);
  const book = new VoucherBook({ domain, escrow, now: () => NOW });
  const a = voucher(60n, 0n, { modelId: 7n });
  const b = voucher(60n, 0n, { modelId: 8n });
  const results = await Promise.allSettled([
    book.accept(a, await signVoucher(consumer, domain, a)),
    book.accept(b, await signVoucher(consumer, domain, b)),
  ]);
  assert.equal(results.filter((r) => r.status === 'fulfilled').length, 1);
  assert.equal(results.filter((r) => r.status === 'rejected').length, 1);
});

test('VoucherBook persists in the ledger: a restarted book still refuses the replay', async () => {
  const home = mkdtempSync(join(tmpdir(), 'econ-vouchers-'));
  try {
    const escrow = new MockEscrow();
    escrow.balance.set(consumer.address.toLowerCase(), 1000n);
    let ledger = new Ledger(home);
    const book = new VoucherBook({ domain, escrow, persistence: ledger, now: () => NOW });
    const v = voucher(500n, 1n);
    const sig = await signVoucher(consumer, domain, v);
    await book.accept(v, sig);
    ledger.close();
    ledger = new Ledger(home);
    const book2 = new VoucherBook({ domain, escrow, persistence: ledger, now: () => NOW });
    assert.equal(book2.latest(consumer.address, operator, 1n)?.signature, sig);
    await assert.rejects(book2.accept(v, sig), { code: 'VOUCHER_REPLAY' });
    assert.equal(await book2.available(consumer.address), 500n);
    ledger.close();
  } finally {
    rmSync(home, { recursive: true, force: true });
  }
});

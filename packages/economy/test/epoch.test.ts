import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { FsBlobStore } from '@openledger/store';
import { StandardMerkleTree } from '@openzeppelin/merkle-tree';
import type { Address } from 'viem';
import {
  blobUri,
  buildEpochBundle,
  computeEpoch,
  computeFee,
  type EpochBundle,
  flag,
  Ledger,
  loadPublishedEpoch,
  publishEpoch,
  splitNetFee,
  verifyPublishedEpoch,
} from '../src/index.ts';

const A = '0x000000000000000000000000000000000000000a';
const B = '0x000000000000000000000000000000000000000b';
const C = '0x000000000000000000000000000000000000000c';
const D = '0x000000000000000000000000000000000000000d';
const consumer = '0x1000000000000000000000000000000000000001' as Address;
const operator = '0x2000000000000000000000000000000000000002' as Address;
const params = {
  ownerBps: 3000,
  stakersBps: 1000,
  contributorsBps: 6000,
  penaltyThreshold: 100,
  penaltyRewardBps: 5000,
};

function withLedger(fn: (ledger: Ledger, home: string) => Promise<void>) {
  return async () => {
    const home = mkdtempSync(join(tmpdir(), 'econ-epoch-'));
    const ledger = new Ledger(home);
    try {
      await fn(ledger, home);
    } finally {
      ledger.close();
      rmSync(home, { recursive: true, force: true });
    }
  };
}

function meter(ledger: Ledger, id: string, usage: bigint, weights: [string, number][], epoch = 1) {
  const fee = { usage, platform: 10n, total: usage + 10n };
  return ledger.recordRequest({
    id,
    consumer,
    operator,
    modelId: 1n,
    tokensIn: 1000,
    tokensOut: 0,
    fee,
    split: splitNetFee(usage, params),
    epoch,
    receipt: { id: `r-${id}`, weights: weights.map(([contributor, weight]) => ({ contributor, weight })) },
  });
}

test(
  'hand-computed epoch: escrow split, request apportioning, positive influence, penalties, carry',
  withLedger(async (ledger) => {
    meter(ledger, 'q1', 1000n, [
      [A, 1],
      [B, 1],
    ]);
    meter(ledger, 'q2', 3000n, [
      [A, 0.5],
      [C, 0.25],
      [D, -1],
    ]);
    meter(ledger, 'q3', 500n, [[A, 1]]); // not covered by the voucher: rolls over
    ledger.addFlags([
      flag(B, 'mislabel', 'label "cat" on a dog picture', 0),
      { ...flag(B, 'duplicate', 'near-copy of row 17', 0), points: 125 },
      flag(A, 'mislabel', 'raised in epoch 1: counts from epoch 2', 1),
      { ...flag(A, 'duplicate', 'big', 1), points: 500 },
    ]);
    // the voucher covers q1 + q2: 4020 wei of which 20 platform
    ledger.recordRedemption({
      epoch: 1,
      consumer,
      operator,
      modelId: 1n,
      fromAmount: 0n,
      toAmount: 4020n,
      fromPlatform: 0n,
      toPlatform: 20n,
      ...splitNetFee(4000n, params),
      txHash: `0x${'ab'.repeat(32)}`,
    });
    const { bundle, covered, rolledOver } = buildEpochBundle({ ledger, epoch: 1, chainId: 31337, params });
    assert.deepEqual(
      covered.map((q) => q.id),
      ['q1', 'q2'],
    );
    assert.equal(rolledOver, 1);
    assert.equal(ledger.request('q3')?.epoch, 2);
    const r = computeEpoch(bundle);
    // net 4000 → owner 1200, stakers 400, contributors 2400; q1 gets 600, q2 1800
    // q1: A 300, B 300; q2 (A 0.5, C 0.25; D negative): A 1200, C 600
    assert.equal(r.funded, 2400n);
    assert.deepEqual(Object.fromEntries(r.gross), { [A]: 1500n, [B]: 300n, [C]: 600n });
    // B's score 150 > 100 (flags of epoch 0): half; A's flags are from epoch 1: not yet
    assert.deepEqual(Object.fromEntries(r.rewards), { [A]: 1500n, [B]: 150n, [C]: 600n });
    assert.equal(r.withheld, 150n);
    assert.equal(r.unassigned, 0n);
    assert.equal(r.total, 2250n);
    assert.equal(r.total + r.withheld + r.unassigned, r.funded);
    // leaves [index, account, amount], sorted by account, index = position
    const lib = StandardMerkleTree.of(
      [...r.rewards].sort(([a], [b]) => (a < b ? -1 : 1)).map(([a, v], i) => [i.toString(), a, v.toString()]),
      ['uint256', 'address', 'uint256'],
    );
    assert.equal(r.root, lib.root);
    assert.equal(ledger.penaltyReport(B).score, 150);
    assert.deepEqual(
      ledger.penaltyReport(B).flags.map((f) => f.reason),
      ['label "cat" on a dog picture', 'near-copy of row 17'],
    );
  }),
);

test('an epoch whose requests lack positive influence leaves the share unassigned (it carries)', () => {
  const bundle: EpochBundle = {
    format: 'openledger-epoch-bundle-v1',
    chainId: 1,
    epoch: 3,
    params,
    redemptions: [
      {
        consumer,
        operator,
        modelId: '1',
        fromAmount: '100',
        toAmount: '1100',
        fromPlatform: '0',
        toPlatform: '0',
        owner: '300',
        stakers: '100',
        contributors: '600',
      },
    ],
    requests: [
      {
        id: 'x',
        consumer,
        operator,
        modelId: '1',
        tokensIn: 1,
        tokensOut: 1,
        usage: '700',
        platform: '0',
        cumulative: '800',
        receiptId: 'rx',
      },
    ],
    receipts: [{ id: 'rx', weights: [{ contributor: A, weight: -2 }] }],
    flags: [],
  };
  const r = computeEpoch(bundle);
  assert.equal(r.total, 0n);
  assert.equal(r.unassigned, 600n);
  assert.equal(r.tree, null);
  // a recorded split that is not the escrow's rule is refused
  assert.throws(
    () =>
      computeEpoch({ ...bundle, redemptions: [{ ...bundle.redemptions[0], owner: '301', stakers: '99' }] }),
    /escrow's rule/,
  );
});

test(
  'publication: verify recomputes the root; a tampered receipt, root or blob is caught',
  withLedger(async (ledger, home) => {
    const contributors = Array.from({ length: 40 }, (_, i) => `0x${(i + 1).toString(16).padStart(40, '0')}`);
    let cum = 0n;
    for (let i = 0; i < 120; i++) {
      const fee = computeFee(
        100 + i,
        50 + i,
        { pricePerKInput: 10n ** 15n + 7n, pricePerKOutput: 3n * 10n ** 15n },
        10n ** 14n,
      );
      cum += fee.total;
      ledger.recordRequest({
        id: `q${i}`,
        consumer,
        operator,
        modelId: 1n,
        tokensIn: 100 + i,
        tokensOut: 50 + i,
        fee,
        split: splitNetFee(fee.usage, params),
        epoch: 1,
        receipt: {
          id: `r${i}`,
          weights: [0, 1, 2].map((k) => ({
            contributor: contributors[(i * 7 + k * 13) % 40],
            weight: ((i + k) % 5) - 0.5,
          })),
        },
      });
    }
    const platform = 120n * 10n ** 14n;
    ledger.recordRedemption({
      epoch: 1,
      consumer,
      operator,
      modelId: 1n,
      fromAmount: 0n,
      toAmount: cum,
      fromPlatform: 0n,
      toPlatform: platform,
      ...splitNetFee(cum - platform, params),
      txHash: `0x${'cd'.repeat(32)}`,
    });
    const blobs = new FsBlobStore(join(home, 'blobs'));
    const { bundle } = buildEpochBundle({ ledger, epoch: 1, chainId: 31337, params });
    const result = computeEpoch(bundle);
    assert.equal(result.total + result.withheld + result.unassigned, result.funded);
    const pub = await publishEpoch(blobs, bundle, result);
    const ok = await verifyPublishedEpoch(blobs, pub.uri, {
      epoch: 1,
      root: result.root,
      total: result.total,
    });
    assert.ok(ok.ok, ok.problems.join('; '));
    assert.equal(ok.recomputedRoot, result.root);

    // a tampered root on-chain
    const badRoot = await verifyPublishedEpoch(blobs, pub.uri, { epoch: 1, root: `0x${'11'.repeat(32)}` });
    assert.equal(badRoot.ok, false);
    assert.match(badRoot.problems.join(), /on-chain root/);

    // a tampered receipt, republished consistently (new blob ids) under the old root
    const loaded = await loadPublishedEpoch(blobs, pub.uri);
    const forged = structuredClone(loaded.bundle);
    forged.receipts[0].weights[0].weight += 10;
    const forgedBundle = await blobs.put(JSON.stringify(forged));
    const forgedManifest = await blobs.put(JSON.stringify({ ...loaded.manifest, bundle: forgedBundle.id }));
    const v = await verifyPublishedEpoch(blobs, blobUri(forgedManifest.id), { epoch: 1, root: result.root });
    assert.equal(v.ok, false);
    assert.ok(v.differences.length > 0);
    assert.match(v.problems.join(), /published root .* ≠ recomputed/);

    // a blob altered on disk no longer hashes to its id
    const hex = loaded.manifest.bundle;
    const path = join(home, 'blobs', hex.slice(0, 2), hex.slice(2, 4), hex);
    assert.ok(readdirSync(join(home, 'blobs', hex.slice(0, 2), hex.slice(2, 4))).includes(hex));
    writeFileSync(path, JSON.stringify(forged));
    const corrupt = await verifyPublishedEpoch(blobs, pub.uri, { epoch: 1, root: result.root });
    assert.equal(corrupt.ok, false);
    assert.match(corrupt.problems.join(), /does not hash to its id/);
  }),
);

test(
  'ledger: requests are exact, atomic and refuse duplicates and bad input',
  withLedger(async (ledger) => {
    const q = meter(ledger, 'a', 12345678901234567890123n, [[A, 1]]);
    assert.equal(q.usage, 12345678901234567890123n);
    assert.equal(q.cumulative, 12345678901234567890133n);
    assert.equal(
      ledger.request('a')?.contributors,
      splitNetFee(12345678901234567890123n, params).contributors,
    );
    assert.throws(() => meter(ledger, 'a', 1n, []), { code: 'DUPLICATE_REQUEST', status: 409 });
    const fee = { usage: 10n, platform: 0n, total: 10n };
    assert.throws(
      () =>
        ledger.recordRequests([
          {
            id: 'ok',
            consumer,
            operator,
            modelId: 1n,
            tokensIn: 1,
            tokensOut: 1,
            fee,
            split: splitNetFee(10n, params),
            epoch: 1,
          },
          {
            id: 'bad',
            consumer,
            operator,
            modelId: 1n,
            tokensIn: -1,
            tokensOut: 1,
            fee,
            split: splitNetFee(10n, params),
            epoch: 1,
          },
        ]),
      /tokensIn/,
    );
    assert.equal(ledger.request('ok'), undefined);
    assert.throws(
      () =>
        ledger.recordRequest({
          id: 'z',
          consumer,
          operator,
          modelId: 1n,
          tokensIn: 1,
          tokensOut: 1,
          fee,
          split: { owner: 1n, stakers: 1n, contributors: 1n },
          epoch: 1,
        }),
      /split/,
    );
    assert.throws(
      () =>
        ledger.recordRequest({
          id: 'y',
          consumer,
          operator,
          modelId: 1n,
          tokensIn: 1,
          tokensOut: 1,
          fee,
          split: splitNetFee(10n, params),
          epoch: 1,
          receipt: { id: 'ry', weights: [{ contributor: 'nope', weight: 1 }] },
        }),
      /contributor/,
    );
    assert.equal(ledger.requestsForEpoch(1).length, 1);
  }),
);

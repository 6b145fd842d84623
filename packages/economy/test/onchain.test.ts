import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import {
  devAccount,
  inferenceEscrowAbi,
  openTokenAbi,
  rewardDistributorAbi,
  stakingAbi,
  writeContractAndWait,
} from '@openledger/chain';
import { type Address, parseEther } from 'viem';
import {
  buildEpochBundle,
  challengeEpoch,
  claimReward,
  computeEpoch,
  computeFee,
  epochParamsOf,
  escrowDomainOf,
  escrowViewOf,
  flag,
  Ledger,
  meterRequest,
  nextVoucher,
  publishEpoch,
  RewardTree,
  readCurrentEpoch,
  readEpochInfo,
  readModelPrice,
  readParamsAt,
  redeemVouchers,
  rewardProof,
  settleEpoch,
  signVoucher,
  splitNetFee,
  type Voucher,
  VoucherBook,
  verifyEpoch,
} from '../src/index.ts';
import { type EconomyTestChain, startEconomyChain } from './onchain-helpers.ts';

let env: EconomyTestChain;
let home: string;
let ledger: Ledger;
let book: VoucherBook;
let prev: Voucher | undefined;
let seq = 0;
const consumerKey = devAccount(3); // anvil's well-known TEST key
// contributors: five dev accounts and seven key-less addresses (claims can be sent by anyone)
const contributors: Address[] = [
  ...[5, 6, 7, 8, 9].map((i) => devAccount(i).address),
  ...Array.from(
    { length: 7 },
    (_, i) => `0x${'c0'.repeat(19)}${(i + 1).toString(16).padStart(2, '0')}` as Address,
  ),
];

before(async () => {
  env = await startEconomyChain();
  home = mkdtempSync(join(tmpdir(), 'econ-onchain-'));
  ledger = new Ledger(home);
  book = new VoucherBook({
    domain: escrowDomainOf(env.chain),
    escrow: escrowViewOf(env.chain),
    persistence: ledger,
  });
});
after(async () => {
  ledger?.close();
  await env?.close();
  if (home) rmSync(home, { recursive: true, force: true });
});

/** `n` paid requests by the consumer, each with a voucher and an attribution receipt. */
async function serveRequests(n: number): Promise<bigint> {
  const epoch = await readCurrentEpoch(env.chain);
  const params = epochParamsOf(await readParamsAt(env.chain, epoch));
  const price = await readModelPrice(env.chain, env.modelId);
  const block = await env.publicClient.getBlock();
  const stream = {
    consumer: consumerKey.address,
    operator: env.operator.account.address,
    modelId: env.modelId,
  };
  let fees = 0n;
  for (let i = 0; i < n; i++) {
    const k = seq++;
    const tokensIn = 50 + ((k * 37) % 400);
    const tokensOut = 10 + ((k * 53) % 300);
    const fee = computeFee(tokensIn, tokensOut, price, params.platformFee);
    const voucher = nextVoucher(prev, stream, fee, block.timestamp + 86_400n * 30n);
    const signature = await signVoucher(consumerKey, escrowDomainOf(env.chain), voucher);
    await meterRequest(
      { ledger, book, epoch, params },
      {
        id: `req-${k}`,
        ...stream,
        price,
        tokensIn,
        tokensOut,
        voucher,
        signature,
        receipt: {
          id: `rcpt-${k}`,
          weights: [0, 1, 2, 3].map((j) => ({
            contributor: contributors[(k * 5 + j * 3) % contributors.length],
            weight: j === 3 ? -0.1 : ((k + j) % 4) + 0.25 * j,
          })),
        },
      },
    );
    prev = voucher;
    fees += fee.total;
  }
  return fees;
}

test('paid requests → settle → every contributor claims; deposits = payouts + platform + owner + stakers + carry + unspent, to the wei', async () => {
  const c = env.deployment.contracts;
  const deposit = await escrowViewOf(env.chain).balanceOf(consumerKey.address);
  // a contributor flagged before epoch 1 above the threshold (100): gets penaltyRewardBps/10000 of its reward
  ledger.addFlags([
    { ...flag(contributors[1], 'duplicate', 'near-duplicate rows in datanet 1', 0), points: 150 },
  ]);
  const fees = await serveRequests(40);
  const before = {
    treasury: await env.openBalance(env.deployment.treasury),
    owner: await env.openBalance(env.modelOwner.account.address),
    staking: await env.openBalance(c.Staking),
    rewards: await env.openBalance(c.RewardDistributor),
    contributors: await Promise.all(contributors.map((a) => env.openBalance(a))),
  };
  assert.equal(await readCurrentEpoch(env.chain), 1);
  const s = await settleEpoch({
    ledger,
    blobs: ledger.store.blobs,
    chain: env.chain,
    operator: env.operator,
    settler: env.settler,
  });
  assert.equal(s.epoch, 1);
  assert.equal(s.requests, 40);
  assert.equal(s.rolledOver, 0);
  assert.equal(await readCurrentEpoch(env.chain), 2);
  assert.ok(s.withheld > 0n, 'the penalised contributor had some reward withheld');
  assert.equal(s.total + s.withheld + s.unassigned, s.funded);
  assert.equal(s.pool, s.funded);

  // the ledger's view equals the chain's, to the wei
  const reqs = ledger.requestsForEpoch(1);
  const platform = reqs.reduce((a, q) => a + q.platform, 0n);
  const owner = s.redemptions.reduce((a, r) => a + r.owner, 0n);
  const stakers = s.redemptions.reduce((a, r) => a + r.stakers, 0n);
  assert.equal(
    reqs.reduce((a, q) => a + q.total, 0n),
    fees,
  );
  assert.equal((await env.openBalance(env.deployment.treasury)) - before.treasury, platform);
  assert.equal((await env.openBalance(env.modelOwner.account.address)) - before.owner, owner);
  assert.equal((await env.openBalance(c.Staking)) - before.staking, stakers);
  assert.equal((await env.openBalance(c.RewardDistributor)) - before.rewards, s.funded);
  const unspent = await escrowViewOf(env.chain).balanceOf(consumerKey.address);
  assert.equal(unspent, deposit - fees);

  // anyone can recompute the root from the publication
  const v = await verifyEpoch({ chain: env.chain, blobs: ledger.store.blobs }, 1);
  assert.ok(v.ok, v.problems.join('; '));

  // claims open after the challenge window
  const [first] = [...(v.result?.rewards.keys() ?? [])];
  await assert.rejects(
    claimReward({ chain: env.chain, blobs: ledger.store.blobs, wallet: env.settler }, 1, first as Address),
    /ChallengeWindowOpen/,
  );
  await env.advance(601);
  let claimed = 0n;
  const gas: bigint[] = [];
  const isClaimed = (epoch: bigint, index: number) =>
    env.publicClient.readContract({
      address: c.RewardDistributor,
      abi: rewardDistributorAbi,
      functionName: 'isClaimed',
      args: [epoch, BigInt(index)],
    });
  const info1 = await readEpochInfo(env.chain, 1);
  const indices = new Set<number>();
  for (const [i, a] of contributors.entries()) {
    const expected = v.result?.rewards.get(a.toLowerCase()) ?? 0n;
    if (expected === 0n) continue;
    const p = await rewardProof(ledger.store.blobs, info1.uri, a);
    assert.ok(p, `proof of ${a}`);
    assert.equal(p.amount, expected);
    indices.add(p.index);
    assert.equal(await isClaimed(1n, p.index), false);
    const r = await claimReward(
      { chain: env.chain, blobs: ledger.store.blobs, wallet: env.wallet(i % 2 ? 1 : 2) },
      1,
      a,
    );
    assert.equal(r.amount, expected);
    assert.equal((await env.openBalance(a)) - before.contributors[i], expected);
    assert.equal(await isClaimed(1n, p.index), true);
    claimed += r.amount;
    gas.push(r.gasUsed);
  }
  assert.equal(claimed, s.total);
  // leaf indices are 0..n-1 (the tree's leaves sorted by account)
  assert.deepEqual(
    [...indices].sort((x, y) => x - y),
    [...indices].map((_, k) => k),
  );
  // settleEpoch prepared the epoch's claimed-flag word, so every claim, the first included and
  // even to an account that never held OPEN (its balance goes from zero), stays under 90,000 gas.
  assert.equal(s.prepareGas.length, 1, 'one prepareClaims transaction for one word');
  const prepared = await env.publicClient.readContract({
    address: c.RewardDistributor,
    abi: rewardDistributorAbi,
    functionName: 'isPrepared',
    args: [1n, 0n],
  });
  assert.equal(prepared, true);
  assert.ok(
    gas.every((g) => g < 90_000n),
    `claim gas ${gas.join(', ')}`,
  );
  await assert.rejects(
    claimReward({ chain: env.chain, blobs: ledger.store.blobs, wallet: env.settler }, 1, first as Address),
    /AlreadyClaimed/,
  );
  const carry = await env.publicClient.readContract({
    address: c.RewardDistributor,
    abi: rewardDistributorAbi,
    functionName: 'carry',
  });
  assert.equal(carry, s.withheld + s.unassigned);
  assert.equal(await env.openBalance(c.RewardDistributor), carry);
  // stakers' accrued rewards never exceed what was notified (Staking's reward-per-token accumulator
  // truncates: at most ~totalStaked/1e18 wei of dust per notification stays in Staking)
  const earned =
    (await env.publicClient.readContract({
      address: c.Staking,
      abi: stakingAbi,
      functionName: 'earned',
      args: [env.operator.account.address],
    })) +
    (await env.publicClient.readContract({
      address: c.Staking,
      abi: stakingAbi,
      functionName: 'earned',
      args: [env.settler.account.address],
    }));
  assert.ok(earned <= stakers && stakers - earned < 10_000n, `earned ${earned} of ${stakers}`);
  // the identity, to the wei
  assert.equal(platform + owner + stakers + claimed + carry + unspent, deposit);
  // per-stream escrow state equals the latest voucher
  assert.equal(
    await env.publicClient.readContract({
      address: c.InferenceEscrow,
      abi: inferenceEscrowAbi,
      functionName: 'redeemed',
      args: [consumerKey.address, env.operator.account.address, env.modelId],
    }),
    prev?.cumulativeAmount,
  );
});

test('a share change through governance applies from the next epoch; a tampered root is caught and challenged', async () => {
  // epoch 2: governance schedules new shares while the epoch runs
  assert.equal(await readCurrentEpoch(env.chain), 2);
  await serveRequests(10);
  const old = await readParamsAt(env.chain, 2);
  await env.setParamsThroughGovernance(
    { ...old, ownerBps: 2000, stakersBps: 500, contributorsBps: 7500 },
    'Raise the contributors share to 75 %',
  );
  assert.equal(await readCurrentEpoch(env.chain), 2, 'still epoch 2 after the vote');
  assert.equal((await readParamsAt(env.chain, 2)).ownerBps, 3000);
  assert.equal((await readParamsAt(env.chain, 3)).ownerBps, 2000);
  const s2 = await settleEpoch({
    ledger,
    blobs: ledger.store.blobs,
    chain: env.chain,
    operator: env.operator,
    settler: env.settler,
  });
  const net2 = s2.redemptions.reduce(
    (a, r) => a + (r.toAmount - r.fromAmount) - (r.toPlatform - r.fromPlatform),
    0n,
  );
  assert.deepEqual(
    s2.redemptions.map((r) => r.owner),
    [splitNetFee(net2, epochParamsOf(old)).owner],
  );
  assert.ok((await verifyEpoch({ chain: env.chain, blobs: ledger.store.blobs }, 2)).ok);

  // epoch 3: the new shares; a dishonest settler posts an inflated root
  await serveRequests(10);
  const p3 = epochParamsOf(await readParamsAt(env.chain, 3));
  assert.equal(p3.contributorsBps, 7500);
  const { redemptions } = await redeemVouchers({
    ledger,
    chain: env.chain,
    operator: env.operator,
    epoch: 3,
    params: p3,
  });
  const net3 =
    redemptions[0].toAmount -
    redemptions[0].fromAmount -
    (redemptions[0].toPlatform - redemptions[0].fromPlatform);
  assert.equal(redemptions[0].contributors, splitNetFee(net3, p3).contributors);
  assert.equal(redemptions[0].owner, (net3 * 2000n) / 10_000n);
  const { bundle } = buildEpochBundle({ ledger, epoch: 3, chainId: env.chain.chainId, params: p3 });
  const honest = computeEpoch(bundle);
  const pub = await publishEpoch(ledger.store.blobs, bundle, honest);
  const [[victim, amount], [thief, loot]] = [...honest.rewards];
  const forgedTree = RewardTree.of([
    [victim, amount - 1000n],
    [thief, loot + 1000n],
    ...[...honest.rewards].slice(2),
  ]);
  await writeContractAndWait(
    env.settler,
    {
      address: env.chain.contracts.RewardDistributor,
      abi: rewardDistributorAbi,
      functionName: 'postRoot',
      args: [3n, forgedTree.root, honest.total, pub.uri],
    },
    { publicClient: env.publicClient },
  );
  const v = await verifyEpoch({ chain: env.chain, blobs: ledger.store.blobs }, 3);
  assert.equal(v.ok, false);
  assert.match(v.problems.join('; '), /on-chain root/);
  const challenger = env.wallet(5).account.address;
  await assert.rejects(
    challengeEpoch({ chain: env.chain, blobs: ledger.store.blobs, wallet: env.wallet(5) }, 3, v),
    /challengeBond: a challenge bonds 100 OPEN/,
    'without OPEN for the bond the challenge is refused before any transaction',
  );
  assert.equal((await readEpochInfo(env.chain, 3)).challenged, false);
  await writeContractAndWait(
    env.treasury,
    {
      address: env.deployment.contracts.OpenToken,
      abi: openTokenAbi,
      functionName: 'transfer',
      args: [challenger, parseEther('100')],
    },
    { publicClient: env.publicClient },
  );
  const challengerBefore = await env.openBalance(challenger);
  const ch = await challengeEpoch(
    { chain: env.chain, blobs: ledger.store.blobs, wallet: env.wallet(5) },
    3,
    v,
  );
  assert.match(ch.evidenceUri, /^blob:sha256:[0-9a-f]{64}$/);
  assert.equal((await readEpochInfo(env.chain, 3)).challenged, true);
  // the challenger bonded the governed challengeBond
  const { challengeBond } = await readParamsAt(env.chain, 3);
  assert.ok(challengeBond > 0n);
  assert.equal(challengerBefore - (await env.openBalance(challenger)), challengeBond);
  const [bondedBy, bond] = await env.publicClient.readContract({
    address: env.chain.contracts.RewardDistributor,
    abi: rewardDistributorAbi,
    functionName: 'challengeOf',
    args: [3n],
  });
  assert.equal(bondedBy, challenger);
  assert.equal(bond, challengeBond);
  await env.advance(601);
  await assert.rejects(
    claimReward({ chain: env.chain, blobs: ledger.store.blobs, wallet: env.settler }, 3, victim as Address),
    /EpochChallenged|InvalidProof/,
  );
  // the honest epoch 2 pays out; contributors who claimed before (they hold OPEN) pay < 90,000 gas
  // per claim
  const r2 = (await verifyEpoch({ chain: env.chain, blobs: ledger.store.blobs }, 2)).result!;
  for (const [a, amount] of r2.rewards) {
    const r = await claimReward(
      { chain: env.chain, blobs: ledger.store.blobs, wallet: env.settler },
      2,
      a as Address,
    );
    assert.equal(r.amount, amount);
    assert.ok(r.gasUsed < 90_000n, `repeat claim gas ${r.gasUsed}`);
  }
});

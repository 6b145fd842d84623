/**
 * Settlement benchmark (`npm run bench:settlement`).
 *
 * Off-chain: meter 100,000 requests with attribution receipts over 10,000 contributors into the
 * SQLite ledger, then time each settlement step — bundle from the ledger, epoch computation (escrow
 * split, per-request apportioning, per-receipt weights, penalties, reward tree), content-addressed
 * publication, independent verification from the published blobs, and a proof for every
 * contributor — and compare our reward-tree build with @openzeppelin/merkle-tree's on the same leaves.
 *
 * On-chain (a real anvil with the protocol deployed): settle an epoch of 10 contributors and one of
 * 10,000 (100,000 receipts) end to end — redeem, compute, publish, postRoot — and report the postRoot
 * gas of both (must not grow with contributors; both posted with a non-zero carry, after a warm-up
 * epoch), then claim gas. Claimed flags are 255 leaves per storage word per epoch, and settleEpoch
 * prepares every word of the epoch right after the post (prepareClaims, gas reported), so no claim
 * writes a zero word: a contributor's first claim ever (fresh account: its OPEN balance goes from
 * zero to non-zero), the same as the first claim of its word (the worst case), and a repeat
 * claimer's (claimed an earlier epoch, holds OPEN).
 *
 * Env: SETTLEMENT_RECEIPTS (100000), SETTLEMENT_CONTRIBUTORS (10000), SETTLEMENT_CHAIN=0 to skip anvil.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { devAccount } from '@openledger/chain';
import {
  buildEpochBundle,
  claimReward,
  computeEpoch,
  computeFee,
  epochParamsOf,
  escrowDomainOf,
  escrowViewOf,
  flag,
  Ledger,
  publishEpoch,
  type RecordRequestInput,
  RewardTree,
  readCurrentEpoch,
  readModelPrice,
  readParamsAt,
  settleEpoch,
  signVoucher,
  splitNetFee,
  VoucherBook,
  verifyEpoch,
  verifyPublishedEpoch,
} from '@openledger/economy';
import { StandardMerkleTree } from '@openzeppelin/merkle-tree';
import type { Address } from 'viem';
import { startEconomyChain } from '../packages/economy/test/onchain-helpers.ts';

const RECEIPTS = Number(process.env.SETTLEMENT_RECEIPTS ?? 100_000);
const CONTRIBUTORS = Number(process.env.SETTLEMENT_CONTRIBUTORS ?? 10_000);
const WITH_CHAIN = process.env.SETTLEMENT_CHAIN !== '0';
const WEIGHTS_PER_RECEIPT = 6;
const STREAMS = 100;

const here = dirname(fileURLToPath(import.meta.url));
const contributorAddr = (i: number) => `0x${'5e'.repeat(10)}${i.toString(16).padStart(20, '0')}` as Address;

function rng(seed: number) {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

const params = {
  ownerBps: 3000,
  stakersBps: 1000,
  contributorsBps: 6000,
  penaltyThreshold: 100,
  penaltyRewardBps: 5000,
};

/** Synthetic metered requests: `n` receipts, each attributing to WEIGHTS_PER_RECEIPT contributors. */
function syntheticRequests(opts: {
  n: number;
  contributors: number;
  epoch: number;
  streams: { consumer: Address; operator: Address; modelId: bigint }[];
  price: { pricePerKInput: bigint; pricePerKOutput: bigint };
  platformFee: bigint;
  shares: typeof params;
  idPrefix: string;
  seed: number;
}): { inputs: RecordRequestInput[]; perStream: Map<number, { amount: bigint; platform: bigint }> } {
  const rand = rng(opts.seed);
  const inputs: RecordRequestInput[] = [];
  const perStream = new Map<number, { amount: bigint; platform: bigint }>();
  for (let i = 0; i < opts.n; i++) {
    const s = i % opts.streams.length;
    const tokensIn = 20 + Math.floor(rand() * 2000);
    const tokensOut = 10 + Math.floor(rand() * 500);
    const fee = computeFee(tokensIn, tokensOut, opts.price, opts.platformFee);
    const weights = [];
    for (let j = 0; j < WEIGHTS_PER_RECEIPT; j++) {
      // every contributor appears (stride), plus skew towards low indices; one in six negative
      const c = j < 4 ? (i * 4 + j) % opts.contributors : Math.floor(rand() ** 2 * opts.contributors);
      weights.push({ contributor: contributorAddr(c), weight: j === 5 ? -rand() * 0.1 : rand() });
    }
    const acc = perStream.get(s) ?? { amount: 0n, platform: 0n };
    acc.amount += fee.total;
    acc.platform += fee.platform;
    perStream.set(s, acc);
    inputs.push({
      id: `${opts.idPrefix}${i}`,
      ...opts.streams[s],
      tokensIn,
      tokensOut,
      fee,
      split: splitNetFee(fee.usage, opts.shares),
      epoch: opts.epoch,
      receipt: { id: `${opts.idPrefix}r${i}`, weights },
    });
  }
  return { inputs, perStream };
}

function recordInBatches(ledger: Ledger, inputs: RecordRequestInput[]): void {
  for (let i = 0; i < inputs.length; i += 5000) ledger.recordRequests(inputs.slice(i, i + 5000));
}

const ms = (t0: number) => performance.now() - t0;
/** this process's CPU time (user + system) since `c0`, in ms: independent of other load on the machine */
const cpuMs = (c0: NodeJS.CpuUsage) => {
  const d = process.cpuUsage(c0);
  return (d.user + d.system) / 1000;
};
const fmt = (wall: number, cpu: number) => `${wall.toFixed(0)} ms wall, ${cpu.toFixed(0)} ms cpu`;
const rows: [string, string][] = [];
const result: Record<string, unknown> = {
  name: 'settlement',
  receipts: RECEIPTS,
  contributors: CONTRIBUTORS,
};

// ---- off-chain ---------------------------------------------------------------------------
{
  const home = mkdtempSync(join(tmpdir(), 'bench-settlement-'));
  const ledger = new Ledger(home);
  try {
    const streams = Array.from({ length: STREAMS }, (_, i) => ({
      consumer: `0x${'c1'.repeat(18)}${i.toString(16).padStart(4, '0')}` as Address,
      operator: '0x0000000000000000000000000000000000000077' as Address,
      modelId: 1n,
    }));
    const price = { pricePerKInput: 2_000_000_000_000_007n, pricePerKOutput: 6_000_000_000_000_003n };
    const { inputs, perStream } = syntheticRequests({
      n: RECEIPTS,
      contributors: CONTRIBUTORS,
      epoch: 1,
      streams,
      price,
      platformFee: 10n ** 15n,
      shares: params,
      idPrefix: 'q',
      seed: 7,
    });
    // 2 % of the contributors were flagged above the threshold before this epoch
    ledger.addFlags(
      Array.from({ length: Math.floor(CONTRIBUTORS / 50) }, (_, i) => ({
        ...flag(contributorAddr(i * 50), 'duplicate', 'near-duplicate rows', 0),
        points: 150,
      })),
    );
    let t0 = performance.now();
    let c0 = process.cpuUsage();
    recordInBatches(ledger, inputs);
    const meterMs = ms(t0);
    const meterCpu = cpuMs(c0);
    for (const [s, { amount, platform }] of perStream) {
      ledger.recordRedemption({
        epoch: 1,
        ...streams[s],
        fromAmount: 0n,
        toAmount: amount,
        fromPlatform: 0n,
        toPlatform: platform,
        ...splitNetFee(amount - platform, params),
        txHash: `0x${'00'.repeat(31)}${s.toString(16).padStart(2, '0')}`,
      });
    }
    t0 = performance.now();
    c0 = process.cpuUsage();
    const { bundle } = buildEpochBundle({ ledger, epoch: 1, chainId: 31337, params });
    const bundleMs = ms(t0);
    const bundleCpu = cpuMs(c0);
    t0 = performance.now();
    c0 = process.cpuUsage();
    const epoch = computeEpoch(bundle);
    const computeMs = ms(t0);
    const computeCpu = cpuMs(c0);
    t0 = performance.now();
    c0 = process.cpuUsage();
    const blobs = ledger.store.blobs;
    const pub = await publishEpoch(blobs, bundle, epoch);
    const publishMs = ms(t0);
    const publishCpu = cpuMs(c0);
    t0 = performance.now();
    c0 = process.cpuUsage();
    const v = await verifyPublishedEpoch(blobs, pub.uri, { epoch: 1, root: epoch.root, total: epoch.total });
    const verifyMs = ms(t0);
    const verifyCpu = cpuMs(c0);
    if (!v.ok) throw new Error(`verification failed: ${v.problems.join('; ')}`);
    const tree = epoch.tree!;
    t0 = performance.now();
    c0 = process.cpuUsage();
    for (const { account } of tree.values()) tree.proof(account);
    const proofsMs = ms(t0);
    const proofsCpu = cpuMs(c0);
    const leaves = [...epoch.rewards].map(([a, x]) => [a, x.toString()]);
    t0 = performance.now();
    c0 = process.cpuUsage();
    const ourTree = RewardTree.of([...epoch.rewards]);
    const ourTreeMs = ms(t0);
    const ourTreeCpu = cpuMs(c0);
    t0 = performance.now();
    c0 = process.cpuUsage();
    const libTree = StandardMerkleTree.of(
      [...leaves].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([a, x], i) => [i.toString(), a, x]),
      ['uint256', 'address', 'uint256'],
    );
    const libTreeMs = ms(t0);
    const libTreeCpu = cpuMs(c0);
    if (libTree.root !== ourTree.root) throw new Error('tree roots differ from @openzeppelin/merkle-tree');
    const settleMs = bundleMs + computeMs + publishMs;
    const settleCpu = bundleCpu + computeCpu + publishCpu;
    const bundleBytes = (await blobs.stat(pub.manifest.bundle))?.size ?? 0;
    rows.push(
      ['receipts / contributors earning', `${RECEIPTS} / ${epoch.rewards.size}`],
      ['meter (ledger insert, 5k per txn)', fmt(meterMs, meterCpu)],
      ['bundle from ledger', fmt(bundleMs, bundleCpu)],
      ['compute epoch (split+penalties+tree)', fmt(computeMs, computeCpu)],
      [
        'publish (bundle+tree+manifest)',
        `${fmt(publishMs, publishCpu)} (bundle ${(bundleBytes / 1e6).toFixed(1)} MB)`,
      ],
      ['off-chain settle total', fmt(settleMs, settleCpu)],
      ['verify from published blobs', fmt(verifyMs, verifyCpu)],
      [`proofs for ${tree.length} contributors`, fmt(proofsMs, proofsCpu)],
      ['reward tree, ours', fmt(ourTreeMs, ourTreeCpu)],
      ['reward tree, @openzeppelin/merkle-tree', fmt(libTreeMs, libTreeCpu)],
      [
        'penalised / withheld / unassigned',
        `${epoch.penalised.length} / ${epoch.withheld} / ${epoch.unassigned} wei`,
      ],
    );
    Object.assign(result, {
      offchain_settle_ms: Math.round(settleMs),
      offchain_settle_cpu_ms: Math.round(settleCpu),
      offchain_compute_cpu_ms: Math.round(computeCpu),
      offchain_verify_cpu_ms: Math.round(verifyCpu),
      tree_cpu_ms: Math.round(ourTreeCpu),
      oz_tree_cpu_ms: Math.round(libTreeCpu),
      offchain_bundle_ms: Math.round(bundleMs),
      offchain_compute_ms: Math.round(computeMs),
      offchain_publish_ms: Math.round(publishMs),
      offchain_verify_ms: Math.round(verifyMs),
      meter_ms: Math.round(meterMs),
      meter_cpu_ms: Math.round(meterCpu),
      proofs_ms: Math.round(proofsMs),
      proofs_cpu_ms: Math.round(proofsCpu),
      earning_contributors: epoch.rewards.size,
      tree_ms: Math.round(ourTreeMs),
      oz_tree_ms: Math.round(libTreeMs),
      tree_speedup_vs_oz: Number((libTreeCpu / ourTreeCpu).toFixed(1)),
      bundle_mb: Number((bundleBytes / 1e6).toFixed(1)),
    });
  } finally {
    ledger.close();
    rmSync(home, { recursive: true, force: true });
  }
}

// ---- on-chain ----------------------------------------------------------------------------
if (WITH_CHAIN) {
  let env: Awaited<ReturnType<typeof startEconomyChain>> | undefined;
  const home = mkdtempSync(join(tmpdir(), 'bench-settlement-chain-'));
  const ledger = new Ledger(home);
  try {
    env = await startEconomyChain({ deposit: 10n ** 18n * 5000n });
    const chain = env.chain;
    const consumer = devAccount(3); // anvil's well-known TEST key
    const book = new VoucherBook({
      domain: escrowDomainOf(chain),
      escrow: escrowViewOf(chain),
      persistence: ledger,
    });
    const stream = {
      consumer: consumer.address,
      operator: env.operator.account.address,
      modelId: env.modelId,
    };
    const price = await readModelPrice(chain, env.modelId);
    let cumulative = 0n;
    let cumulativePlatform = 0n;
    const runEpoch = async (n: number, contributors: number, prefix: string) => {
      const epoch = await readCurrentEpoch(chain);
      const p = epochParamsOf(await readParamsAt(chain, epoch));
      const { inputs } = syntheticRequests({
        n,
        contributors,
        epoch,
        streams: [stream],
        price,
        platformFee: p.platformFee,
        shares: p,
        idPrefix: prefix,
        seed: epoch,
      });
      for (const q of inputs) {
        cumulative += q.fee.total;
        cumulativePlatform += q.fee.platform;
        q.cumulative = cumulative;
      }
      recordInBatches(ledger, inputs);
      // the consumer's latest voucher covers all of them
      const block = await env!.publicClient.getBlock();
      const voucher = {
        ...stream,
        cumulativeAmount: cumulative,
        cumulativePlatformFee: cumulativePlatform,
        deadline: block.timestamp + 86_400n,
      };
      await book.accept(voucher, await signVoucher(consumer, escrowDomainOf(chain), voucher));
      return settleEpoch({
        ledger,
        blobs: ledger.store.blobs,
        chain,
        operator: env!.operator,
        settler: env!.settler,
      });
    };
    // warm-up epoch: a penalised contributor leaves some reward in the pool, so RewardDistributor's
    // carry is non-zero before both measured posts (a zero→non-zero carry write would cost ~17k
    // more gas in whichever post comes first and mask the comparison)
    ledger.addFlags([{ ...flag(contributorAddr(0), 'duplicate', 'bench warm-up', 0), points: 1000 }]);
    await runEpoch(100, 10, 'w');
    const small = await runEpoch(1_000, 10, 's');
    const t0 = performance.now();
    const c0 = process.cpuUsage();
    const large = await runEpoch(RECEIPTS, CONTRIBUTORS, 'l');
    const largeWallMs = ms(t0);
    const largeCpu = cpuMs(c0);
    const t1 = performance.now();
    const v = await verifyEpoch({ chain, blobs: ledger.store.blobs }, large.epoch);
    const verifyMs = ms(t1);
    if (!v.ok) throw new Error(`on-chain verification failed: ${v.problems.join('; ')}`);
    await env.advance(601);
    // repeat claimers: the 10 contributors of the small epoch claim it first, then the large one
    for (let i = 0; i < 10; i++) {
      await claimReward(
        { chain, blobs: ledger.store.blobs, wallet: env.settler },
        small.epoch,
        contributorAddr(i),
      );
    }
    const largeTree = v.result?.tree;
    if (!largeTree) throw new Error('the large epoch has no reward tree');
    const byIndex: Address[] = [];
    for (const e of largeTree.values()) byIndex[e.index] = e.account;
    const claimedIndex = new Set<number>();
    const claimer = env.settler;
    const claimLarge = async (account: Address) => {
      const r = await claimReward(
        { chain, blobs: ledger.store.blobs, wallet: claimer },
        large.epoch,
        account,
      );
      claimedIndex.add(largeTree.indexOf(account) ?? -1);
      return r.gasUsed;
    };
    const LEAVES_PER_WORD = 255;
    const wordStart = (index: number) => index - (index % LEAVES_PER_WORD);
    const wordClaimed = (index: number) => {
      for (let k = wordStart(index); k < Math.min(byIndex.length, wordStart(index) + LEAVES_PER_WORD); k++)
        if (claimedIndex.has(k)) return true;
      return false;
    };
    const repeat: bigint[] = [];
    for (let i = 0; i < 10; i++) repeat.push(await claimLarge(contributorAddr(i)));
    const repeatAccounts = new Set(Array.from({ length: 10 }, (_, i) => contributorAddr(i).toLowerCase()));
    // fresh accounts: each one's first claim ever; if nothing of its word was claimed yet, that claim
    // is the word's first (worst case) and a fresh neighbour in the same word then measures the usual case
    const first: bigint[] = [];
    const firstOfWord: bigint[] = [];
    for (let i = 0; i < 10; i++) {
      const account = contributorAddr(CONTRIBUTORS - 1 - i * 97);
      const index = largeTree.indexOf(account);
      if (index === undefined || claimedIndex.has(index)) continue;
      if (wordClaimed(index)) {
        first.push(await claimLarge(account));
        continue;
      }
      firstOfWord.push(await claimLarge(account));
      const base = wordStart(index);
      for (let k = base; k < Math.min(byIndex.length, base + LEAVES_PER_WORD); k++) {
        if (claimedIndex.has(k) || repeatAccounts.has(byIndex[k])) continue;
        first.push(await claimLarge(byIndex[k]));
        break;
      }
    }
    const max = (xs: bigint[]) => Math.max(...xs.map(Number));
    rows.push(
      ['postRoot gas, 10 contributors', `${small.postGas}`],
      [`postRoot gas, ${large.contributors} contributors`, `${large.postGas}`],
      [
        `prepareClaims gas, ${large.contributors} contributors`,
        `${large.prepareGas.reduce((a, b) => a + b, 0n)} (${large.prepareGas.length} tx)`,
      ],
      ['redeem gas (one voucher)', `${large.redeemGas.join(', ')}`],
      [
        `on-chain settle of ${RECEIPTS} receipts (wall)`,
        `${fmt(largeWallMs, largeCpu)} (off-chain part ${large.offchainMs.toFixed(0)} ms wall)`,
      ],
      ['verify-epoch against the chain', `${verifyMs.toFixed(0)} ms`],
      ['claim gas, repeat claimer (max of 10)', `${max(repeat)}`],
      [`claim gas, first claim ever (max of ${first.length})`, `${max(first)}`],
      [
        `claim gas, first claim ever, first of its prepared word (max of ${firstOfWord.length})`,
        `${max(firstOfWord)}`,
      ],
    );
    Object.assign(result, {
      post_gas_10: Number(small.postGas),
      post_gas_10000: Number(large.postGas),
      post_gas_ratio: Number((Number(large.postGas) / Number(small.postGas)).toFixed(3)),
      prepare_gas_10000: Number(large.prepareGas.reduce((a, b) => a + b, 0n)),
      redeem_gas: Number(large.redeemGas[0] ?? 0n),
      claim_gas_repeat_max: Number(max(repeat)),
      claim_gas_first_max: Number(max(first)),
      claim_gas_first_of_word_max: Number(max(firstOfWord)),
      onchain_settle_ms: Math.round(largeWallMs),
      onchain_settle_cpu_ms: Math.round(largeCpu),
      onchain_verify_ms: Math.round(verifyMs),
    });
  } catch (e) {
    rows.push(['on-chain part', `skipped: ${(e as Error).message.split('\n')[0]}`]);
    result.chain = 'unavailable';
  } finally {
    ledger.close();
    await env?.close();
    rmSync(home, { recursive: true, force: true });
  }
}

const w = Math.max(...rows.map(([k]) => k.length));
console.log(`settlement: ${RECEIPTS} receipts over ${CONTRIBUTORS} contributors`);
console.log('(wall = elapsed; cpu = this process only, unaffected by other load on the machine)\n');
for (const [k, v] of rows) console.log(`${k.padEnd(w)}  ${v}`);
const line = JSON.stringify(result);
mkdirSync(join(here, 'results'), { recursive: true });
writeFileSync(join(here, 'results/settlement.json'), `${line}\n`);
console.log(`BENCH ${line}`);

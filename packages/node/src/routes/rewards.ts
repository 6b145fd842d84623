import { rewardDistributorAbi } from '@openledger/chain';
import {
  challengeEpoch,
  claimReward,
  readCurrentEpoch,
  readEpochInfo,
  rewardProof,
  settleEpoch,
  verifyEpoch,
} from '@openledger/economy';
import type { FastifyInstance } from 'fastify';
import { type Address, getAddress, isAddress } from 'viem';
import type { NodeContext } from '../context.ts';
import { OpenLedgerError } from '../errors.ts';

const json = (value: unknown) =>
  JSON.parse(JSON.stringify(value, (_k, v) => (typeof v === 'bigint' ? v.toString() : v)));

function economyOf(ctx: NodeContext) {
  const { ledger, economyChain, store, signers } = ctx.services;
  if (!ledger || !economyChain || !store || !signers) {
    throw new OpenLedgerError('unavailable', 'the economy is not running on this node', { status: 503 });
  }
  return { ledger, chain: economyChain, blobs: store.blobs, signers };
}

/** Settlement epochs, contributors' rewards and claims. */
export async function rewardRoutes(app: FastifyInstance, ctx: NodeContext): Promise<void> {
  app.get(
    '/api/epochs',
    { schema: { tags: ['rewards'], summary: 'Settled epochs and the epoch now accumulating' } },
    async () => {
      const { ledger, chain } = economyOf(ctx);
      const current = await readCurrentEpoch(chain);
      return json({ current, pending: ledger.requestsForEpoch(current).length, epochs: ledger.epochs() });
    },
  );

  app.post(
    '/api/epochs/settle',
    {
      schema: {
        tags: ['rewards'],
        summary:
          "Settle the current epoch: redeem vouchers, build and post the reward root (this node's settler)",
        security: [{ bearer: [] }],
      },
    },
    async (request) => {
      ctx.auth.require(request);
      const { ledger, chain, blobs, signers } = economyOf(ctx);
      const settler = signers.wallet(signers.addresses()[0]);
      const result = await settleEpoch({ ledger, blobs, chain, operator: settler, settler });
      return json(result);
    },
  );

  app.get<{ Params: { epoch: number } }>(
    '/api/epochs/:epoch/verify',
    {
      schema: {
        tags: ['rewards'],
        summary: 'Recompute an epoch root from its published receipts and compare with the chain',
        params: { type: 'object', properties: { epoch: { type: 'integer', minimum: 1 } } },
      },
    },
    async (request) => {
      const { chain, blobs } = economyOf(ctx);
      return json(await verifyEpoch({ chain, blobs }, request.params.epoch));
    },
  );

  app.post<{ Params: { epoch: number } }>(
    '/api/epochs/:epoch/challenge',
    {
      schema: {
        tags: ['rewards'],
        summary:
          "Challenge an epoch's root within its window: recompute it from the published receipts and, if it differs, post the evidence and bond the governed challengeBond from the signed-in account",
        description:
          'A root that recomputes correctly is not challenged (409 NOTHING_TO_CHALLENGE). The bond comes back if governance voids the root and goes to the treasury if it stands; without enough OPEN for it the answer is 402 INSUFFICIENT_BOND and nothing is sent.',
        security: [{ bearer: [] }],
        params: { type: 'object', properties: { epoch: { type: 'integer', minimum: 1 } } },
      },
    },
    async (request) => {
      const account = ctx.auth.require(request) as Address;
      const { chain, blobs, signers } = economyOf(ctx);
      const epoch = request.params.epoch;
      const verification = await verifyEpoch({ chain, blobs }, epoch);
      const result = await challengeEpoch(
        { chain, blobs, wallet: signers.wallet(account) },
        epoch,
        verification,
      );
      return json({ epoch, ...result, problems: verification.problems });
    },
  );

  app.get<{ Params: { address: string } }>(
    '/api/rewards/:address',
    {
      schema: {
        tags: ['rewards'],
        summary: "A contributor's rewards per epoch, claimable or claimed, and penalty score",
      },
    },
    async (request) => {
      if (!isAddress(request.params.address)) {
        throw new OpenLedgerError('invalid_address', 'address must be a 0x-prefixed 20-byte hex address', {
          field: 'address',
        });
      }
      const account = getAddress(request.params.address);
      const { ledger, chain, blobs } = economyOf(ctx);
      const block = await chain.publicClient.getBlock();
      const epochs = [];
      for (const r of ledger.rewardsOf(account)) {
        const info = await readEpochInfo(chain, r.epoch);
        // claimed flags are per leaf index; the index comes from the published tree
        const leaf = await rewardProof(blobs, info.uri, account);
        const claimed =
          leaf !== null &&
          ((await chain.publicClient.readContract({
            address: chain.contracts.RewardDistributor,
            abi: rewardDistributorAbi,
            functionName: 'isClaimed',
            args: [BigInt(r.epoch), BigInt(leaf.index)],
          })) as boolean);
        const claimableAt = await chain.publicClient
          .readContract({
            address: chain.contracts.RewardDistributor,
            abi: rewardDistributorAbi,
            functionName: 'claimableAt',
            args: [BigInt(r.epoch)],
          })
          .catch(() => 0n);
        epochs.push({
          epoch: r.epoch,
          amount: r.amount.toString(),
          claimed,
          claimable:
            leaf !== null &&
            !claimed &&
            !info.challenged &&
            !info.voided &&
            block.timestamp >= (claimableAt as bigint),
          claimableAt: Number(claimableAt),
        });
      }
      return {
        address: account,
        epochs,
        answers: ctx.services.attribution?.answersOf(account) ?? [],
        penalty: json(ledger.penaltyReport(account)),
      };
    },
  );

  app.post<{ Body: { epoch: number } }>(
    '/api/rewards/claim',
    {
      schema: {
        tags: ['rewards'],
        summary:
          "Claim the signed-in contributor's reward for an epoch (on the local chain the node sends it)",
        security: [{ bearer: [] }],
        body: { type: 'object', required: ['epoch'], properties: { epoch: { type: 'integer', minimum: 1 } } },
      },
    },
    async (request) => {
      const account = ctx.auth.require(request) as Address;
      const { chain, blobs, signers } = economyOf(ctx);
      const result = await claimReward(
        { chain, blobs, wallet: signers.wallet(account) },
        request.body.epoch,
        account,
      );
      return json(result);
    },
  );

  app.get<{ Params: { epoch: number; address: string } }>(
    '/api/rewards/:address/proof/:epoch',
    { schema: { tags: ['rewards'], summary: 'The Merkle proof of a reward, to claim from any wallet' } },
    async (request) => {
      const { chain, blobs } = economyOf(ctx);
      const info = await readEpochInfo(chain, Number(request.params.epoch));
      const proof = await rewardProof(blobs, info.uri, request.params.address);
      if (!proof)
        throw new OpenLedgerError('not_found', 'no reward for this address in that epoch', { status: 404 });
      return json({ epoch: Number(request.params.epoch), root: info.root, ...proof });
    },
  );

  app.post<{ Body: { seconds: number } }>(
    '/api/dev/advance-time',
    {
      schema: {
        tags: ['identity'],
        summary: 'Local chain only: move block time forward (e.g. past a challenge window)',
        body: {
          type: 'object',
          required: ['seconds'],
          properties: { seconds: { type: 'integer', minimum: 1, maximum: 31536000 } },
        },
      },
    },
    async (request) => {
      if (!ctx.chain.local)
        throw new OpenLedgerError('not_local', 'only on the embedded local chain', { status: 404 });
      const client = ctx.chain.publicClient;
      await client.request({ method: 'evm_increaseTime' as never, params: [request.body.seconds] as never });
      await client.request({ method: 'evm_mine' as never, params: [] as never });
      return { ok: true };
    },
  );
}

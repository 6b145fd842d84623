import { openTokenAbi, stakingAbi, writeContractAndWait } from '@openledger/chain';
import type { FastifyInstance } from 'fastify';
import { type Address, getAddress, type Hex, isAddress, type TransactionReceipt } from 'viem';
import type { NodeContext } from '../context.ts';
import { OpenLedgerError } from '../errors.ts';

/** Runs a transaction; a revert becomes a 409 carrying the chain's reason. */
export async function send(what: string, run: () => Promise<TransactionReceipt>): Promise<Hex> {
  try {
    const receipt = await run();
    return receipt.transactionHash;
  } catch (error) {
    if (error instanceof OpenLedgerError) throw error;
    const e = error as { shortMessage?: string; message?: string };
    throw new OpenLedgerError('tx_reverted', `${what}: ${e.shortMessage ?? e.message ?? String(error)}`, {
      status: 409,
      cause: error,
    });
  }
}

export function parseWei(value: unknown, field: string): bigint {
  const s = typeof value === 'number' ? String(value) : value;
  if (typeof s !== 'string' || !/^[0-9]+$/.test(s) || BigInt(s) === 0n) {
    throw new OpenLedgerError('invalid_amount', `${field} must be a positive integer amount of wei`, {
      field,
    });
  }
  return BigInt(s);
}

const ROLES = { operator: 0, settler: 1 } as const;
type Role = keyof typeof ROLES;

const WEI = { type: 'string', pattern: '^[0-9]+$', description: 'wei, decimal string' } as const;
const amountBody = {
  type: 'object',
  required: ['amount'],
  properties: { amount: WEI, role: { type: 'string', enum: ['operator', 'settler'], default: 'operator' } },
} as const;
const positionSchema = {
  type: 'object',
  properties: {
    address: { type: 'string' },
    operator: { type: 'string', description: 'wei staked as an inference operator' },
    settler: { type: 'string', description: 'wei staked as a settler' },
    unbonding: { type: 'string', description: 'wei unstaked and waiting for the unbonding period' },
    unbondingReadyAt: { type: 'integer', description: 'unix time the last unbonding bucket is ready' },
    earned: { type: 'string', description: "wei of stakers' fee share claimable" },
    open: { type: 'string', description: 'wei of OPEN in the wallet' },
  },
} as const;

function stakingOf(ctx: NodeContext) {
  const { Staking, OpenToken } = ctx.chain.contracts;
  if (!Staking || !OpenToken) {
    throw new OpenLedgerError('unavailable', 'the Staking contract is not deployed on this chain', {
      status: 503,
    });
  }
  return { staking: Staking, token: OpenToken };
}

function walletOf(ctx: NodeContext, account: Address) {
  if (!ctx.services.signers) {
    throw new OpenLedgerError('no_signer', 'this node sends no transactions; use your own wallet', {
      status: 403,
    });
  }
  return ctx.services.signers.wallet(account);
}

async function position(ctx: NodeContext, account: Address) {
  const { staking, token } = stakingOf(ctx);
  const client = ctx.chain.publicClient;
  const read = (functionName: 'stakeOf' | 'unbondingOf', role: 0 | 1) =>
    client.readContract({ address: staking, abi: stakingAbi, functionName, args: [account, role] });
  const [operator, settler, ubOperator, ubSettler, earned, open] = await Promise.all([
    read('stakeOf', 0),
    read('stakeOf', 1),
    read('unbondingOf', 0),
    read('unbondingOf', 1),
    client.readContract({ address: staking, abi: stakingAbi, functionName: 'earned', args: [account] }),
    client.readContract({ address: token, abi: openTokenAbi, functionName: 'balanceOf', args: [account] }),
  ]);
  const [a0, r0] = ubOperator as readonly [bigint, number | bigint];
  const [a1, r1] = ubSettler as readonly [bigint, number | bigint];
  return {
    address: account,
    operator: (operator as bigint).toString(),
    settler: (settler as bigint).toString(),
    unbonding: (a0 + a1).toString(),
    unbondingReadyAt: Math.max(Number(r0), Number(r1)),
    earned: (earned as bigint).toString(),
    open: (open as bigint).toString(),
  };
}

/** Staking of OPEN by operators and settlers: stake, unstake, withdraw after unbonding, fee rewards. */
export async function stakingRoutes(app: FastifyInstance, ctx: NodeContext): Promise<void> {
  app.get<{ Params: { address: string } }>(
    '/api/staking/:address',
    {
      schema: {
        tags: ['staking'],
        summary: "An address's stakes per role, unbonding OPEN, earned fee rewards and wallet OPEN",
        response: { 200: positionSchema },
      },
    },
    async (request) => {
      if (!isAddress(request.params.address)) {
        throw new OpenLedgerError('invalid_address', 'address must be a 0x-prefixed 20-byte hex address', {
          field: 'address',
        });
      }
      return position(ctx, getAddress(request.params.address));
    },
  );

  app.post<{ Body: { amount: string; role?: Role } }>(
    '/api/staking/stake',
    {
      schema: {
        tags: ['staking'],
        summary: "Stake the signed-in account's OPEN for a role (approve + Staking.stake)",
        security: [{ bearer: [] }],
        body: amountBody,
      },
    },
    async (request) => {
      const account = ctx.auth.require(request) as Address;
      const { staking, token } = stakingOf(ctx);
      const amount = parseWei(request.body.amount, 'amount');
      const role = ROLES[request.body.role ?? 'operator'];
      const balance = (await ctx.chain.publicClient.readContract({
        address: token,
        abi: openTokenAbi,
        functionName: 'balanceOf',
        args: [account],
      })) as bigint;
      if (balance < amount) {
        throw new OpenLedgerError(
          'insufficient_balance',
          `amount: ${account} holds only ${balance} wei of OPEN`,
          {
            field: 'amount',
          },
        );
      }
      const wallet = walletOf(ctx, account);
      await send('approve', () =>
        writeContractAndWait(wallet, {
          address: token,
          abi: openTokenAbi,
          functionName: 'approve',
          args: [staking, amount],
        }),
      );
      const txHash = await send('stake', () =>
        writeContractAndWait(wallet, {
          address: staking,
          abi: stakingAbi,
          functionName: 'stake',
          args: [role, amount],
        }),
      );
      return { txHash, ...(await position(ctx, account)) };
    },
  );

  app.post<{ Body: { amount: string; role?: Role } }>(
    '/api/staking/unstake',
    {
      schema: {
        tags: ['staking'],
        summary: 'Start unbonding part of a stake; withdraw it after the unbonding period',
        security: [{ bearer: [] }],
        body: amountBody,
      },
    },
    async (request) => {
      const account = ctx.auth.require(request) as Address;
      const { staking } = stakingOf(ctx);
      const amount = parseWei(request.body.amount, 'amount');
      const roleName = request.body.role ?? 'operator';
      const before = await position(ctx, account);
      if (BigInt(before[roleName]) < amount) {
        throw new OpenLedgerError(
          'insufficient_stake',
          `amount: ${account} has only ${before[roleName]} wei staked as ${roleName}`,
          { field: 'amount' },
        );
      }
      const wallet = walletOf(ctx, account);
      const txHash = await send('unstake', () =>
        writeContractAndWait(wallet, {
          address: staking,
          abi: stakingAbi,
          functionName: 'unstake',
          args: [ROLES[roleName], amount],
        }),
      );
      return { txHash, ...(await position(ctx, account)) };
    },
  );

  for (const [path, functionName, summary] of [
    ['withdraw', 'withdraw', 'Withdraw all unbonding OPEN whose unbonding period has ended'],
    ['claim-rewards', 'claimRewards', "Claim the signed-in staker's share of protocol fees"],
  ] as const) {
    app.post(
      `/api/staking/${path}`,
      { schema: { tags: ['staking'], summary, security: [{ bearer: [] }] } },
      async (request) => {
        const account = ctx.auth.require(request) as Address;
        const { staking } = stakingOf(ctx);
        const wallet = walletOf(ctx, account);
        const txHash = await send(functionName, () =>
          writeContractAndWait(wallet, { address: staking, abi: stakingAbi, functionName, args: [] }),
        );
        return { txHash, ...(await position(ctx, account)) };
      },
    );
  }
}

import { inferenceEscrowAbi, openVotesAbi, stakingAbi } from '@openledger/chain';
import type { FastifyInstance } from 'fastify';
import { erc20Abi, getAddress, isAddress } from 'viem';
import type { NodeContext } from '../context.ts';
import { OpenLedgerError } from '../errors.ts';

export async function chainRoutes(app: FastifyInstance, ctx: NodeContext): Promise<void> {
  app.get(
    '/api/health',
    { schema: { tags: ['chain'], summary: 'Liveness: the node answers and reaches its chain' } },
    async () => {
      const block = await ctx.chain.publicClient.getBlockNumber();
      return { ok: true, chainId: ctx.chain.chainId, block: Number(block) };
    },
  );

  app.get(
    '/api/chain/status',
    { schema: { tags: ['chain'], summary: 'Chain id, block, protocol addresses and OPEN total supply' } },
    async () => {
      const blockNumber = await ctx.chain.publicClient.getBlockNumber();
      const open = ctx.chain.contracts.OpenToken;
      const openTotalSupply = open
        ? await ctx.chain.publicClient.readContract({
            address: open,
            abi: erc20Abi,
            functionName: 'totalSupply',
          })
        : 0n;
      return {
        chainId: ctx.chain.chainId,
        rpcUrl: ctx.chain.local ? ctx.chain.rpcUrl : undefined,
        blockNumber: Number(blockNumber),
        contracts: ctx.chain.contracts,
        openTotalSupply: openTotalSupply.toString(),
      };
    },
  );

  app.get<{ Params: { address: string } }>(
    '/api/accounts/:address',
    {
      schema: {
        tags: ['chain'],
        summary: 'Balances of an address: OPEN, staked, escrowed, votes (wei strings)',
      },
    },
    async (request) => {
      if (!isAddress(request.params.address)) {
        throw new OpenLedgerError('invalid_address', 'address must be a 0x-prefixed 20-byte hex address', {
          field: 'address',
        });
      }
      const address = getAddress(request.params.address);
      const c = ctx.chain.contracts;
      const client = ctx.chain.publicClient;
      const [open, operator, settler, escrow, votes] = await Promise.all([
        client.readContract({
          address: c.OpenToken,
          abi: erc20Abi,
          functionName: 'balanceOf',
          args: [address],
        }),
        client.readContract({
          address: c.Staking,
          abi: stakingAbi,
          functionName: 'stakeOf',
          args: [address, 0],
        }),
        client.readContract({
          address: c.Staking,
          abi: stakingAbi,
          functionName: 'stakeOf',
          args: [address, 1],
        }),
        client.readContract({
          address: c.InferenceEscrow,
          abi: inferenceEscrowAbi,
          functionName: 'balanceOf',
          args: [address],
        }),
        client.readContract({
          address: c.OpenVotes,
          abi: openVotesAbi,
          functionName: 'getVotes',
          args: [address],
        }),
      ]);
      return {
        address,
        open: open.toString(),
        staked: ((operator as bigint) + (settler as bigint)).toString(),
        escrow: (escrow as bigint).toString(),
        votes: (votes as bigint).toString(),
      };
    },
  );
}

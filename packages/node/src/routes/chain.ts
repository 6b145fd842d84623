import type { FastifyInstance } from 'fastify';
import { erc20Abi } from 'viem';
import type { NodeContext } from '../context.ts';

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
}

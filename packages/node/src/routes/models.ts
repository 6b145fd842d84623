import { modelRegistryAbi } from '@openledger/chain';
import type { FastifyInstance } from 'fastify';
import type { NodeContext } from '../context.ts';
import { OpenLedgerError } from '../errors.ts';

/** Registered models with their on-chain lineage (for the Explorer and audits). */
export async function modelRoutes(app: FastifyInstance, ctx: NodeContext): Promise<void> {
  const read = async (id: number) => {
    const client = ctx.chain.publicClient;
    const address = ctx.chain.contracts.ModelRegistry;
    const count = Number(
      await client.readContract({ address, abi: modelRegistryAbi, functionName: 'modelCount' }),
    );
    if (id < 1 || id > count)
      throw new OpenLedgerError('unknown_model', `model ${id} does not exist`, { status: 404, field: 'id' });
    const m = (await client.readContract({
      address,
      abi: modelRegistryAbi,
      functionName: 'getModel',
      args: [BigInt(id)],
    })) as unknown as readonly [string, string, string, string, string, bigint, bigint, string, boolean];
    const lineage = (await client.readContract({
      address,
      abi: modelRegistryAbi,
      functionName: 'getLineage',
      args: [BigInt(id)],
    })) as readonly {
      datanetId: bigint;
      version: number;
    }[];
    const job = ctx.services.factory?.jobs.list({ limit: 1000 }).find((j) => j.modelId === id);
    return {
      id,
      apiModel: `model-${id}`,
      owner: m[0],
      baseModelHash: m[1],
      adapterHash: m[2],
      trainingConfigHash: m[3],
      attributionIndexHash: m[4],
      pricePerKInput: m[5].toString(),
      pricePerKOutput: m[6].toString(),
      uri: m[7],
      deprecated: m[8],
      datanets: lineage.map((l) => ({ datanetId: Number(l.datanetId), version: Number(l.version) })),
      job: job
        ? { id: job.id, baseModel: job.spec.baseModel, template: job.spec.template, name: job.spec.name }
        : null,
    };
  };

  app.get(
    '/api/models',
    { schema: { tags: ['models'], summary: 'Every registered model with its lineage' } },
    async () => {
      const count = Number(
        await ctx.chain.publicClient.readContract({
          address: ctx.chain.contracts.ModelRegistry,
          abi: modelRegistryAbi,
          functionName: 'modelCount',
        }),
      );
      const out = [];
      for (let id = 1; id <= count; id++) out.push(await read(id));
      return out;
    },
  );

  app.get<{ Params: { id: number } }>(
    '/api/models/:id',
    {
      schema: {
        tags: ['models'],
        summary: "A model's on-chain record: owner, hashes, price and the datanet versions it learnt from",
        params: { type: 'object', properties: { id: { type: 'integer', minimum: 1 } } },
      },
    },
    async (request) => read(request.params.id),
  );
}

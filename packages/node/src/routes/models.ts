import type { FastifyInstance } from 'fastify';
import type { NodeContext } from '../context.ts';
import { OpenLedgerError } from '../errors.ts';
import { readModelCount, readModelLineage, readModelRecord } from '../model-record.ts';

/** Registered models with their on-chain lineage (for the Explorer and audits). */
export async function modelRoutes(app: FastifyInstance, ctx: NodeContext): Promise<void> {
  const client = ctx.chain.publicClient;
  const registry = ctx.chain.contracts.ModelRegistry;
  const read = async (id: number, count: number) => {
    if (id < 1 || id > count)
      throw new OpenLedgerError('unknown_model', `model ${id} does not exist`, { status: 404, field: 'id' });
    const [m, datanets] = await Promise.all([
      readModelRecord(client, registry, id),
      readModelLineage(client, registry, id),
    ]);
    const job = ctx.services.factory?.jobs.findByModel(id);
    return {
      ...m,
      apiModel: `model-${id}`,
      pricePerKInput: m.pricePerKInput.toString(),
      pricePerKOutput: m.pricePerKOutput.toString(),
      datanets,
      job: job
        ? { id: job.id, baseModel: job.spec.baseModel, template: job.spec.template, name: job.spec.name }
        : null,
    };
  };

  app.get(
    '/api/models',
    { schema: { tags: ['models'], summary: 'Every registered model with its lineage' } },
    async () => {
      const count = await readModelCount(client, registry);
      return Promise.all(Array.from({ length: count }, (_, i) => read(i + 1, count)));
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
    async (request) => read(request.params.id, await readModelCount(client, registry)),
  );
}

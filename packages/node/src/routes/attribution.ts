import type { FastifyInstance } from 'fastify';
import type { NodeContext } from '../context.ts';
import { OpenLedgerError } from '../errors.ts';

export async function attributionRoutes(app: FastifyInstance, ctx: NodeContext): Promise<void> {
  const service = () => {
    const s = ctx.services.attribution;
    if (!s)
      throw new OpenLedgerError('unavailable', 'attribution is not running on this node', { status: 503 });
    return s;
  };

  app.get<{ Params: { id: string } }>(
    '/api/attribution/receipts/:id',
    {
      schema: {
        tags: ['attribution'],
        summary: 'A receipt with the answer it attributes: contributors, weights and matched spans',
        params: { type: 'object', properties: { id: { type: 'string', pattern: '^0x[0-9a-f]{64}$' } } },
      },
    },
    async (request) => service().receipt(request.params.id),
  );

  app.post<{ Body: { receipt: unknown } }>(
    '/api/attribution/verify',
    {
      schema: {
        tags: ['attribution'],
        summary: 'Recompute a receipt from the training-data index and compare (a tampered receipt fails)',
        body: { type: 'object', required: ['receipt'], properties: { receipt: { type: 'object' } } },
      },
    },
    async (request) => service().verify(request.body.receipt),
  );
}

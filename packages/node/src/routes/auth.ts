import type { FastifyInstance } from 'fastify';
import type { NodeContext } from '../context.ts';
import { OpenLedgerError } from '../errors.ts';

export async function authRoutes(app: FastifyInstance, ctx: NodeContext): Promise<void> {
  app.post(
    '/api/auth/nonce',
    {
      schema: {
        tags: ['identity'],
        summary: 'A single-use nonce for a Sign-In with Ethereum message',
        response: { 200: { type: 'object', properties: { nonce: { type: 'string' } }, required: ['nonce'] } },
      },
    },
    async () => ({ nonce: ctx.auth.issueNonce() }),
  );

  app.post<{ Body: { message: string; signature: `0x${string}` } }>(
    '/api/auth/verify',
    {
      schema: {
        tags: ['identity'],
        summary: 'Exchange a signed SIWE message for a bearer token',
        body: {
          type: 'object',
          required: ['message', 'signature'],
          additionalProperties: false,
          properties: {
            message: { type: 'string', minLength: 1, maxLength: 4096 },
            signature: { type: 'string', pattern: '^0x[0-9a-fA-F]+$', maxLength: 1024 },
          },
        },
      },
    },
    async (request) => {
      const host = request.headers.host;
      if (!host) throw new OpenLedgerError('missing_host', 'request has no Host header', { field: 'host' });
      return ctx.auth.signIn(request.body.message, request.body.signature, host);
    },
  );

  app.get(
    '/api/auth/me',
    { schema: { tags: ['identity'], summary: 'The signed-in address', security: [{ bearer: [] }] } },
    async (request) => ({ address: ctx.auth.require(request) }),
  );

  app.get(
    '/api/dev/accounts',
    {
      schema: {
        tags: ['identity'],
        summary: "anvil's well-known TEST accounts (embedded local chain only)",
        description:
          'These keys are public test keys from the anvil mnemonic; never use them on a real chain.',
      },
    },
    async () => {
      if (!ctx.chain.local) {
        throw new OpenLedgerError('not_local', 'dev accounts exist only on the embedded local chain', {
          status: 404,
        });
      }
      return ctx.devAccounts;
    },
  );
}

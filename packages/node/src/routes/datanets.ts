import { Readable } from 'node:stream';
import { type Datanets, type ReviewDecision, verifyRowProof } from '@openledger/datanet';
import type { FastifyInstance } from 'fastify';
import type { NodeContext } from '../context.ts';
import { OpenLedgerError } from '../errors.ts';

/** Largest request body for an upload: 5 MB file, base64-encoded in JSON, with room to spare. */
const UPLOAD_BODY_LIMIT = 16 * 1024 * 1024;

const hex32 = { type: 'string', pattern: '^0x[0-9a-fA-F]{64}$' } as const;
const address = { type: 'string', pattern: '^0x[0-9a-fA-F]{40}$' } as const;
const idParams = {
  type: 'object',
  required: ['id'],
  properties: { id: { type: 'integer', minimum: 1 } },
} as const;
const versionParams = {
  type: 'object',
  required: ['id', 'version'],
  properties: { id: { type: 'integer', minimum: 1 }, version: { type: 'integer', minimum: 1 } },
} as const;
const rowParams = {
  type: 'object',
  required: ['id', 'rowId'],
  properties: { id: { type: 'integer', minimum: 1 }, rowId: hex32 },
} as const;
const paging = {
  limit: { type: 'integer', minimum: 1, maximum: 10000 },
  offset: { type: 'integer', minimum: 0 },
} as const;

const datanetSchema = {
  type: 'object',
  properties: {
    id: { type: 'integer' },
    owner: { type: 'string' },
    name: { type: 'string' },
    summary: { type: 'string' },
    description: { type: 'string', description: 'Markdown' },
    tags: { type: 'array', items: { type: 'string' } },
    license: { type: 'string' },
    visibility: { type: 'string', enum: ['public', 'permissioned'] },
    policy: { type: 'string', enum: ['open', 'allowlist', 'owner'] },
    schema: { type: 'string', enum: ['text', 'prompt_completion', 'text_label'] },
    metadataURI: { type: 'string' },
    metadataHash: { type: 'string' },
    createdAt: { type: 'string' },
    updatedAt: { type: 'string' },
    rowCount: { type: 'integer' },
    approvedCount: { type: 'integer' },
    pendingCount: { type: 'integer' },
    versionCount: { type: 'integer' },
    latestVersion: { type: ['integer', 'null'] },
    latestRoot: { type: ['string', 'null'] },
  },
} as const;

const versionSchema = {
  type: 'object',
  properties: {
    datanetId: { type: 'integer' },
    version: { type: 'integer' },
    root: { type: 'string' },
    rowCount: { type: 'integer' },
    maxSeq: { type: 'integer' },
    contentURI: { type: 'string' },
    manifestBlob: { type: 'string' },
    publishedBy: { type: 'string' },
    publishedAt: { type: 'string' },
    recorded: { type: 'integer', description: 'contributions of this version recorded on-chain so far' },
    txHash: { type: ['string', 'null'] },
  },
} as const;

const rowSchema = {
  type: 'object',
  properties: {
    id: { type: 'string' },
    datanetId: { type: 'integer' },
    contributionId: { type: 'integer' },
    contributor: { type: 'string' },
    contentHash: { type: 'string' },
    fields: { type: 'object', additionalProperties: { type: 'string' } },
    status: { type: 'string', enum: ['pending', 'approved', 'rejected'] },
    reviewer: { type: ['string', 'null'] },
    reason: { type: ['string', 'null'] },
    reviewedAt: { type: ['string', 'null'] },
    version: { type: ['integer', 'null'], description: 'first version that contains the row' },
    createdAt: { type: 'string' },
  },
} as const;

const createBody = {
  type: 'object',
  required: ['name', 'license'],
  additionalProperties: false,
  properties: {
    name: { type: 'string', maxLength: 80 },
    summary: { type: 'string', maxLength: 280 },
    description: { type: 'string', maxLength: 20000, description: 'Markdown' },
    tags: { type: 'array', maxItems: 16, items: { type: 'string', maxLength: 32 } },
    license: { type: 'string', maxLength: 64 },
    visibility: { type: 'string', enum: ['public', 'permissioned'] },
    policy: { type: 'string', enum: ['open', 'allowlist', 'owner'] },
    schema: { type: 'string', enum: ['text', 'prompt_completion', 'text_label'] },
  },
} as const;

function datanetsOf(ctx: NodeContext): Datanets {
  const datanets = ctx.services.datanets;
  if (!datanets)
    throw new OpenLedgerError('unavailable', 'datanets are not running on this node', { status: 503 });
  return datanets;
}

interface UploadBody {
  filename?: string;
  fileName?: string;
  contentBase64?: string;
  content?: string;
}

/**
 * Datanet routes. Writes need a signed-in address (`Authorization: Bearer`, see /api/auth); reads
 * are open, but permissioned datanets answer only to allow-listed addresses.
 */
export async function datanetRoutes(app: FastifyInstance, ctx: NodeContext): Promise<void> {
  const reader = (request: import('fastify').FastifyRequest) => ctx.auth.optional(request) ?? null;
  const listCache = new Map<string, { token: string; body: string }>();

  app.get<{ Querystring: { owner?: string; tag?: string; q?: string; limit?: number; offset?: number } }>(
    '/api/datanets',
    {
      schema: {
        tags: ['datanets'],
        summary: 'Datanets visible to the caller (public ones, and permissioned ones it may read)',
        querystring: {
          type: 'object',
          properties: {
            owner: address,
            tag: { type: 'string', maxLength: 32 },
            q: { type: 'string', maxLength: 100 },
            ...paging,
          },
        },
        response: {
          200: {
            type: 'object',
            properties: {
              datanets: { type: 'array', items: datanetSchema },
              limit: { type: 'integer' },
              offset: { type: 'integer' },
            },
          },
        },
      },
    },
    async (request, reply) => {
      const { owner, tag, q, limit = 50, offset = 0 } = request.query;
      const datanets = datanetsOf(ctx);
      const who = reader(request);
      // the listing is read far more often than datanets change: serve the serialised page until
      // the database reports a change (any write, by this process or another)
      const key = `${who}|${owner ?? ''}|${tag ?? ''}|${q ?? ''}|${limit}|${offset}`;
      const token = datanets.changeToken();
      const hit = listCache.get(key);
      if (hit && hit.token === token) return reply.type('application/json; charset=utf-8').send(hit.body);
      let list = datanets.list(who, { owner, tag, limit: Math.min(limit, 500), offset });
      if (q) {
        const needle = q.toLowerCase();
        list = list.filter(
          (d) =>
            d.name.toLowerCase().includes(needle) ||
            d.summary.toLowerCase().includes(needle) ||
            d.tags.some((t) => t.includes(needle)),
        );
      }
      const body = JSON.stringify({ datanets: list, limit, offset });
      if (listCache.size >= 1000) listCache.clear();
      listCache.set(key, { token, body });
      return reply.type('application/json; charset=utf-8').send(body);
    },
  );

  app.post<{ Body: Record<string, unknown> }>(
    '/api/datanets',
    {
      schema: {
        tags: ['datanets'],
        summary: 'Create a datanet (anchored in DatanetRegistry); the caller becomes its owner',
        security: [{ bearer: [] }],
        body: createBody,
        response: { 201: datanetSchema },
      },
    },
    async (request, reply) => {
      const actor = ctx.auth.require(request);
      const d = await datanetsOf(ctx).create(actor, request.body as never);
      return reply.status(201).send(d);
    },
  );

  app.get<{ Params: { id: number } }>(
    '/api/datanets/:id',
    {
      schema: {
        tags: ['datanets'],
        summary: 'A datanet with its counts and latest version',
        params: idParams,
        response: { 200: datanetSchema },
      },
    },
    async (request) => datanetsOf(ctx).get(reader(request), request.params.id),
  );

  app.patch<{ Params: { id: number }; Body: Record<string, unknown> }>(
    '/api/datanets/:id',
    {
      schema: {
        tags: ['datanets'],
        summary: 'Edit summary, description and tags (owner; never creates a version)',
        security: [{ bearer: [] }],
        params: idParams,
        body: {
          type: 'object',
          additionalProperties: false,
          properties: {
            summary: createBody.properties.summary,
            description: createBody.properties.description,
            tags: createBody.properties.tags,
          },
        },
        response: { 200: datanetSchema },
      },
    },
    async (request) => datanetsOf(ctx).update(ctx.auth.require(request), request.params.id, request.body),
  );

  // Uploads: JSON {filename, contentBase64} (what the Studio sends), or the raw file bytes with
  // Content-Type application/octet-stream and ?filename=… (what the CLI and curl send).
  await app.register(async (scope) => {
    scope.addContentTypeParser(
      [
        'application/octet-stream',
        'application/pdf',
        'text/csv',
        'text/markdown',
        'application/x-ndjson',
        'application/jsonl',
      ],
      { parseAs: 'buffer', bodyLimit: UPLOAD_BODY_LIMIT },
      (_req, body, done) => done(null, body),
    );
    scope.post<{ Params: { id: number }; Querystring: { filename?: string }; Body: Buffer | UploadBody }>(
      '/api/datanets/:id/contributions',
      {
        bodyLimit: UPLOAD_BODY_LIMIT,
        schema: {
          tags: ['datanets'],
          summary:
            'Contribute a file (.txt .md .jsonl .csv .pdf, UTF-8, ≤ 5 MB): parsed into rows, checked, stored as pending rows',
          description:
            'Send either JSON `{ "filename": "notes.md", "contentBase64": "…" }` or the raw bytes as ' +
            '`application/octet-stream` with `?filename=notes.md`. The answer reports every row: accepted, or the ' +
            'problems found (empty, too_short, too_long, invalid_encoding, schema_mismatch, duplicate, near_duplicate). ' +
            'A file none of whose rows can be accepted is refused with 422 and nothing is stored.',
          security: [{ bearer: [] }],
          params: idParams,
          querystring: { type: 'object', properties: { filename: { type: 'string', maxLength: 255 } } },
        },
      },
      async (request, reply) => {
        const actor = ctx.auth.require(request);
        let name: string | undefined;
        let bytes: Buffer;
        if (Buffer.isBuffer(request.body)) {
          name = request.query.filename;
          bytes = request.body;
        } else {
          const body = (request.body ?? {}) as UploadBody;
          name = body.filename ?? body.fileName ?? request.query.filename;
          if (typeof body.contentBase64 === 'string') {
            if (!/^[A-Za-z0-9+/=\s]*$/.test(body.contentBase64)) {
              throw new OpenLedgerError('invalid_request', 'contentBase64: is not base64', {
                field: 'contentBase64',
              });
            }
            bytes = Buffer.from(body.contentBase64, 'base64');
          } else if (typeof body.content === 'string') {
            bytes = Buffer.from(body.content, 'utf8');
          } else {
            throw new OpenLedgerError(
              'invalid_request',
              'contentBase64: is required (or send the raw file)',
              {
                field: 'contentBase64',
              },
            );
          }
        }
        if (!name)
          throw new OpenLedgerError('invalid_request', 'filename: is required', { field: 'filename' });
        const result = await datanetsOf(ctx).contribute(actor, request.params.id, { name, bytes });
        return reply.status(201).send({ ...result, contributionId: result.contribution.id });
      },
    );
  });

  app.get<{ Params: { id: number }; Querystring: { limit?: number; offset?: number } }>(
    '/api/datanets/:id/contributions',
    {
      schema: {
        tags: ['datanets'],
        summary: 'Contributions (uploaded files) of a datanet',
        params: idParams,
        querystring: { type: 'object', properties: paging },
      },
    },
    async (request) => ({
      contributions: datanetsOf(ctx).contributions(reader(request), request.params.id, request.query),
    }),
  );

  app.get<{
    Params: { id: number };
    Querystring: {
      status?: 'pending' | 'approved' | 'rejected';
      contributionId?: number;
      limit?: number;
      offset?: number;
    };
  }>(
    '/api/datanets/:id/rows',
    {
      schema: {
        tags: ['datanets'],
        summary: 'Rows; the owner and reviewers see every status, others approved rows and their own',
        params: idParams,
        querystring: {
          type: 'object',
          properties: {
            status: { type: 'string', enum: ['pending', 'approved', 'rejected'] },
            contributionId: { type: 'integer', minimum: 1 },
            ...paging,
          },
        },
        response: { 200: { type: 'object', properties: { rows: { type: 'array', items: rowSchema } } } },
      },
    },
    async (request) => ({ rows: datanetsOf(ctx).rows(reader(request), request.params.id, request.query) }),
  );

  app.get<{ Params: { id: number; rowId: string } }>(
    '/api/datanets/:id/rows/:rowId',
    { schema: { tags: ['datanets'], summary: 'One row', params: rowParams, response: { 200: rowSchema } } },
    async (request) => datanetsOf(ctx).row(reader(request), request.params.id, request.params.rowId),
  );

  app.post<{
    Params: { id: number };
    Body: {
      decisions?: ReviewDecision[];
      rowIds?: string[];
      decision?: 'approve' | 'reject';
      reason?: string;
    };
  }>(
    '/api/datanets/:id/review',
    {
      schema: {
        tags: ['datanets'],
        summary: 'Approve or reject pending rows, one or many at once (owner or delegated reviewers)',
        description:
          'Either `{ "decisions": [{ "rowId", "decision": "approve"|"reject", "reason" }] }` or the batch form ' +
          '`{ "rowIds": [...], "decision": "approve"|"reject", "reason": "…" }`. A rejection needs a reason. ' +
          'The batch is applied all or nothing.',
        security: [{ bearer: [] }],
        params: idParams,
        body: {
          type: 'object',
          additionalProperties: false,
          properties: {
            decisions: {
              type: 'array',
              minItems: 1,
              maxItems: 10000,
              items: {
                type: 'object',
                required: ['rowId', 'decision'],
                additionalProperties: false,
                properties: {
                  rowId: hex32,
                  decision: { type: 'string', enum: ['approve', 'reject'] },
                  reason: { type: 'string', maxLength: 1000 },
                },
              },
            },
            rowIds: { type: 'array', minItems: 1, maxItems: 10000, items: hex32 },
            decision: { type: 'string', enum: ['approve', 'reject'] },
            reason: { type: 'string', maxLength: 1000 },
          },
        },
        response: {
          200: {
            type: 'object',
            properties: { approved: { type: 'integer' }, rejected: { type: 'integer' } },
          },
        },
      },
    },
    async (request) => {
      const actor = ctx.auth.require(request);
      const b = request.body;
      let decisions = b.decisions;
      if (!decisions) {
        if (!b.rowIds || !b.decision) {
          throw new OpenLedgerError(
            'invalid_request',
            'decisions: give decisions[], or rowIds[] with a decision',
            {
              field: 'decisions',
            },
          );
        }
        decisions = b.rowIds.map((rowId) => ({ rowId, decision: b.decision!, reason: b.reason }));
      }
      return datanetsOf(ctx).review(actor, request.params.id, decisions);
    },
  );

  app.get<{ Params: { id: number }; Querystring: { contributionId?: number; limit?: number } }>(
    '/api/datanets/:id/pending',
    {
      schema: {
        tags: ['datanets'],
        summary: 'Ids of pending rows, oldest first (owner or reviewers)',
        security: [{ bearer: [] }],
        params: idParams,
        querystring: {
          type: 'object',
          properties: { contributionId: { type: 'integer', minimum: 1 }, limit: paging.limit },
        },
      },
    },
    async (request) => ({
      rowIds: datanetsOf(ctx).pending(ctx.auth.require(request), request.params.id, request.query),
    }),
  );

  app.post<{ Params: { id: number } }>(
    '/api/datanets/:id/publish',
    {
      schema: {
        tags: ['datanets'],
        summary:
          'Publish a version of every approved row: Merkle root on-chain (publishVersion), then recordContributions',
        security: [{ bearer: [] }],
        params: idParams,
        response: { 201: versionSchema },
      },
    },
    async (request, reply) => {
      const v = await datanetsOf(ctx).publish(ctx.auth.require(request), request.params.id);
      return reply.status(201).send(v);
    },
  );

  app.post<{ Params: { id: number; version: number } }>(
    '/api/datanets/:id/versions/:version/record',
    {
      schema: {
        tags: ['datanets'],
        summary: "Resume recording a version's contributions on-chain after an interruption (owner)",
        security: [{ bearer: [] }],
        params: versionParams,
        response: { 200: versionSchema },
      },
    },
    async (request) =>
      datanetsOf(ctx).resumeRecording(ctx.auth.require(request), request.params.id, request.params.version),
  );

  app.get<{ Params: { id: number } }>(
    '/api/datanets/:id/versions',
    {
      schema: {
        tags: ['datanets'],
        summary: 'Version history',
        params: idParams,
        response: {
          200: { type: 'object', properties: { versions: { type: 'array', items: versionSchema } } },
        },
      },
    },
    async (request) => ({ versions: datanetsOf(ctx).versions(reader(request), request.params.id) }),
  );

  app.get<{ Params: { id: number; version: number } }>(
    '/api/datanets/:id/versions/:version',
    {
      schema: {
        tags: ['datanets'],
        summary: 'One version',
        params: versionParams,
        response: { 200: versionSchema },
      },
    },
    async (request) => datanetsOf(ctx).version(reader(request), request.params.id, request.params.version),
  );

  app.get<{ Params: { id: number; version: number }; Querystring: { from?: number; limit?: number } }>(
    '/api/datanets/:id/versions/:version/diff',
    {
      schema: {
        tags: ['datanets'],
        summary:
          'Rows added (or removed) between version `from` (default: the previous one; 0 = empty) and this one',
        params: versionParams,
        querystring: {
          type: 'object',
          properties: {
            from: { type: 'integer', minimum: 0 },
            limit: { type: 'integer', minimum: 0, maximum: 100000 },
          },
        },
      },
    },
    async (request) => {
      const { id, version } = request.params;
      const from = request.query.from ?? version - 1;
      return datanetsOf(ctx).diff(reader(request), id, from, version, { limit: request.query.limit });
    },
  );

  app.get<{ Params: { id: number; version: number } }>(
    '/api/datanets/:id/versions/:version/export',
    {
      schema: {
        tags: ['datanets'],
        summary: 'The version as JSONL training records: one `{id, contributor, ...fields}` per line',
        params: versionParams,
      },
    },
    async (request, reply) => {
      const { id, version } = request.params;
      const exported = datanetsOf(ctx).exportVersion(reader(request), id, version);
      reply.header('content-type', 'application/x-ndjson; charset=utf-8');
      reply.header('content-disposition', `attachment; filename="datanet-${id}-v${version}.jsonl"`);
      return reply.send(Readable.from(exported.lines));
    },
  );

  const proofRoute = async (
    request: import('fastify').FastifyRequest,
    datanetId: number,
    rowId: string,
    version?: number,
  ) => {
    const p = await datanetsOf(ctx).prove(reader(request), datanetId, rowId, version);
    const onchainRoot = p.onchainRoot ?? null;
    return {
      ...p,
      onchainRoot,
      valid: verifyRowProof(p, onchainRoot ? { root: onchainRoot } : {}),
      matchesOnchain: onchainRoot !== null && onchainRoot.toLowerCase() === p.root.toLowerCase(),
    };
  };

  app.get<{ Params: { id: number; rowId: string }; Querystring: { version?: number } }>(
    '/api/datanets/:id/rows/:rowId/proof',
    {
      schema: {
        tags: ['datanets'],
        summary:
          "Merkle proof of an approved row against a version's root (and the root read from the chain)",
        params: rowParams,
        querystring: { type: 'object', properties: { version: { type: 'integer', minimum: 1 } } },
      },
    },
    async (request) => proofRoute(request, request.params.id, request.params.rowId, request.query.version),
  );

  app.get<{ Params: { rowId: string }; Querystring: { version?: number } }>(
    '/api/rows/:rowId/proof',
    {
      schema: {
        tags: ['datanets'],
        summary: 'Merkle proof of a row by its id alone (row ids are unique across datanets)',
        params: { type: 'object', required: ['rowId'], properties: { rowId: hex32 } },
        querystring: { type: 'object', properties: { version: { type: 'integer', minimum: 1 } } },
      },
    },
    async (request) => {
      const datanetId = datanetsOf(ctx).datanetOfRow(request.params.rowId);
      return proofRoute(request, datanetId, request.params.rowId, request.query.version);
    },
  );

  app.get<{ Params: { id: number } }>(
    '/api/datanets/:id/members',
    {
      schema: {
        tags: ['datanets'],
        summary: 'Allow-listed addresses and delegated reviewers',
        params: idParams,
      },
    },
    async (request) => datanetsOf(ctx).members(reader(request), request.params.id),
  );

  app.post<{ Params: { id: number }; Body: { account: string } }>(
    '/api/datanets/:id/members',
    {
      schema: {
        tags: ['datanets'],
        summary: 'Grant an address access (read for permissioned datanets, contribute for allow-list ones)',
        security: [{ bearer: [] }],
        params: idParams,
        body: {
          type: 'object',
          required: ['account'],
          additionalProperties: false,
          properties: { account: address },
        },
      },
    },
    async (request) => {
      await datanetsOf(ctx).grantAccess(ctx.auth.require(request), request.params.id, request.body.account);
      return datanetsOf(ctx).members(ctx.auth.require(request), request.params.id);
    },
  );

  app.delete<{ Params: { id: number; account: string } }>(
    '/api/datanets/:id/members/:account',
    {
      schema: {
        tags: ['datanets'],
        summary: "Revoke an address's access",
        security: [{ bearer: [] }],
        params: {
          type: 'object',
          required: ['id', 'account'],
          properties: { id: { type: 'integer', minimum: 1 }, account: address },
        },
      },
    },
    async (request) => {
      await datanetsOf(ctx).revokeAccess(
        ctx.auth.require(request),
        request.params.id,
        request.params.account,
      );
      return datanetsOf(ctx).members(ctx.auth.require(request), request.params.id);
    },
  );

  app.post<{ Params: { id: number }; Body: { account: string; enabled?: boolean } }>(
    '/api/datanets/:id/reviewers',
    {
      schema: {
        tags: ['datanets'],
        summary: 'Delegate (or withdraw) review to an address (owner)',
        security: [{ bearer: [] }],
        params: idParams,
        body: {
          type: 'object',
          required: ['account'],
          additionalProperties: false,
          properties: { account: address, enabled: { type: 'boolean' } },
        },
      },
    },
    async (request) => {
      const actor = ctx.auth.require(request);
      await datanetsOf(ctx).setReviewer(
        actor,
        request.params.id,
        request.body.account,
        request.body.enabled ?? true,
      );
      return datanetsOf(ctx).members(actor, request.params.id);
    },
  );
}

import { existsSync } from 'node:fs';
import { join } from 'node:path';
import fastifyStatic from '@fastify/static';
import fastifySwagger from '@fastify/swagger';
import fastifySwaggerUi from '@fastify/swagger-ui';
import Fastify, { type FastifyInstance } from 'fastify';
import type { NodeContext } from '../context.ts';
import { toUserFacingError } from '../errors.ts';
import { registerRoutes } from '../routes/index.ts';

export interface ServerOptions {
  /** folder of the built Studio; served at `/` when it exists */
  studioDir?: string;
  logger?: boolean;
}

/** Builds the node's HTTP server: API routes, OpenAPI at /docs, the Studio at /. */
export async function createServer(ctx: NodeContext, options: ServerOptions = {}): Promise<FastifyInstance> {
  const app = Fastify({
    logger: options.logger ? { level: 'info', redact: ['req.headers.authorization'] } : false,
    bodyLimit: 8 * 1024 * 1024,
    ajv: { customOptions: { removeAdditional: false, coerceTypes: 'array', allErrors: false } },
  });

  await app.register(fastifySwagger, {
    openapi: {
      openapi: '3.1.0',
      info: {
        title: 'OpenLedger node API',
        version: '0.1.0',
        description:
          'Datanets, ModelFactory, OpenLoRA serving, Proof of Attribution, rewards and governance.',
      },
      components: {
        securitySchemes: { bearer: { type: 'http', scheme: 'bearer', description: 'SIWE session token' } },
      },
    },
  });
  await app.register(fastifySwaggerUi, { routePrefix: '/docs' });

  app.setErrorHandler((error, request, reply) => {
    const e = toUserFacingError(error);
    // Fastify's own schema validation errors carry `validation`; name the field in the message
    const validation = (
      error as { validation?: { instancePath?: string; params?: { missingProperty?: string } }[] }
    ).validation;
    if (validation?.length) {
      const v = validation[0];
      const field =
        v.params?.missingProperty ?? v.instancePath?.replace(/^\//, '').replace(/\//g, '.') ?? undefined;
      return sendError(request.url, reply, 400, 'invalid_request', e.message, field || undefined);
    }
    if (e.status >= 500) request.log.error(error);
    // A typed error's message was written for the caller (e.g. 502 adapter_unavailable says which
    // download failed); an unexpected error's message may expose internals.
    return sendError(
      request.url,
      reply,
      e.status,
      e.code,
      e.status >= 500 && !e.declared ? 'internal error' : e.message,
      e.field,
    );
  });

  await registerRoutes(app, ctx);

  const studioDir = options.studioDir;
  if (studioDir && existsSync(join(studioDir, 'index.html'))) {
    await app.register(fastifyStatic, { root: studioDir, prefix: '/', wildcard: false });
    // client-side routes fall back to the Studio's index.html
    app.setNotFoundHandler((request, reply) => {
      if (request.method === 'GET' && !request.url.startsWith('/api') && !request.url.startsWith('/v1')) {
        return reply.sendFile('index.html');
      }
      return sendError(request.url, reply, 404, 'not_found', `no route ${request.method} ${request.url}`);
    });
  } else {
    app.setNotFoundHandler((request, reply) =>
      sendError(request.url, reply, 404, 'not_found', `no route ${request.method} ${request.url}`),
    );
  }
  return app;
}

function sendError(
  url: string,
  reply: import('fastify').FastifyReply,
  status: number,
  code: string,
  message: string,
  field?: string,
) {
  // under /v1 the OpenAI shape, so OpenAI clients surface the message
  if (url.startsWith('/v1')) {
    const type =
      status === 401
        ? 'authentication_error'
        : status === 402
          ? 'insufficient_quota'
          : 'invalid_request_error';
    return reply.status(status).send({ error: { message, type, code, param: field ?? null } });
  }
  return reply.status(status).send({ error: { code, message, ...(field ? { field } : {}) } });
}

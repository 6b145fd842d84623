import { checkVoucher, type Voucher } from '@openledger/economy';
import type { ResponseFormat } from '@openledger/serve';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { NodeContext } from '../context.ts';
import { OpenLedgerError } from '../errors.ts';
import type { GenerationRequest, GenerationResult, ServingService } from '../serving.ts';

function servingOf(ctx: NodeContext): ServingService {
  const serving = ctx.services.serving;
  if (!serving)
    throw new OpenLedgerError('unavailable', 'serving is not running on this node', { status: 503 });
  return serving;
}

const sampling = {
  model: { type: 'string', minLength: 1, maxLength: 200 },
  max_tokens: { type: 'integer', minimum: 1, maximum: 4096 },
  temperature: { type: 'number', minimum: 0, maximum: 2 },
  top_p: { type: 'number', exclusiveMinimum: 0, maximum: 1 },
  seed: { type: 'integer', minimum: 0, maximum: 2147483647 },
  stream: { type: 'boolean' },
  stream_options: { type: 'object' },
  user: { type: 'string' },
  stop: {
    anyOf: [
      { type: 'string', maxLength: 64 },
      { type: 'array', maxItems: 4, items: { type: 'string', maxLength: 64 } },
    ],
  },
  response_format: {
    type: 'object',
    required: ['type'],
    description:
      'text, json_object (any JSON object) or json_schema (JSON fitting json_schema.schema: type object/array/string/number/integer/boolean/null, properties, required, additionalProperties, items, minItems, maxItems, enum, const), by constrained decoding',
    properties: {
      type: { type: 'string', enum: ['text', 'json_object', 'json_schema'] },
      json_schema: {
        type: 'object',
        required: ['schema'],
        properties: {
          name: { type: 'string', maxLength: 64 },
          description: { type: 'string' },
          strict: { type: 'boolean' },
          schema: { type: 'object' },
        },
      },
    },
  },
  mixture: {
    type: 'array',
    minItems: 2,
    maxItems: 8,
    description: 'OpenLedger extension: serve a weighted mixture of adapters (priced as the first)',
    items: {
      type: 'object',
      required: ['model', 'weight'],
      properties: { model: { type: 'string' }, weight: { type: 'number', minimum: -10, maximum: 10 } },
    },
  },
} as const;

interface OpenAiBody {
  model: string;
  messages?: { role: 'system' | 'user' | 'assistant'; content: string }[];
  prompt?: string;
  max_tokens?: number;
  temperature?: number;
  top_p?: number;
  seed?: number;
  stream?: boolean;
  stop?: string | string[];
  mixture?: { model: string; weight: number }[];
  response_format?: ResponseFormat;
}

function toGeneration(body: OpenAiBody): GenerationRequest {
  return {
    model: body.model,
    messages: body.messages,
    prompt: body.prompt,
    maxTokens: body.max_tokens,
    temperature: body.temperature,
    topP: body.top_p,
    seed: body.seed,
    stop: body.stop === undefined ? undefined : Array.isArray(body.stop) ? body.stop : [body.stop],
    mixture: body.mixture,
    responseFormat: body.response_format,
  };
}

function usageOf(result: GenerationResult) {
  return {
    prompt_tokens: result.promptTokens,
    completion_tokens: result.completionTokens,
    total_tokens: result.promptTokens + result.completionTokens,
    cost: result.cost,
  };
}

export async function openAiRoutes(app: FastifyInstance, ctx: NodeContext): Promise<void> {
  app.get(
    '/v1/models',
    { schema: { tags: ['serving'], summary: 'The base model and every registered adapter' } },
    async () => {
      const models = await servingOf(ctx).listModels();
      return {
        object: 'list',
        data: models.map((m) => ({
          id: m.id,
          object: 'model',
          created: 0,
          owned_by: m.owner ?? 'openledger',
          openledger: {
            modelId: m.modelId,
            pricePerKInput: m.pricePerKInput.toString(),
            pricePerKOutput: m.pricePerKOutput.toString(),
            adapterHash: m.adapterHash,
          },
        })),
      };
    },
  );

  const handle =
    (kind: 'chat' | 'completion') =>
    async (request: FastifyRequest<{ Body: OpenAiBody }>, reply: FastifyReply) => {
      const serving = servingOf(ctx);
      const voucher = parseVoucherHeader(request.headers['x-openledger-voucher']);
      // a voucher alone identifies its signer; otherwise an API key or a Studio session does
      const consumer =
        voucher && !request.headers.authorization
          ? (voucher.voucher.consumer as `0x${string}`)
          : ctx.services.apiKeys!.consumerOf(request, ctx.auth);
      const body = request.body;
      const created = Math.floor(Date.now() / 1000);
      const object = kind === 'chat' ? 'chat.completion' : 'text_completion';
      if (!body.stream) {
        const result = await serving.generate(consumer, { ...toGeneration(body), voucher });
        return {
          id: result.id,
          object,
          created,
          model: result.model,
          choices: [
            kind === 'chat'
              ? {
                  index: 0,
                  message: { role: 'assistant', content: result.text },
                  finish_reason: result.finishReason,
                  logprobs: null,
                }
              : { index: 0, text: result.text, finish_reason: result.finishReason, logprobs: null },
          ],
          usage: usageOf(result),
          openledger: { receiptId: result.receiptId, cost: result.cost, consumer },
        };
      }
      // stream: open the SSE response at the first piece, so errors found before it are plain 4xx
      let open = false;
      let id = '';
      const chunkObject = kind === 'chat' ? 'chat.completion.chunk' : 'text_completion';
      const write = (data: unknown) => reply.raw.write(`data: ${JSON.stringify(data)}\n\n`);
      const start = () => {
        if (open) return;
        open = true;
        reply.hijack();
        reply.raw.writeHead(200, {
          'content-type': 'text/event-stream; charset=utf-8',
          'cache-control': 'no-cache',
          connection: 'keep-alive',
        });
        if (kind === 'chat')
          write({
            id,
            object: chunkObject,
            created,
            model: body.model,
            choices: [{ index: 0, delta: { role: 'assistant', content: '' }, finish_reason: null }],
          });
      };
      try {
        const result = await serving.generate(consumer, { ...toGeneration(body), voucher }, (piece) => {
          start();
          write(
            kind === 'chat'
              ? {
                  id,
                  object: chunkObject,
                  created,
                  model: body.model,
                  choices: [{ index: 0, delta: { content: piece }, finish_reason: null }],
                }
              : {
                  id,
                  object: chunkObject,
                  created,
                  model: body.model,
                  choices: [{ index: 0, text: piece, finish_reason: null }],
                },
          );
        });
        id = result.id;
        start();
        write({
          id: result.id,
          object: chunkObject,
          created,
          model: result.model,
          choices: [
            kind === 'chat'
              ? { index: 0, delta: {}, finish_reason: result.finishReason }
              : { index: 0, text: '', finish_reason: result.finishReason },
          ],
          usage: usageOf(result),
          openledger: { receiptId: result.receiptId, cost: result.cost, consumer },
        });
        reply.raw.write('data: [DONE]\n\n');
        reply.raw.end();
      } catch (error) {
        if (!open) throw error;
        const e = error as { message?: string; status?: number };
        write({
          error: { message: e.message ?? 'generation failed', type: 'server_error', code: e.status ?? 500 },
        });
        reply.raw.end();
      }
    };

  app.post<{ Body: OpenAiBody }>(
    '/v1/chat/completions',
    {
      schema: {
        tags: ['serving'],
        summary: 'OpenAI-compatible chat completion (stream: true for Server-Sent Events)',
        security: [{ bearer: [] }],
        body: {
          type: 'object',
          required: ['model', 'messages'],
          properties: {
            ...sampling,
            messages: {
              type: 'array',
              minItems: 1,
              maxItems: 64,
              items: {
                type: 'object',
                required: ['role', 'content'],
                properties: {
                  role: { type: 'string', enum: ['system', 'user', 'assistant'] },
                  content: { type: 'string', maxLength: 32768 },
                },
              },
            },
          },
        },
      },
    },
    handle('chat'),
  );

  app.post<{ Body: OpenAiBody }>(
    '/v1/completions',
    {
      schema: {
        tags: ['serving'],
        summary: 'OpenAI-compatible text completion',
        security: [{ bearer: [] }],
        body: {
          type: 'object',
          required: ['model', 'prompt'],
          properties: { ...sampling, prompt: { type: 'string', maxLength: 32768 } },
        },
      },
    },
    handle('completion'),
  );

  app.post<{ Body: { label?: string } }>(
    '/api/keys',
    {
      schema: {
        tags: ['serving'],
        summary: 'Create an API key bound to the signed-in wallet (shown once)',
        security: [{ bearer: [] }],
        body: { type: 'object', properties: { label: { type: 'string', maxLength: 80 } } },
      },
    },
    async (request, reply) =>
      reply
        .status(201)
        .send(ctx.services.apiKeys!.create(ctx.auth.require(request), request.body?.label ?? '')),
  );

  app.get(
    '/api/serve/adapters',
    {
      schema: {
        tags: ['serving'],
        summary:
          'Adapters resident in the engine, and the disk cache of adapters fetched from remote locations',
      },
    },
    async () => {
      const s = servingOf(ctx);
      const disk = s.adapterCache;
      return {
        loaded: s.adapters.loaded(),
        residentBytes: s.adapters.residentBytes,
        maxLoaded: s.adapters.maxLoaded,
        diskCache: {
          entries: disk.entries().map((e) => ({ adapterHash: e.sha256, bytes: e.bytes })),
          bytes: disk.bytes,
          maxBytes: disk.maxBytes,
          hits: disk.diskHits,
          remoteFetches: disk.remoteFetches,
          evictions: disk.evictions,
        },
      };
    },
  );

  for (const action of ['load', 'unload', 'merge'] as const) {
    app.post<{ Params: { model: string } }>(
      `/api/serve/adapters/:model/${action}`,
      {
        schema: {
          tags: ['serving'],
          summary: `${action[0].toUpperCase()}${action.slice(1)} an adapter (model-<id>) in the serving engine`,
          security: [{ bearer: [] }],
        },
      },
      async (request) => {
        ctx.auth.require(request);
        const s = servingOf(ctx);
        const key = (await s.model(request.params.model)).id;
        if (action === 'load') await s.adapters.load(key);
        else if (action === 'unload') await s.adapters.unload(key);
        else {
          await s.adapters.load(key);
          await s.engine.mergeAdapter(key);
        }
        return { model: key, action, loaded: s.adapters.loaded() };
      },
    );
  }
}

/**
 * `X-OpenLedger-Voucher`: base64 of JSON `{ voucher: { consumer, operator, modelId, cumulativeAmount,
 * cumulativePlatformFee, deadline }, signature }`, numbers as decimal strings.
 */
function parseVoucherHeader(
  header: string | string[] | undefined,
): { voucher: Voucher; signature: `0x${string}` } | undefined {
  if (header === undefined) return undefined;
  const bad = (why: string) =>
    new OpenLedgerError('invalid_voucher', `X-OpenLedger-Voucher: ${why}`, {
      status: 400,
      field: 'x-openledger-voucher',
    });
  if (Array.isArray(header) || header.length > 4096)
    throw bad('must be one base64 JSON value of at most 4 KB');
  let raw: { voucher?: Record<string, unknown>; signature?: unknown };
  try {
    raw = JSON.parse(Buffer.from(header, 'base64').toString('utf8'));
  } catch {
    throw bad('is not base64-encoded JSON');
  }
  const v = raw.voucher;
  if (!v || typeof raw.signature !== 'string' || !/^0x[0-9a-fA-F]{130}$/.test(raw.signature)) {
    throw bad('needs { voucher, signature } with a 65-byte hex signature');
  }
  try {
    return {
      voucher: checkVoucher({
        consumer: String(v.consumer) as `0x${string}`,
        operator: String(v.operator) as `0x${string}`,
        modelId: BigInt(String(v.modelId)),
        cumulativeAmount: BigInt(String(v.cumulativeAmount)),
        cumulativePlatformFee: BigInt(String(v.cumulativePlatformFee)),
        deadline: BigInt(String(v.deadline)),
      }),
      signature: raw.signature as `0x${string}`,
    };
  } catch (error) {
    throw bad((error as Error).message);
  }
}

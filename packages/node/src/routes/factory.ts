import { createReadStream, existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { type ExportFormat, exportAdapter, type Factory, JOB_FILES, publishJob } from '@openledger/factory';
import { generateText, loadPeftAdapter } from '@openledger/model';
import type { FastifyInstance } from 'fastify';
import type { NodeContext } from '../context.ts';
import { OpenLedgerError } from '../errors.ts';
import { openSse } from '../http/sse.ts';

const idParams = {
  type: 'object',
  required: ['id'],
  properties: { id: { type: 'integer', minimum: 1 } },
} as const;

function factoryOf(ctx: NodeContext): Factory {
  const factory = ctx.services.factory;
  if (!factory)
    throw new OpenLedgerError('unavailable', 'ModelFactory is not running on this node', { status: 503 });
  return factory;
}

export async function factoryRoutes(app: FastifyInstance, ctx: NodeContext): Promise<void> {
  app.get(
    '/api/factory/base-models',
    { schema: { tags: ['factory'], summary: 'Base models this node can fine-tune' } },
    async () =>
      factoryOf(ctx)
        .catalog.list()
        .map(({ dir: _dir, ...info }) => info),
  );

  app.post<{ Body: Record<string, unknown> }>(
    '/api/factory/jobs',
    {
      schema: {
        tags: ['factory'],
        summary: 'Queue a LoRA fine-tuning job on datanet versions',
        security: [{ bearer: [] }],
        body: {
          type: 'object',
          required: ['baseModel', 'datanets'],
          properties: {
            baseModel: { type: 'string' },
            name: { type: 'string', maxLength: 80 },
            template: { type: 'string', enum: ['completion', 'instruction', 'classification'] },
            datanets: {
              type: 'array',
              minItems: 1,
              maxItems: 32,
              items: {
                type: 'object',
                required: ['id', 'version'],
                properties: { id: { type: 'integer', minimum: 1 }, version: { type: 'integer', minimum: 1 } },
              },
            },
            hyperparameters: { type: 'object' },
          },
        },
      },
    },
    async (request, reply) => {
      const actor = ctx.auth.require(request);
      const job = factoryOf(ctx).submit(actor, request.body);
      return reply.status(201).send(job);
    },
  );

  app.get<{ Querystring: { owner?: string } }>(
    '/api/factory/jobs',
    { schema: { tags: ['factory'], summary: 'Training jobs, newest first' } },
    async (request) => factoryOf(ctx).jobs.list({ owner: request.query.owner }),
  );

  app.get<{ Params: { id: number } }>(
    '/api/factory/jobs/:id',
    { schema: { tags: ['factory'], summary: 'A job with its progress, result and logs', params: idParams } },
    async (request) => {
      const factory = factoryOf(ctx);
      const job = factory.get(request.params.id);
      return { ...job, logs: factory.jobs.logs(job.id).slice(-200) };
    },
  );

  app.get<{ Params: { id: number } }>(
    '/api/factory/jobs/:id/events',
    {
      schema: {
        tags: ['factory'],
        summary: 'Live progress over Server-Sent Events: `progress`, `log`, `status`, then `done`',
        params: idParams,
      },
    },
    async (request, reply) => {
      const factory = factoryOf(ctx);
      const job = factory.get(request.params.id);
      let unsubscribe = () => {};
      const stream = openSse(request, reply, () => unsubscribe());
      stream.send('status', { jobId: job.id, status: job.status });
      if (job.progress) stream.send('progress', job.progress);
      if (job.status === 'completed' || job.status === 'failed' || job.status === 'cancelled') {
        stream.send('done', factory.get(job.id));
        stream.close();
        return;
      }
      unsubscribe = factory.subscribe(job.id, (event) => {
        if (event.type === 'progress') stream.send('progress', event.progress);
        else if (event.type === 'log') stream.send('log', { line: event.line });
        else {
          stream.send('status', { jobId: event.jobId, status: event.status, error: event.error });
          if (event.status !== 'running') {
            stream.send('done', factory.get(job.id));
            stream.close();
          }
        }
      });
    },
  );

  app.post<{ Params: { id: number } }>(
    '/api/factory/jobs/:id/cancel',
    {
      schema: {
        tags: ['factory'],
        summary: 'Cancel a queued or running job',
        params: idParams,
        security: [{ bearer: [] }],
      },
    },
    async (request) => factoryOf(ctx).cancel(ctx.auth.require(request), request.params.id),
  );

  app.get<{ Params: { id: number } }>(
    '/api/factory/jobs/:id/eval',
    {
      schema: {
        tags: ['factory'],
        summary: 'Held-out loss and perplexity before and after, samples',
        params: idParams,
      },
    },
    async (request) => {
      const job = factoryOf(ctx).get(request.params.id);
      if (!job.result)
        throw new OpenLedgerError('not_finished', `job ${job.id} is ${job.status}; no evaluation yet`, {
          status: 409,
        });
      const { before, after, samples, history, steps, tokensPerSecond, seconds } = job.result;
      return { jobId: job.id, before, after, samples, history, steps, tokensPerSecond, seconds };
    },
  );

  app.get<{ Querystring: { jobs: string } }>(
    '/api/factory/compare',
    {
      schema: {
        tags: ['factory'],
        summary: 'Two or more finished jobs side by side: held-out loss, perplexity, accuracy, samples',
        querystring: {
          type: 'object',
          required: ['jobs'],
          properties: {
            jobs: { type: 'string', pattern: '^[0-9]+(,[0-9]+){1,7}$', description: 'job ids, e.g. 1,2' },
          },
        },
      },
    },
    async (request) => {
      const factory = factoryOf(ctx);
      return request.query.jobs.split(',').map((id) => {
        const job = factory.get(Number(id));
        const r = job.result;
        return {
          jobId: job.id,
          status: job.status,
          baseModel: job.spec.baseModel,
          template: job.spec.template,
          datanets: job.spec.datanets,
          hyperparameters: job.spec.hyperparameters,
          before: r?.before ?? null,
          after: r?.after ?? null,
          samples: r?.samples ?? [],
          tokensPerSecond: r?.tokensPerSecond ?? null,
          modelId: job.modelId,
        };
      });
    },
  );

  app.post<{
    Params: { id: number };
    Body: { prompt: string; maxTokens?: number; temperature?: number; seed?: number };
  }>(
    '/api/factory/jobs/:id/chat',
    {
      schema: {
        tags: ['factory'],
        summary: "Try a finished adapter right away (the owner's free sandbox; paid serving is /v1)",
        params: idParams,
        security: [{ bearer: [] }],
        body: {
          type: 'object',
          required: ['prompt'],
          properties: {
            prompt: { type: 'string', minLength: 1, maxLength: 4000 },
            maxTokens: { type: 'integer', minimum: 1, maximum: 256 },
            temperature: { type: 'number', minimum: 0, maximum: 2 },
            seed: { type: 'integer', minimum: 0 },
          },
        },
      },
    },
    async (request) => {
      const actor = ctx.auth.require(request);
      const factory = factoryOf(ctx);
      const job = factory.get(request.params.id);
      if (job.owner.toLowerCase() !== actor.toLowerCase()) {
        throw new OpenLedgerError('forbidden', "only the job's owner can chat with an unpublished adapter", {
          status: 403,
        });
      }
      const dir = join(factory.jobDir(job.id), JOB_FILES.adapter);
      if (!existsSync(join(dir, 'adapter_model.safetensors'))) {
        throw new OpenLedgerError('not_finished', `job ${job.id} has no adapter yet`, { status: 409 });
      }
      const { model, tokenizer } = factory.catalog.load(job.spec.baseModel);
      const adapter = loadPeftAdapter(dir, model.config);
      const { prompt, maxTokens = 48, temperature = 0.7, seed = 1 } = request.body;
      const text = await generateText(model, tokenizer, prompt, { maxTokens, temperature, seed, adapter });
      return { jobId: job.id, prompt, text };
    },
  );

  app.post<{ Params: { id: number }; Body: { pricePerKInput: string; pricePerKOutput: string } }>(
    '/api/factory/jobs/:id/publish',
    {
      schema: {
        tags: ['factory'],
        summary: 'Publish a finished adapter: store it, build its attribution index, register it on-chain',
        params: idParams,
        security: [{ bearer: [] }],
        body: {
          type: 'object',
          required: ['pricePerKInput', 'pricePerKOutput'],
          properties: {
            pricePerKInput: {
              type: 'string',
              pattern: '^[0-9]{1,39}$',
              description: 'wei of OPEN per 1,000 input tokens',
            },
            pricePerKOutput: {
              type: 'string',
              pattern: '^[0-9]{1,39}$',
              description: 'wei of OPEN per 1,000 output tokens',
            },
          },
        },
      },
    },
    async (request) => {
      const actor = ctx.auth.require(request);
      const factory = factoryOf(ctx);
      const job = factory.get(request.params.id);
      if (job.owner.toLowerCase() !== actor.toLowerCase()) {
        throw new OpenLedgerError('forbidden', "only the job's owner can publish it", { status: 403 });
      }
      const registrar = ctx.services.registrar;
      const store = ctx.services.store;
      if (!registrar || !store)
        throw new OpenLedgerError('unavailable', 'publishing needs the chain', { status: 503 });
      const published = await publishJob({
        job,
        jobDir: factory.jobDir(job.id),
        store,
        registrar,
        indexer: ctx.services.indexer,
        pricePerKInput: BigInt(request.body.pricePerKInput),
        pricePerKOutput: BigInt(request.body.pricePerKOutput),
      });
      factory.jobs.setModelId(job.id, published.modelId);
      await ctx.services.onModelPublished?.(published.modelId, job.id);
      return {
        modelId: published.modelId,
        txHash: published.txHash,
        files: published.files,
        lineage: {
          ...published.lineage,
          pricePerKInput: published.lineage.pricePerKInput.toString(),
          pricePerKOutput: published.lineage.pricePerKOutput.toString(),
        },
      };
    },
  );

  app.get<{ Params: { id: number; format: string } }>(
    '/api/factory/jobs/:id/export/:format',
    {
      schema: {
        tags: ['factory'],
        summary:
          'Download the adapter: peft (adapter_model.safetensors), peft-config, gguf-lora, or merged (model.safetensors)',
        params: {
          type: 'object',
          required: ['id', 'format'],
          properties: {
            id: { type: 'integer', minimum: 1 },
            format: { type: 'string', enum: ['peft', 'peft-config', 'gguf-lora', 'merged'] },
          },
        },
      },
    },
    async (request, reply) => {
      const factory = factoryOf(ctx);
      const job = factory.get(request.params.id);
      const format = request.params.format;
      const outDir = mkdtempSync(join(tmpdir(), `openledger-export-${job.id}-`));
      const files = exportAdapter({
        jobDir: factory.jobDir(job.id),
        format: (format === 'peft-config' ? 'peft' : format) as ExportFormat,
        outDir,
        base: factory.catalog.load(job.spec.baseModel),
        name: job.spec.name || `adapter-${job.id}`,
      });
      const file =
        format === 'peft-config'
          ? files.find((f) => f.endsWith('adapter_config.json'))!
          : format === 'merged'
            ? files.find((f) => f.endsWith('model.safetensors'))!
            : files.find((f) => f.endsWith('.safetensors') || f.endsWith('.gguf'))!;
      reply.header('content-disposition', `attachment; filename="${basename(file)}"`);
      reply.type(file.endsWith('.json') ? 'application/json' : 'application/octet-stream');
      return file.endsWith('.json') ? readFileSync(file, 'utf8') : reply.send(createReadStream(file));
    },
  );
}

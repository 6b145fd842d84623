import type { FastifyInstance } from 'fastify';
import type { NodeContext } from '../context.ts';

function quantile(values: number[], q: number): number {
  if (values.length === 0) return 0;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))];
}

/** Prometheus text metrics for serving: requests, tokens, queue depth, adapter cache, load latency. */
export async function metricsRoutes(app: FastifyInstance, ctx: NodeContext): Promise<void> {
  const started = Date.now();
  app.get(
    '/metrics',
    { schema: { tags: ['serving'], summary: 'Prometheus metrics', hide: false } },
    async (_request, reply) => {
      const s = ctx.services.serving;
      const lines: string[] = [];
      const metric = (name: string, type: string, help: string, value: number) => {
        lines.push(
          `# HELP ${name} ${help}`,
          `# TYPE ${name} ${type}`,
          `${name} ${Number.isFinite(value) ? value : 0}`,
        );
      };
      const uptime = (Date.now() - started) / 1000;
      metric('openledger_uptime_seconds', 'gauge', 'Seconds since the node started', uptime);
      if (s) {
        metric('openledger_requests_total', 'counter', 'Generation requests completed', s.requests);
        metric('openledger_request_failures_total', 'counter', 'Generation requests that failed', s.failures);
        metric('openledger_generated_tokens_total', 'counter', 'Tokens generated', s.engine.generatedTokens);
        metric(
          'openledger_tokens_per_second',
          'gauge',
          'Generated tokens per second since start',
          s.engine.generatedTokens / Math.max(uptime, 1),
        );
        metric('openledger_queue_depth', 'gauge', 'Requests waiting for a batch slot', s.engine.queueDepth);
        metric('openledger_active_sequences', 'gauge', 'Sequences being decoded', s.engine.active);
        metric('openledger_adapter_cache_hits_total', 'counter', 'Adapter cache hits', s.adapters.hits);
        metric(
          'openledger_adapter_cache_misses_total',
          'counter',
          'Adapter cache misses (just-in-time loads)',
          s.adapters.misses,
        );
        metric(
          'openledger_adapter_evictions_total',
          'counter',
          'Adapters evicted from the cache',
          s.adapters.evictions,
        );
        metric('openledger_adapters_loaded', 'gauge', 'Adapters resident', s.adapters.loaded().length);
        metric(
          'openledger_adapter_load_seconds_p50',
          'gauge',
          'Median adapter cold-load latency',
          quantile(s.adapters.loadSeconds, 0.5),
        );
        metric(
          'openledger_adapter_load_seconds_p99',
          'gauge',
          '99th percentile adapter cold-load latency',
          quantile(s.adapters.loadSeconds, 0.99),
        );
        metric(
          'openledger_time_to_first_token_seconds_p50',
          'gauge',
          'Median time to first token',
          quantile(s.ttftSeconds, 0.5),
        );
      }
      reply.type('text/plain; version=0.0.4');
      return `${lines.join('\n')}\n`;
    },
  );
}

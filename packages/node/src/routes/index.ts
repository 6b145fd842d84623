import type { FastifyInstance } from 'fastify';
import type { NodeContext } from '../context.ts';
import { attributionRoutes } from './attribution.ts';
import { authRoutes } from './auth.ts';
import { chainRoutes } from './chain.ts';
import { datanetRoutes } from './datanets.ts';
import { factoryRoutes } from './factory.ts';
import { governanceRoutes } from './governance.ts';
import { metricsRoutes } from './metrics.ts';
import { modelRoutes } from './models.ts';
import { openAiRoutes } from './openai.ts';
import { rewardRoutes } from './rewards.ts';

/** Every route group of the API; each file documents its routes with JSON schemas (→ OpenAPI). */
export async function registerRoutes(app: FastifyInstance, ctx: NodeContext): Promise<void> {
  await chainRoutes(app, ctx);
  await authRoutes(app, ctx);
  await datanetRoutes(app, ctx);
  await factoryRoutes(app, ctx);
  await openAiRoutes(app, ctx);
  await metricsRoutes(app, ctx);
  await rewardRoutes(app, ctx);
  await attributionRoutes(app, ctx);
  await modelRoutes(app, ctx);
  await governanceRoutes(app, ctx); // and the staking routes
}

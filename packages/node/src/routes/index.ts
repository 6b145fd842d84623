import type { FastifyInstance } from 'fastify';
import type { NodeContext } from '../context.ts';
import { authRoutes } from './auth.ts';
import { chainRoutes } from './chain.ts';
import { factoryRoutes } from './factory.ts';

/** Every route group of the API; each file documents its routes with JSON schemas (→ OpenAPI). */
export async function registerRoutes(app: FastifyInstance, ctx: NodeContext): Promise<void> {
  await chainRoutes(app, ctx);
  await authRoutes(app, ctx);
  await factoryRoutes(app, ctx);
}

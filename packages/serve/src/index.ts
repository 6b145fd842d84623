// @openledger/serve — OpenLoRA: many LoRA adapters over one base model, batched together.
export {
  AdapterManager,
  type AdapterManagerOptions,
  type AdapterRecord,
  type AdapterResolver,
} from './adapter-manager.ts';
export {
  BatchEngine,
  type BatchEngineOptions,
  type EngineEvent,
  type EngineRequest,
  type FinishReason,
} from './batch-engine.ts';
export { Engine, type EngineOptions } from './engine.ts';
export { ServeError } from './errors.ts';
export { mixAdapters } from './mixture.ts';

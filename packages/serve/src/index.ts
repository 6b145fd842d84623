// @openledger/serve — OpenLoRA: many LoRA adapters over one base model, batched together.
export {
  AdapterDiskCache,
  type AdapterDiskCacheOptions,
  type CachedAdapter,
  DEFAULT_ADAPTER_CACHE_BYTES,
  type RemoteAdapterFiles,
} from './adapter-cache.ts';
export { type AdapterLocation, adapterLocation, type RemoteAdapterUrls } from './adapter-location.ts';
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
  tokenBytesOf,
} from './batch-engine.ts';
export { Engine, type EngineOptions } from './engine.ts';
export { ServeError } from './errors.ts';
export {
  allowedTokens,
  compileResponseFormat,
  type JsonNode,
  JsonRecognizer,
  minLength as minJsonLength,
  type ResponseFormat,
  TokenTrie,
} from './json-constraint.ts';
export { mixAdapters } from './mixture.ts';

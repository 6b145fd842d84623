import type { EngineEvent, EngineRequest } from './batch-engine.ts';

/** Messages from the main thread to the engine worker. */
export type ToWorker =
  | { type: 'init'; baseModelDir: string; maxBatch: number; maxSeq?: number }
  | { type: 'load'; key: string; configJson: string; weights: ArrayBuffer; callId: number }
  | { type: 'unload'; key: string; callId: number }
  | { type: 'merge'; key: string; callId: number }
  | { type: 'unmerge'; key: string; callId: number }
  | { type: 'submit'; request: EngineRequest }
  | { type: 'cancel'; id: string };

/** Messages from the engine worker to the main thread. */
export type FromWorker =
  | { type: 'ready'; vocabSize: number; maxSeq: number }
  | { type: 'events'; events: EngineEvent[]; queueDepth: number; active: number }
  | { type: 'result'; callId: number; ok: boolean; message?: string; status?: number }
  | { type: 'fatal'; message: string };

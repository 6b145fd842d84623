import { Worker } from 'node:worker_threads';
import type { EngineEvent, EngineRequest } from './batch-engine.ts';
import { ServeError } from './errors.ts';
import type { FromWorker, ToWorker } from './protocol.ts';

export interface EngineOptions {
  baseModelDir: string;
  maxBatch?: number;
  maxSeq?: number;
}

type Listener = (event: EngineEvent) => void;
type DistributiveOmit<T, K extends PropertyKey> = T extends unknown ? Omit<T, K> : never;

/**
 * The main thread's handle on the engine worker: submit a request and iterate its events;
 * load, unload and merge adapters. Everything heavy happens in the worker.
 */
export class Engine {
  readonly #worker: Worker;
  readonly #listeners = new Map<string, Listener>();
  readonly #calls = new Map<number, { resolve: () => void; reject: (e: Error) => void }>();
  #nextCall = 1;
  #ready: Promise<{ vocabSize: number; maxSeq: number }>;
  queueDepth = 0;
  active = 0;
  generatedTokens = 0;

  constructor(options: EngineOptions) {
    this.#worker = new Worker(new URL('./engine-boot.mjs', import.meta.url));
    this.#ready = new Promise((resolve, reject) => {
      this.#worker.once('error', reject);
      this.#worker.on('message', (message: FromWorker) => {
        if (message.type === 'ready') resolve({ vocabSize: message.vocabSize, maxSeq: message.maxSeq });
        else this.#onMessage(message);
      });
    });
    this.#send({
      type: 'init',
      baseModelDir: options.baseModelDir,
      maxBatch: options.maxBatch ?? 16,
      maxSeq: options.maxSeq,
    });
  }

  ready(): Promise<{ vocabSize: number; maxSeq: number }> {
    return this.#ready;
  }

  #send(message: ToWorker, transfer: ArrayBuffer[] = []): void {
    this.#worker.postMessage(message, transfer);
  }

  #onMessage(message: FromWorker): void {
    if (message.type === 'events') {
      this.queueDepth = message.queueDepth;
      this.active = message.active;
      for (const event of message.events) {
        if (event.type === 'token') this.generatedTokens++;
        this.#listeners.get(event.id)?.(event);
      }
    } else if (message.type === 'result') {
      const call = this.#calls.get(message.callId);
      this.#calls.delete(message.callId);
      if (!call) return;
      if (message.ok) call.resolve();
      else
        call.reject(
          new ServeError('engine_error', message.message ?? 'engine call failed', {
            status: message.status ?? 500,
          }),
        );
    } else if (message.type === 'fatal') {
      for (const [id, listener] of this.#listeners)
        listener({ id, type: 'error', message: message.message, status: 500 });
    }
  }

  #call(
    message: DistributiveOmit<Extract<ToWorker, { callId: number }>, 'callId'>,
    transfer: ArrayBuffer[] = [],
  ): Promise<void> {
    const callId = this.#nextCall++;
    return new Promise((resolve, reject) => {
      this.#calls.set(callId, { resolve, reject });
      this.#send({ ...message, callId } as ToWorker, transfer);
    });
  }

  async loadAdapter(key: string, configJson: string, weights: Uint8Array): Promise<void> {
    await this.#ready;
    // a fresh, exactly sized copy: a Buffer may be a view into a larger shared pool
    const copy = new Uint8Array(weights).buffer as ArrayBuffer;
    await this.#call({ type: 'load', key, configJson, weights: copy }, [copy]);
  }

  async unloadAdapter(key: string): Promise<void> {
    await this.#call({ type: 'unload', key });
  }

  async mergeAdapter(key: string): Promise<void> {
    await this.#call({ type: 'merge', key });
  }

  async unmergeAdapter(key: string): Promise<void> {
    await this.#call({ type: 'unmerge', key });
  }

  /** Runs a request; yields its events until `done` or `error`. Breaking out cancels it. */
  async *run(request: EngineRequest): AsyncGenerator<EngineEvent> {
    await this.#ready;
    const queue: EngineEvent[] = [];
    let wake: (() => void) | undefined;
    this.#listeners.set(request.id, (event) => {
      queue.push(event);
      wake?.();
    });
    this.#send({ type: 'submit', request });
    let finished = false;
    try {
      while (true) {
        while (queue.length === 0) await new Promise<void>((resolve) => (wake = resolve));
        const event = queue.shift()!;
        yield event;
        if (event.type === 'done' || event.type === 'error') {
          finished = true;
          return;
        }
      }
    } finally {
      this.#listeners.delete(request.id);
      if (!finished) this.#send({ type: 'cancel', id: request.id });
    }
  }

  async close(): Promise<void> {
    await this.#worker.terminate();
  }
}

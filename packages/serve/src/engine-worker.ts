// The serving engine's thread: holds the base model, the loaded adapters and the KV caches, and
// runs the batching loop so that model compute never blocks the HTTP event loop.
import { parentPort } from 'node:worker_threads';
import { loadHfModel, loraFromPeft } from '@openledger/model';
import { BatchEngine, tokenBytesOf } from './batch-engine.ts';
import type { FromWorker, ToWorker } from './protocol.ts';

const port = parentPort!;
let engine: BatchEngine | undefined;
let looping = false;

const post = (message: FromWorker) => port.postMessage(message);

function loop(): void {
  if (!engine || engine.idle) {
    looping = false;
    return;
  }
  looping = true;
  try {
    const events = engine.step();
    if (events.length)
      post({ type: 'events', events, queueDepth: engine.queueDepth, active: engine.activeCount });
  } catch (error) {
    post({ type: 'fatal', message: error instanceof Error ? error.message : String(error) });
  }
  // yield to the message queue between steps: new requests and adapters join the next step
  setImmediate(loop);
}

port.on('message', (message: ToWorker) => {
  try {
    switch (message.type) {
      case 'init': {
        const { model, tokenizer } = loadHfModel(message.baseModelDir);
        engine = new BatchEngine(model, {
          maxBatch: message.maxBatch,
          maxSeq: message.maxSeq,
          tokenBytes: tokenizer ? tokenBytesOf(tokenizer, model.config.vocabSize) : undefined,
        });
        post({ type: 'ready', vocabSize: model.config.vocabSize, maxSeq: engine.maxSeq });
        return;
      }
      case 'load': {
        const adapter = loraFromPeft(
          JSON.parse(message.configJson),
          new Uint8Array(message.weights),
          engine!.base.config,
          message.key,
        );
        engine!.loadAdapter(message.key, adapter);
        post({ type: 'result', callId: message.callId, ok: true });
        return;
      }
      case 'unload':
        engine!.unloadAdapter(message.key);
        post({ type: 'result', callId: message.callId, ok: true });
        return;
      case 'merge':
        engine!.mergeAdapter(message.key);
        post({ type: 'result', callId: message.callId, ok: true });
        return;
      case 'unmerge':
        engine!.unmergeAdapter(message.key);
        post({ type: 'result', callId: message.callId, ok: true });
        return;
      case 'submit':
        try {
          engine!.submit(message.request);
        } catch (error) {
          const e = error as { message: string; status?: number };
          post({
            type: 'events',
            events: [{ id: message.request.id, type: 'error', message: e.message, status: e.status ?? 400 }],
            queueDepth: engine!.queueDepth,
            active: engine!.activeCount,
          });
        }
        if (!looping) setImmediate(loop);
        return;
      case 'cancel':
        engine?.cancel(message.id);
        return;
    }
  } catch (error) {
    const e = error as { message: string; status?: number };
    if ('callId' in message)
      post({
        type: 'result',
        callId: message.callId,
        ok: false,
        message: e.message,
        status: e.status ?? 500,
      });
    else post({ type: 'fatal', message: e.message });
  }
});

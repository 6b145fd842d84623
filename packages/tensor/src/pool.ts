// A small worker-thread pool so heavy compute runs off the event loop. A task is a function exported
// by a module: `export async function f(input, ctx)`, where ctx.kernels is the worker's Kernels. The
// input and result travel by structured clone; typed arrays over a SharedArrayBuffer are shared, not
// copied, so the usual pattern is: allocate tensors in SharedArrayBuffers, pass them, let the task write
// its result in place. Each worker owns one kernel instance; BLAS threads per worker default to 1.
import { cpus } from 'node:os';
import { fileURLToPath } from 'node:url';
import { type MessagePort, Worker } from 'node:worker_threads';
import type { Backend } from './types.ts';

export interface KernelPoolOptions {
  /** Worker threads (default: available cores − 1, at least 1). */
  threads?: number;
  /** BLAS threads inside each worker for the native backend (default 1). */
  blasThreads?: number;
  /** Backend each worker asks getKernels for (default: best available). */
  backend?: Backend;
}

export interface KernelPool {
  readonly threads: number;
  /**
   * Runs `exportName` of module `module` (a file URL, absolute path or package specifier) in a worker
   * with `(input, { kernels })` and resolves with what it returns (or rejects with what it throws).
   */
  run<T = unknown>(
    module: string | URL,
    exportName: string,
    input?: unknown,
    transfer?: readonly Transferable[],
  ): Promise<T>;
  /** Waits for queued tasks, then stops the workers. */
  close(): Promise<void>;
}

type Transferable = ArrayBuffer | MessagePort;

interface Task {
  id: number;
  module: string;
  exportName: string;
  input: unknown;
  transfer: readonly Transferable[];
  resolve(v: unknown): void;
  reject(e: Error): void;
}

interface Slot {
  worker: Worker;
  task: Task | null;
}

const workerUrl = new URL('./pool-worker.mjs', import.meta.url);

function moduleUrl(m: string | URL): string {
  if (m instanceof URL) return m.href;
  if (m.startsWith('/')) return new URL(`file://${m}`).href;
  return m;
}

export function createKernelPool(options: KernelPoolOptions = {}): KernelPool {
  const threads = options.threads ?? Math.max(1, cpus().length - 1);
  if (!Number.isInteger(threads) || threads < 1 || threads > 256) {
    throw new RangeError(`threads must be an integer in 1..256, got ${threads}`);
  }
  const blasThreads = options.blasThreads ?? 1;
  if (!Number.isInteger(blasThreads) || blasThreads < 1) {
    throw new RangeError(`blasThreads must be an integer ≥ 1, got ${blasThreads}`);
  }
  const queue: Task[] = [];
  const slots: Slot[] = [];
  let nextId = 1;
  let closing = false;
  let drained: (() => void) | null = null;

  function spawn(): Slot {
    const worker = new Worker(fileURLToPath(workerUrl), {
      workerData: { backend: options.backend, blasThreads },
    });
    const slot: Slot = { worker, task: null };
    worker.on(
      'message',
      (msg: { id: number; ok: boolean; value?: unknown; error?: { message: string; stack?: string } }) => {
        const t = slot.task;
        slot.task = null;
        if (t && t.id === msg.id) {
          if (msg.ok) t.resolve(msg.value);
          else {
            const e = new Error(msg.error?.message ?? 'task failed');
            if (msg.error?.stack) e.stack = msg.error.stack;
            t.reject(e);
          }
        }
        pump();
      },
    );
    const fail = (err: Error) => {
      const t = slot.task;
      slot.task = null;
      const i = slots.indexOf(slot);
      if (i >= 0) slots.splice(i, 1);
      t?.reject(err);
      if (!closing || queue.length > 0) slots.push(spawn());
      pump();
    };
    worker.on('error', fail);
    worker.on('exit', (code) => {
      if (slots.includes(slot)) fail(new Error(`kernel worker exited with code ${code}`));
    });
    worker.unref();
    return slot;
  }

  function pump(): void {
    for (const slot of slots) {
      if (slot.task || queue.length === 0) continue;
      const t = queue.shift()!;
      slot.task = t;
      slot.worker.ref();
      slot.worker.postMessage({ id: t.id, module: t.module, exportName: t.exportName, input: t.input }, [
        ...t.transfer,
      ] as never);
    }
    for (const slot of slots) if (!slot.task) slot.worker.unref();
    if (drained && queue.length === 0 && slots.every((s) => !s.task)) {
      const d = drained;
      drained = null;
      d();
    }
  }

  for (let i = 0; i < threads; i++) slots.push(spawn());

  return {
    threads,
    run<T>(
      module: string | URL,
      exportName: string,
      input?: unknown,
      transfer: readonly Transferable[] = [],
    ) {
      if (closing) return Promise.reject(new Error('kernel pool is closed'));
      return new Promise<T>((resolve, reject) => {
        queue.push({
          id: nextId++,
          module: moduleUrl(module),
          exportName,
          input,
          transfer,
          resolve: resolve as (v: unknown) => void,
          reject,
        });
        pump();
      });
    },
    async close() {
      closing = true;
      if (queue.length > 0 || slots.some((s) => s.task)) {
        await new Promise<void>((r) => {
          drained = r;
          pump();
        });
      }
      const all = slots.splice(0);
      await Promise.all(all.map((s) => s.worker.terminate()));
    },
  };
}

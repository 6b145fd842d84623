// Worker side of createKernelPool: imports task modules on demand and runs their exported functions.
import { parentPort, workerData } from 'node:worker_threads';
import { getKernels, setKernelThreads } from './select.ts';
import type { Backend, TaskContext } from './types.ts';

const { backend, blasThreads } = workerData as { backend?: Backend; blasThreads: number };
setKernelThreads(blasThreads);
const kernels = getKernels(backend);
const ctx: TaskContext = { kernels };
const modules = new Map<string, Promise<Record<string, unknown>>>();

parentPort!.on('message', async (msg: { id: number; module: string; exportName: string; input: unknown }) => {
  try {
    let mod = modules.get(msg.module);
    if (!mod) {
      mod = import(msg.module) as Promise<Record<string, unknown>>;
      modules.set(msg.module, mod);
    }
    const fn = (await mod)[msg.exportName];
    if (typeof fn !== 'function')
      throw new TypeError(`${msg.module} has no exported function ${msg.exportName}`);
    const value = await fn(msg.input, ctx);
    parentPort!.postMessage({ id: msg.id, ok: true, value });
  } catch (e) {
    const err = e as Error;
    parentPort!.postMessage({
      id: msg.id,
      ok: false,
      error: { message: String(err?.message ?? e), stack: err?.stack },
    });
  }
});

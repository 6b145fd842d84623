export { createJsKernels } from './js.ts';
export { createKernelPool, type KernelPool, type KernelPoolOptions } from './pool.ts';
export { availableBackends, backendFailure, getKernels, setKernelThreads } from './select.ts';
export type { Backend, Kernels, LoraSegment, TaskContext } from './types.ts';

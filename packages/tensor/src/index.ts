export { f16BitsToF32, f32ToF16Bits, float32ToHalf, halfToFloat32 } from './half.ts';
export { createJsKernels } from './js.ts';
export { createKernelPool, type KernelPool, type KernelPoolOptions } from './pool.ts';
export { availableBackends, backendFailure, getKernels, setKernelThreads } from './select.ts';
export type { Backend, Kernels, LoraMatrix, LoraSegment, TaskContext } from './types.ts';

import { isMainThread } from 'node:worker_threads';
import { withChecks } from './checks.ts';
import { createJsKernels } from './js.ts';
import { createNativeKernels, type NativeKernels } from './native.ts';
import type { Backend, Kernels } from './types.ts';
import { createWasmKernels } from './wasm.ts';

const ORDER: Backend[] = ['native', 'wasm', 'js'];
const cache = new Map<Backend, Kernels | null>();
const failures = new Map<Backend, string>();
let logged = false;
let native: NativeKernels | null = null;
let threads: number | undefined;

function load(backend: Backend): Kernels | null {
  if (cache.has(backend)) return cache.get(backend)!;
  let k: Kernels | null = null;
  const disabled = (process.env.OPENLEDGER_TENSOR_DISABLE ?? '').split(',').map((s) => s.trim());
  try {
    if (backend !== 'js' && disabled.includes(backend))
      throw new Error('disabled by OPENLEDGER_TENSOR_DISABLE');
    if (backend === 'native') {
      native = createNativeKernels();
      if (threads !== undefined) native.setThreads(threads);
      k = native;
    } else if (backend === 'wasm') k = createWasmKernels();
    else k = createJsKernels();
  } catch (e) {
    failures.set(backend, (e as Error).message);
  }
  const checked = k ? withChecks(k) : null;
  cache.set(backend, checked);
  return checked;
}

/** Backends that load on this machine, best first. */
export function availableBackends(): Backend[] {
  return ORDER.filter((b) => load(b) !== null);
}

/** Why a backend did not load (undefined when it loaded or was never tried). */
export function backendFailure(backend: Backend): string | undefined {
  return failures.get(backend);
}

/**
 * The best available backend (native, then wasm, then js), or `prefer` when it is available
 * (environment variable OPENLEDGER_TENSOR_BACKEND stands in for `prefer` when it is not given;
 * OPENLEDGER_TENSOR_DISABLE=native,wasm makes backends unavailable, e.g. to exercise the fallback). The first
 * call in a process logs one line to stderr naming the backend (workers of a pool stay quiet).
 */
export function getKernels(prefer?: Backend): Kernels {
  const wanted = prefer ?? ((process.env.OPENLEDGER_TENSOR_BACKEND || undefined) as Backend | undefined);
  if (wanted !== undefined && !ORDER.includes(wanted)) {
    throw new RangeError(`backend must be one of ${ORDER.join(', ')}, got ${wanted}`);
  }
  let chosen: Kernels | null = wanted ? load(wanted) : null;
  for (const b of ORDER) {
    if (chosen) break;
    chosen = load(b);
  }
  const k = chosen!;
  if (!logged && isMainThread) {
    logged = true;
    const why =
      wanted && wanted !== k.backend
        ? ` (${wanted} unavailable: ${failures.get(wanted) ?? 'not built'})`
        : '';
    process.stderr.write(`[tensor] backend: ${k.backend}${why}\n`);
  }
  return k;
}

/**
 * Sets the BLAS thread count of the native backend in this thread (default 1, or
 * OPENLEDGER_TENSOR_THREADS); wasm and js are single-threaded per worker.
 */
export function setKernelThreads(n: number): void {
  if (!Number.isInteger(n) || n < 1) throw new RangeError(`threads must be an integer ≥ 1, got ${n}`);
  threads = n;
  native?.setThreads(n);
}

// The worker pool: results on shared memory, errors, concurrency, forced backend, option checks.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createJsKernels, createKernelPool } from '../src/index.ts';
import { randn, rng } from './helpers.ts';

const task = new URL('./fixtures/pool-task.ts', import.meta.url);

function shared(src: Float32Array): Float32Array {
  const out = new Float32Array(new SharedArrayBuffer(src.length * 4));
  out.set(src);
  return out;
}

test('kernel pool runs tasks in workers on shared memory and reports errors', async () => {
  const pool = createKernelPool({ threads: 2 });
  try {
    assert.equal(pool.threads, 2);
    const r = rng(30);
    const [m, n, k] = [33, 20, 17];
    const a = shared(randn(m * k, r));
    const b = shared(randn(k * n, r));
    const c = shared(new Float32Array(m * n));
    const backend = await pool.run<string>(task, 'matmul', { a, b, c, m, n, k });
    assert.ok(['native', 'wasm', 'js'].includes(backend));
    const want = new Float32Array(m * n);
    createJsKernels().sgemm(false, false, m, n, k, 1, a, k, b, n, 0, want, n);
    for (let i = 0; i < want.length; i++) assert.ok(Math.abs(c[i] - want[i]) < 1e-4);
    await assert.rejects(pool.run(task, 'fail', 'boom'), /boom/);
    await assert.rejects(pool.run(task, 'missing'), /has no exported function missing/);
    const sums = await Promise.all(
      [1, 2, 3, 4, 5].map((i) => pool.run<number>(task, 'sum', Float64Array.of(i, i))),
    );
    assert.deepEqual(sums, [2, 4, 6, 8, 10]);
  } finally {
    await pool.close();
  }
  await assert.rejects(pool.run(task, 'sum', Float64Array.of(1)), /kernel pool is closed/);
});

test('pool options are checked', () => {
  assert.throws(() => createKernelPool({ threads: 0 }), /threads must be an integer in 1\.\.256, got 0/);
  assert.throws(() => createKernelPool({ threads: 1, blasThreads: 0 }), /blasThreads must be an integer ≥ 1/);
});

test('a pool with a forced backend uses it', async () => {
  const pool = createKernelPool({ threads: 1, backend: 'wasm' });
  try {
    const c = shared(new Float32Array(1));
    const got = await pool.run(task, 'matmul', {
      a: shared(Float32Array.of(2)),
      b: shared(Float32Array.of(3)),
      c,
      m: 1,
      n: 1,
      k: 1,
    });
    assert.equal(got, 'wasm');
    assert.equal(c[0], 6);
  } finally {
    await pool.close();
  }
});

// A small persistent pool of worker threads for the per-row checks of large submissions
// (rowchecks.ts). Started lazily on the first submission that uses it; a worker holds the process
// open only while it has work (unref'd when idle); `close()` terminates them.
//
// Load balancing without round trips: every worker is sent all of a submission's slices and a
// shared array of claims; workers claim slices from the front, the calling thread computes slices
// from the back, each slice claimed once (Atomics.compareExchange). So the calling thread never
// waits for a worker to boot or to be scheduled on a busy machine: it only waits for the slices a
// worker has already started. A slice without a result (a worker died, or its computation threw)
// is computed in the calling thread at the end: results never depend on where a slice ran (tested).
import { MessageChannel, type MessagePort, receiveMessageOnPort, Worker } from 'node:worker_threads';
import { computeRowChecks, type RowCheckJob, type RowChecks } from './rowchecks.ts';

interface Pending {
  /** A slice's result, or null when its computation threw (submission tasks). */
  onResult?: (index: number, r: RowChecks | null) => void;
  resolve: () => void;
  reject: (e: Error) => void;
}

interface FromWorker {
  id?: number;
  index?: number;
  result?: RowChecks;
  done?: true;
  error?: string;
}

class PoolWorker {
  readonly worker: Worker;
  private readonly pending = new Map<number, Pending>();
  private nextId = 1;
  dead = false;

  constructor(onDeath: (w: PoolWorker) => void) {
    this.worker = new Worker(new URL('./check-worker-boot.mjs', import.meta.url));
    this.worker.unref();
    const die = (e: Error) => {
      if (this.dead) return;
      this.dead = true;
      onDeath(this);
      for (const p of this.pending.values()) p.reject(e);
      this.pending.clear();
    };
    this.worker.on('message', (m: FromWorker) => {
      if (m.id === undefined) return;
      const p = this.pending.get(m.id);
      if (!p) return;
      if (m.index !== undefined) {
        p.onResult?.(m.index, m.result ?? null);
        return;
      }
      this.pending.delete(m.id);
      if (this.pending.size === 0) this.worker.unref();
      if (m.done) p.resolve();
      else p.reject(new Error(`datanet check worker: ${m.error}`));
    });
    this.worker.on('error', die);
    this.worker.on('exit', (code) => die(new Error(`datanet check worker exited (${code})`)));
  }

  send(
    task: {
      jobs?: RowCheckJob[];
      claims?: Int32Array;
      owner?: number;
      checkpoint?: string;
      port?: MessagePort;
      signal?: Int32Array;
    },
    onResult?: Pending['onResult'],
  ): Promise<void> {
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      if (this.dead) {
        reject(new Error('datanet check worker is gone'));
        return;
      }
      if (this.pending.size === 0) this.worker.ref();
      this.pending.set(id, { onResult, resolve, reject });
      this.worker.postMessage({ id, ...task }, task.port ? [task.port] : []);
    });
  }
}

/** Owner tag of the calling thread in the claims array (workers are 1, 2, …). */
const CALLER = 0x7fffffff;

export class CheckPool {
  readonly size: number;
  private workers: PoolWorker[] = [];
  private closed = false;
  /** Workers that died; after a few (say, no tsx loader in a worker) the pool stops starting them. */
  private failures = 0;
  /** Slices computed so far, and how many of them by workers (the rest ran in the calling thread). */
  readonly stats = { slices: 0, workerSlices: 0 };

  constructor(size: number) {
    this.size = Math.max(0, Math.floor(size));
  }

  /** Shared buffers for packed records (rowchecks.ts packRecords), kept for the next submission. */
  private arenas: SharedArrayBuffer[] = [];

  /**
   * A shared buffer of at least `bytes` for one submission's packed records, given back with
   * `release` when the submission is done. Reused: in this environment first-touching fresh
   * memory costs a page fault per 4 KiB, more than copying the text into it.
   */
  arena(bytes: number): Uint8Array {
    let best = -1;
    for (let i = 0; i < this.arenas.length; i++) {
      const a = this.arenas[i];
      if (a.byteLength >= bytes && (best < 0 || a.byteLength < this.arenas[best].byteLength)) best = i;
    }
    const sab = best >= 0 ? this.arenas.splice(best, 1)[0] : new SharedArrayBuffer(Math.max(bytes, 1 << 20));
    return new Uint8Array(sab, 0, bytes);
  }

  /**
   * Gives back the arena of packed jobs. (A worker still busy with a slice the calling thread has
   * already computed may read it while the next submission overwrites it: that late result is
   * ignored, like any late result.)
   */
  release(jobs: readonly RowCheckJob[]): void {
    const sab = jobs[0]?.packed?.bytes.buffer;
    if (!(sab instanceof SharedArrayBuffer) || this.arenas.includes(sab)) return;
    this.arenas.push(sab);
    // keep a few, largest first
    this.arenas.sort((a, b) => b.byteLength - a.byteLength);
    this.arenas.length = Math.min(this.arenas.length, 2);
  }

  private ensureWorkers(): PoolWorker[] {
    if (this.closed || this.failures >= 3) return this.workers;
    while (this.workers.length < this.size) {
      this.workers.push(
        new PoolWorker((w) => {
          this.workers = this.workers.filter((x) => x !== w);
          if (!this.closed) this.failures++;
        }),
      );
    }
    return this.workers;
  }

  /**
   * Computes every job, in the workers and in this thread; results in job order. A job whose
   * worker fails is computed here; only an error of the computation itself is thrown.
   */
  async runAll(jobs: RowCheckJob[]): Promise<RowChecks[]> {
    const n = jobs.length;
    const results = new Array<RowChecks | undefined>(n);
    /** Slices a worker gave up on (its computation threw): computed here at the end. */
    const given = new Uint8Array(n);
    const claims = new Int32Array(new SharedArrayBuffer(4 * Math.max(n, 1)));
    const workers = this.ensureWorkers().slice();
    // below `waitBelow`, every slice is claimed by a worker: wait until each has a result, was
    // given up, or belongs to a worker that died
    let waitBelow = 0;
    let wake: (() => void) | null = null;
    const settled = (): boolean => {
      for (let i = 0; i < waitBelow; i++) {
        if (results[i] || given[i] || workers[claims[i] - 1]?.dead !== false) continue;
        return false;
      }
      return true;
    };
    const poke = () => {
      if (wake && settled()) {
        wake();
        wake = null;
      }
    };
    workers.forEach((w, k) => {
      w.send({ jobs, claims, owner: k + 1 }, (i, r) => {
        if (r) {
          results[i] = r;
          this.stats.workerSlices++;
        } else given[i] = 1;
        poke();
      })
        .catch(() => undefined)
        .finally(poke);
    });
    // this thread from the back, until it meets a slice a worker has claimed (workers claim from
    // the front, so every slice below that one is a worker's too)
    let i = n - 1;
    while (i >= 0 && Atomics.compareExchange(claims, i, 0, CALLER) === 0) {
      results[i] = computeRowChecks(jobs[i]);
      i--;
    }
    waitBelow = i + 1;
    if (!settled()) {
      // (a timer holds the event loop: a dying worker's handle may not, until its exit event)
      const hold = setInterval(() => undefined, 1000);
      await new Promise<void>((r) => (wake = r));
      clearInterval(hold);
    }
    // slices of a worker that died or failed on them
    for (let k = 0; k < n; k++) results[k] ??= computeRowChecks(jobs[k]);
    this.stats.slices += n;
    return results as RowChecks[];
  }

  /**
   * Starts the workers on a submission's slices and returns the source the calling thread takes
   * them from, in order and synchronously (see `CheckRun.take`), so that it can decide and insert
   * rows inside one transaction while workers compute later slices.
   */
  start(jobs: RowCheckJob[], rowsPerSlice: number): CheckRun {
    return new CheckRun(jobs, rowsPerSlice, this.ensureWorkers().slice(), this.stats);
  }

  /** True when a worker is up to take a checkpoint (see `checkpoint`). */
  get canCheckpoint(): boolean {
    return !this.closed && this.workers.length > 0;
  }

  /**
   * Runs a PASSIVE WAL checkpoint of the SQLite file at `path` in a worker, on the worker's own
   * connection, so that the committing thread need not (a large contribution otherwise copies its
   * whole WAL into the database file, and fsyncs it, inside its commit). Durability does not
   * depend on it: committed transactions are in the fsynced WAL. Fire and forget; a failure only
   * leaves the WAL to the next checkpoint.
   */
  checkpoint(path: string): void {
    const w = this.workers[0];
    if (w && !w.dead) w.send({ checkpoint: path }).catch(() => undefined);
  }

  async close(): Promise<void> {
    this.closed = true;
    const ws = this.workers;
    this.workers = [];
    // A timer holds the event loop while the workers stop: a worker's handle does not always
    // keep it alive during terminate() (seen on Node 20 with a worker busy in a slice).
    const hold = setInterval(() => undefined, 1000);
    try {
      await Promise.all(ws.map((w) => w.worker.terminate()));
    } finally {
      clearInterval(hold);
    }
  }
}

/** What a taken slice's result is replaced with (a late duplicate of it is then ignored). */
const TAKEN = {} as RowChecks;

/** How long the calling thread waits for a slice a worker has claimed before computing it itself. */
const STEAL_MS = 1000;

/**
 * One submission's slices, taken in order by the calling thread without returning to the event
 * loop: worker results arrive on a MessagePort read with receiveMessageOnPort, and a shared
 * counter (Atomics.wait / notify) says when one was posted. While the slice it needs is still
 * being computed by a worker, the calling thread computes unclaimed slices from the back; a slice
 * a worker has not delivered after STEAL_MS (a worker starved of CPU, or dead) is computed here
 * too: the same result, the late one is ignored.
 */
export class CheckRun {
  readonly slices: number;
  private readonly results: (RowChecks | undefined)[];
  private readonly given: Uint8Array;
  private readonly claims: Int32Array;
  private readonly signal: Int32Array;
  private readonly ports: MessagePort[] = [];
  /** Highest slice the calling thread may still claim from the back. */
  private back: number;

  constructor(
    private readonly jobs: RowCheckJob[],
    readonly rowsPerSlice: number,
    workers: PoolWorker[],
    private readonly stats: { slices: number; workerSlices: number },
  ) {
    const n = jobs.length;
    this.slices = n;
    this.back = n - 1;
    this.results = new Array(n);
    this.given = new Uint8Array(n);
    this.claims = new Int32Array(new SharedArrayBuffer(4 * Math.max(n, 1)));
    this.signal = new Int32Array(new SharedArrayBuffer(4));
    stats.slices += n;
    if (n < 2) return;
    workers.forEach((w, k) => {
      const { port1, port2 } = new MessageChannel();
      this.ports.push(port1);
      w.send({ jobs, claims: this.claims, owner: k + 1, port: port2, signal: this.signal }).catch(
        () => undefined,
      );
    });
  }

  private drain(): void {
    for (const port of this.ports) this.drainPort(port);
  }

  private drainPort(port: MessagePort): void {
    for (;;) {
      const m = receiveMessageOnPort(port);
      if (!m) return;
      const { index, result } = m.message as { index: number; result?: RowChecks };
      if (this.results[index]) continue;
      if (result) {
        this.results[index] = result;
        this.stats.workerSlices++;
      } else this.given[index] = 1;
    }
  }

  private compute(k: number): RowChecks {
    const r = computeRowChecks(this.jobs[k]);
    this.results[k] ??= r;
    return r;
  }

  /** Computes one unclaimed slice from the back (above `k`); false when there is none. */
  private claimBack(k: number): boolean {
    while (this.back > k) {
      const b = this.back--;
      if (Atomics.compareExchange(this.claims, b, 0, CALLER) === 0) {
        this.compute(b);
        return true;
      }
      // workers claim from the front: everything below a claimed slice is claimed
      this.back = -1;
    }
    return false;
  }

  /**
   * The checks of slice k, computing here whatever is quicker than waiting. Each slice is taken
   * once: the run then lets go of it (its strings need not outlive the caller's use of them).
   */
  take(k: number): RowChecks {
    const r = this.find(k);
    this.results[k] = TAKEN;
    return r;
  }

  private find(k: number): RowChecks {
    let waitingSince = 0;
    for (;;) {
      this.drain();
      const r = this.results[k];
      if (r) return r;
      if (this.given[k] || Atomics.compareExchange(this.claims, k, 0, CALLER) === 0) return this.compute(k);
      if (Atomics.load(this.claims, k) === CALLER) return this.compute(k);
      if (this.claimBack(k)) continue;
      const seen = Atomics.load(this.signal, 0);
      this.drain();
      if (this.results[k]) continue;
      const now = performance.now();
      if (waitingSince === 0) waitingSince = now;
      else if (now - waitingSince > STEAL_MS) return this.compute(k);
      Atomics.wait(this.signal, 0, seen, 20);
    }
  }

  /** Stops listening to the workers (they skip what is left: every slice is claimed or done). */
  close(): void {
    for (let k = 0; k < this.slices; k++) Atomics.compareExchange(this.claims, k, 0, CALLER);
    for (const port of this.ports) port.close();
  }
}

/** The same source without workers: every slice computed in the calling thread when taken. */
export function inThreadRun(jobs: RowCheckJob[], rowsPerSlice: number): CheckRun {
  return new CheckRun(jobs, rowsPerSlice, [], { slices: 0, workerSlices: 0 });
}

// Body of a check-pool worker (started through check-worker-boot.mjs). For a submission it gets
// every slice's job and a shared claim array: it claims slices from the front (the calling
// thread claims from the back), computes the row checks of each slice it claimed and posts the
// results back, typed arrays transferred. It also runs the WAL checkpoints that large
// contributions leave to it (see pool.ts), on its own SQLite connection.
import { type MessagePort, parentPort } from 'node:worker_threads';
import Database from 'better-sqlite3';
import { computeRowChecks, type RowCheckJob } from './rowchecks.ts';

interface Task {
  id: number;
  /** A submission's slices, with `claims` (one int32 per slice, 0 = free) and this worker's owner tag. */
  jobs?: RowCheckJob[];
  claims?: Int32Array;
  owner?: number;
  /** Where slice results go (else to the parent), and a counter bumped (and notified) after each. */
  port?: MessagePort;
  signal?: Int32Array;
  /** Path of a SQLite database in WAL mode to checkpoint (PASSIVE). */
  checkpoint?: string;
}

const port = parentPort;
if (!port) throw new Error('check-worker.ts runs as a worker thread');
const connections = new Map<string, Database.Database>();

function errorText(e: unknown): string {
  return e instanceof Error ? (e.stack ?? e.message) : String(e);
}

port.on('message', ({ id, jobs, claims, owner, checkpoint, port: out, signal }: Task) => {
  if (checkpoint !== undefined) {
    try {
      let db = connections.get(checkpoint);
      if (!db) {
        db = new Database(checkpoint, { fileMustExist: true });
        db.pragma('busy_timeout = 5000');
        connections.set(checkpoint, db);
      }
      db.pragma('wal_checkpoint(PASSIVE)');
      port.postMessage({ id, done: true });
    } catch (e) {
      port.postMessage({ id, error: errorText(e) });
    }
    return;
  }
  if (!jobs || !claims || !owner) {
    port.postMessage({ id, error: 'malformed task' });
    return;
  }
  const to = out ?? port;
  for (let i = 0; i < jobs.length; i++) {
    if (Atomics.compareExchange(claims, i, 0, owner) !== 0) continue;
    try {
      const r = computeRowChecks(jobs[i]);
      to.postMessage({ id, index: i, result: r }, [
        r.status.buffer,
        r.signatures.buffer,
        r.bands.buffer,
        r.leaves.buffer,
      ] as ArrayBuffer[]);
    } catch (e) {
      // the slice stays without a result: the calling thread computes it (and meets the same error)
      to.postMessage({ id, index: i, error: errorText(e) });
    }
    if (signal) {
      Atomics.add(signal, 0, 1);
      Atomics.notify(signal, 0);
    }
  }
  out?.close();
  port.postMessage({ id, done: true });
});

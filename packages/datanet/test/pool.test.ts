// The check pool: contributions checked in worker threads give exactly what the in-thread path
// gives (reports, row ids, dedupe decisions, stored rows, signatures, leaves); a worker failure
// falls back to the calling thread; idle workers do not keep a process alive.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { after, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import type { Worker } from 'node:worker_threads';
import { openStore, type Store } from '@openledger/store';
import { Datanets, MemoryAnchor, type RowReport } from '../src/index.ts';
import { checkJobs, computeChecksInThread, mergeRowChecks } from '../src/ingest.ts';
import { CheckPool } from '../src/pool.ts';
import { ALICE, cleanup, OWNER, prose, tempHome } from './helpers.ts';

after(cleanup);

/** One word of paragraph `p` replaced: estimated Jaccard well above 0.8 for 130-word paragraphs. */
function nearCopy(p: string): string {
  const w = p.split(' ');
  w[30] = 'zzzchanged';
  return w.join(' ');
}

/**
 * Files exercising every decision, with > 512 rows each so the pool path cuts them into several
 * slices, and the planted duplicates cross slice boundaries. Text paragraphs of 130 words are
 * one row each (two do not fit the 1,000-character chunk target).
 */
function files(): { name: string; bytes: Buffer }[] {
  const a = prose(7, 1100, 130).split('\n\n');
  const rowsA = [...a];
  rowsA.splice(900, 0, a[3]); // exact duplicate of an earlier row (another slice)
  rowsA.splice(1000, 0, nearCopy(a[10])); // near-duplicate of an earlier row
  rowsA.splice(40, 0, 'Cafe\u0301 au lait, cre\u0300me bru\u0302le\u0301e\r\nand more'); // NFC, CRLF
  rowsA.splice(600, 0, 'Ünïcödé, Straße, ΑΒΓ δεζ, 漢字 かな 文字 — with accents.');
  const b = prose(8, 700, 130).split('\n\n');
  const rowsB = [...b];
  rowsB.splice(100, 0, a[50]); // exact duplicate of a stored row
  rowsB.splice(650, 0, nearCopy(a[60])); // near-duplicate of a stored row
  rowsB.splice(300, 0, nearCopy(b[5])); // near-duplicate within this file
  const jsonl = [
    ...prose(9, 600)
      .split('\n\n')
      .map((text) => JSON.stringify({ text })),
    JSON.stringify({ text: 'too short' }),
    JSON.stringify({ text: '... --- !!! ??? ,,, ;;; ::: ... --- !!!' }), // no words: no signature
    JSON.stringify({ text: 'bad \uFFFD replacement character in this row of text' }),
    JSON.stringify({ text: 'lone surrogate \uD800 in this row of text, long enough' }),
    JSON.stringify({ text: 'control \u0007 character in this row of text, long enough' }),
    JSON.stringify({ text: 'an extra field in this row of text', label: 'x' }),
    JSON.stringify({ text: 42 }),
    '{not json',
    JSON.stringify({ text: a[70] }),
  ].join('\n');
  return [
    { name: 'a.txt', bytes: Buffer.from(rowsA.join('\n\n')) },
    { name: 'b.md', bytes: Buffer.from(rowsB.join('\n\n')) },
    { name: 'c.jsonl', bytes: Buffer.from(jsonl) },
  ];
}

/** Runs throwaway slices through the datanets' pool until a worker has computed one. */
async function warmUp(dn: Datanets): Promise<void> {
  const pool = (dn as unknown as { pool: CheckPool }).pool;
  const raw = prose(4, 400)
    .split('\n\n')
    .map((text, index) => ({ index, source: `paragraph ${index + 1}`, record: { text } }));
  const jobs = checkJobs(99, 'text', ALICE, raw, { minChars: 16, maxChars: 20_000 }, 20);
  for (let k = 0; k < 100 && pool.stats.workerSlices === 0; k++) {
    await pool.runAll(jobs);
    await new Promise((r) => setTimeout(r, 50));
  }
  assert.ok(pool.stats.workerSlices > 0, 'the pool has started');
}

interface Outcome {
  reports: RowReport[][];
  stored: unknown[];
}

async function ingest(
  opts: { checkWorkers: number; parallelCheckBytes?: number },
  asyncBlobsOnly = false,
): Promise<Outcome> {
  const store: Store = openStore(tempHome());
  if (asyncBlobsOnly) {
    // a blob store with the BlobStore interface only (no putSync): the unpipelined order
    const blobs = store.blobs;
    (store as { blobs: unknown }).blobs = {
      put: (data: Uint8Array) => blobs.put(data),
      get: (id: string) => blobs.get(id),
      has: (id: string) => blobs.has(id),
      stat: (id: string) => blobs.stat(id),
      stream: (id: string) => blobs.stream(id),
      delete: (id: string) => blobs.delete(id),
    };
  }
  const dn = new Datanets(store, new MemoryAnchor(), opts);
  try {
    // workers up before the compared files, so that their slices really come from workers (a cold
    // pool may leave every slice to the calling thread)
    if (opts.checkWorkers > 0) await warmUp(dn);
    const fromWorkers = dn.checkPoolStats.workerSlices;
    const d = await dn.create(OWNER, { name: 'pool', license: 'CC0-1.0' });
    const reports: RowReport[][] = [];
    for (const f of files()) reports.push((await dn.contribute(ALICE, d.id, f)).rows);
    // the connection's autocheckpoint is back to its default after the offloaded commits
    assert.equal(store.sql.pragma('wal_autocheckpoint', { simple: true }), 1000);
    if (opts.checkWorkers > 0) {
      assert.ok(dn.checkPoolStats.slices > 3, 'the pool path was taken');
      assert.ok(dn.checkPoolStats.workerSlices > fromWorkers, 'workers checked slices of these files');
    }
    const stored = store.sql
      .prepare(
        'SELECT id, datanet_id, contribution_id, contributor, content_hash, content, leaf, signature FROM rows ORDER BY rowid',
      )
      .raw()
      .all();
    const contributions = store.sql
      .prepare(
        'SELECT id, datanet_id, contributor, file_name, format, file_blob, file_size, rows_accepted, rows_rejected FROM contributions ORDER BY id',
      )
      .raw()
      .all();
    return { reports, stored: [...stored, ...contributions] };
  } finally {
    await dn.close();
    store.close();
  }
}

describe('check pool', () => {
  it('gives the same reports, decisions and stored rows as the in-thread path', async () => {
    const inThread = await ingest({ checkWorkers: 0 });
    const pooled = await ingest({ checkWorkers: 2, parallelCheckBytes: 0 });
    assert.deepEqual(pooled.reports, inThread.reports);
    assert.deepEqual(pooled.stored, inThread.stored);
    for (const unpipelined of [
      await ingest({ checkWorkers: 0 }, true),
      await ingest({ checkWorkers: 2, parallelCheckBytes: 0 }, true),
    ]) {
      assert.deepEqual(unpipelined.reports, inThread.reports);
      assert.deepEqual(unpipelined.stored, inThread.stored);
    }

    // and the decisions are the intended ones
    const problems = (i: number) => inThread.reports[i].flatMap((r) => r.problems.map((p) => p.code)).sort();
    assert.deepEqual(problems(0), ['duplicate', 'near_duplicate']);
    assert.deepEqual(problems(1), ['duplicate', 'near_duplicate', 'near_duplicate']);
    assert.deepEqual(problems(2), [
      'duplicate',
      'invalid_encoding',
      'invalid_encoding',
      'invalid_encoding',
      'schema_mismatch',
      'schema_mismatch',
      'schema_mismatch',
      'too_short',
    ]);
    const within = inThread.reports[1].find((r) => r.problems[0]?.message.includes('of this submission'));
    assert.ok(within, 'a near-duplicate within the submission is named');
    const nfc = inThread.stored.find((r) => String((r as unknown[])[5]).includes('Café au lait'));
    assert.ok(nfc, 'text is stored NFC with LF newlines');
    assert.match(String((nfc as unknown[])[5]), /crème brûlée\\nand/);
    assert.ok(
      inThread.stored.some((r) => (r as unknown[])[7] === null),
      'a row without words has no signature',
    );
  });

  it('computes slices in the calling thread when a worker fails, and after close()', async () => {
    const raw = prose(3, 1100)
      .split('\n\n')
      .map((text, index) => ({ index, source: `paragraph ${index + 1}`, record: { text } }));
    const jobs = checkJobs(5, 'text', ALICE, raw, { minChars: 16, maxChars: 20_000 }, 100);
    assert.equal(jobs.length, 11);
    const reference = computeChecksInThread(jobs);

    const pool = new CheckPool(1);
    assert.deepEqual(mergeRowChecks(await pool.runAll(jobs)), reference);
    // once the worker is up it takes slices (the first call may have run entirely here)
    for (let k = 0; k < 50 && pool.stats.workerSlices === 0; k++) {
      await new Promise((r) => setTimeout(r, 100));
      assert.deepEqual(mergeRowChecks(await pool.runAll(jobs)), reference);
    }
    assert.ok(pool.stats.workerSlices > 0, 'the worker computed slices');
    // a job that makes the worker's computation throw: the worker reports it and the slice is
    // computed here (where it throws the same way: nothing is silently dropped)
    const bad = jobs.map((j) => ({ ...j, schema: 'nonsense' as 'text' }));
    await assert.rejects(pool.runAll(bad));
    // the worker dies: its slices are computed here
    const workers = (pool as unknown as { workers: { worker: Worker }[] }).workers;
    const dying = pool.runAll(jobs);
    // (a timer holds the event loop: the terminated worker's handle may not)
    const hold = setInterval(() => undefined, 1000);
    await workers[0].worker.terminate();
    clearInterval(hold);
    assert.deepEqual(mergeRowChecks(await dying), reference);
    await pool.close();
    assert.deepEqual(mergeRowChecks(await pool.runAll(jobs)), reference);
  });

  it('does not keep the process alive when close() is never called', async () => {
    const child = fileURLToPath(new URL('./fixtures/pool-child.ts', import.meta.url));
    const home = tempHome();
    const out = await new Promise<{ code: number | null; stdout: string }>((resolve, reject) => {
      const p = spawn(process.execPath, ['--import', 'tsx', child, home], {
        stdio: ['ignore', 'pipe', 'inherit'],
      });
      let stdout = '';
      p.stdout.on('data', (b) => {
        stdout += b;
      });
      const timer = setTimeout(() => {
        p.kill('SIGKILL');
        reject(new Error(`child still running after 60 s: ${stdout}`));
      }, 60_000);
      p.on('exit', (code) => {
        clearTimeout(timer);
        resolve({ code, stdout });
      });
    });
    assert.equal(out.code, 0);
    assert.match(out.stdout, /^ACK \d+ rows$/m);
  });
});

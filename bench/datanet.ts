/**
 * npm run bench:datanet — datanet ingest, Merkle roots and the read API.
 *
 *  1. Ingest: 100 MB of text rows (20 submissions of ~5 MB, paragraphs of distinct words) through
 *     Datanets.contribute into a fresh SQLite + blob store: parse, chunk, checks, exact and
 *     near-duplicate detection, one transaction per submission. Target ≥ 20 MB/s. The per-row
 *     checks run in the check pool (worker threads, cores − 1) plus the calling thread; the same
 *     files are also ingested into another fresh store with `checkWorkers: 0` (everything in
 *     one thread) for the same-run comparison (that one first: the JIT of the calling thread is
 *     warm for both). Each starts with one untimed ~5 MB submission into another datanet of its
 *     store (JIT, worker boot; printed), repeated with the pool until a worker has computed a
 *     slice (so that the workers' boot is not timed). CPU-seconds count every thread of the process.
 *  2. Merkle root over 1,000,000 rows: leaf hashing (2 keccaks per row) plus the tree, and the tree
 *     alone from stored leaves (what `publish` does); compared in the same run with
 *     @openzeppelin/merkle-tree's StandardMerkleTree on 20,000 rows (same root checked).
 *  3. Read API: the node's Fastify server (packages/node, with the datanet routes) on 127.0.0.1,
 *     loaded by autocannon in a separate process with 200 connections: GET /api/datanets (list) and
 *     GET /api/datanets/:id (show). Target ≥ 2,000 req/s each.
 *
 * The machine has 2 cores shared with whatever else runs; the load average at start and before the
 * table is printed, and ingest and the Merkle steps are also given in CPU-seconds of this process.
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { loadavg, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Datanets, hexToBytes, MemoryAnchor, MerkleTree, rowLeafInto } from '@openledger/datanet';
import { openStore } from '@openledger/store';
import { StandardMerkleTree } from '@openzeppelin/merkle-tree';
import { Auth } from '../packages/node/src/http/auth.ts';
import { createServer } from '../packages/node/src/http/server.ts';

const here = dirname(fileURLToPath(import.meta.url));
const require = createRequire(import.meta.url);
const MB = 1024 * 1024;
const OWNER = '0x1111111111111111111111111111111111111111';
const INGEST_MB = Number(process.env.BENCH_INGEST_MB ?? 100);
const MERKLE_ROWS = Number(process.env.BENCH_MERKLE_ROWS ?? 1_000_000);
const HTTP_SECONDS = Number(process.env.BENCH_HTTP_SECONDS ?? 10);
const CONNECTIONS = 200;

let seed = 12345;
const rnd = () => {
  seed = (Math.imul(seed, 1664525) + 1013904223) >>> 0;
  return seed / 4294967296;
};

/** ~`bytes` of prose: paragraphs of 40–160 pseudo-random words, blank-line separated. */
function textFile(bytes: number): Buffer {
  const parts: string[] = [];
  let n = 0;
  while (n < bytes - 2000) {
    const words = 40 + Math.floor(rnd() * 120);
    const w: string[] = [];
    for (let i = 0; i < words; i++) w.push(`w${Math.floor(rnd() * 2 ** 31).toString(36)}`);
    const p = `${w.join(' ')}.`;
    parts.push(p);
    n += p.length + 2;
  }
  return Buffer.from(parts.join('\n\n'));
}

const cpuSeconds = (u: NodeJS.CpuUsage) => (u.user + u.system) / 1e6;

function ingestFiles(): Buffer[] {
  const files: Buffer[] = [];
  let total = 0;
  while (total < INGEST_MB * MB) {
    const f = textFile(Math.min(5 * MB - 4096, INGEST_MB * MB - total + 2048));
    files.push(f);
    total += f.length;
  }
  return files;
}

async function benchIngest(dn: Datanets, datanetId: number, files: Buffer[]) {
  const total = files.reduce((n, f) => n + f.length, 0);
  let rows = 0;
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  for (const [i, f] of files.entries()) {
    const r = await dn.contribute(OWNER, datanetId, { name: `part-${i}.txt`, bytes: f });
    rows += r.contribution.rowsAccepted;
  }
  const seconds = (performance.now() - t0) / 1000;
  const cpu = cpuSeconds(process.cpuUsage(c0));
  return {
    files: files.length,
    loadAverage: loadavg()[0],
    bytes: total,
    rows,
    seconds,
    cpu,
    mbps: total / MB / seconds,
    mbpsCpu: total / MB / cpu,
  };
}

function benchMerkle() {
  const n = MERKLE_ROWS;
  const ids = randomBytes(n * 32);
  const hashes = randomBytes(n * 32);
  const who = randomBytes(n * 20);
  const leaves = new Uint8Array(n * 32);
  let t = performance.now();
  let c = process.cpuUsage();
  for (let i = 0; i < n; i++) {
    rowLeafInto(
      ids.subarray(i * 32, i * 32 + 32),
      hashes.subarray(i * 32, i * 32 + 32),
      who.subarray(i * 20, i * 20 + 20),
      leaves,
      i * 32,
    );
  }
  const leafSeconds = (performance.now() - t) / 1000;
  const leafCpu = cpuSeconds(process.cpuUsage(c));
  t = performance.now();
  c = process.cpuUsage();
  const tree = MerkleTree.fromLeaves(leaves);
  const treeSeconds = (performance.now() - t) / 1000;
  const treeCpu = cpuSeconds(process.cpuUsage(c));

  // same-run comparison with the reference implementation on a subset
  const m = Math.min(20_000, n);
  const values = Array.from({ length: m }, (_, i) => [
    `0x${ids.subarray(i * 32, i * 32 + 32).toString('hex')}`,
    `0x${hashes.subarray(i * 32, i * 32 + 32).toString('hex')}`,
    `0x${who.subarray(i * 20, i * 20 + 20).toString('hex')}`,
  ]);
  t = performance.now();
  const oz = StandardMerkleTree.of(values, ['bytes32', 'bytes32', 'address']);
  const ozSeconds = (performance.now() - t) / 1000;
  t = performance.now();
  const sub = new Uint8Array(m * 32);
  for (let i = 0; i < m; i++) {
    rowLeafInto(hexToBytes(values[i][0]), hexToBytes(values[i][1]), hexToBytes(values[i][2]), sub, i * 32);
  }
  const ours = MerkleTree.fromLeaves(sub);
  const oursSeconds = (performance.now() - t) / 1000;
  if (ours.root !== oz.root) throw new Error('Merkle root differs from StandardMerkleTree');
  return {
    rows: n,
    root: tree.root,
    leafSeconds,
    treeSeconds,
    totalSeconds: leafSeconds + treeSeconds,
    leafCpu,
    treeCpu,
    subsetRows: m,
    ozSeconds,
    oursSeconds,
    speedup: ozSeconds / oursSeconds,
  };
}

interface Cannon {
  rps: number;
  p50: number;
  p99: number;
  errors: number;
  non2xx: number;
  total: number;
}

/** autocannon in its own process, JSON out. */
function autocannon(url: string, seconds: number): Promise<Cannon> {
  const bin = require.resolve('autocannon/autocannon.js');
  return new Promise((resolve, reject) => {
    const child = spawn(
      process.execPath,
      [bin, '-c', String(CONNECTIONS), '-d', String(seconds), '--json', url],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let out = '';
    let err = '';
    child.stdout.on('data', (d) => {
      out += d;
    });
    child.stderr.on('data', (d) => {
      err += d;
    });
    child.on('error', reject);
    child.on('exit', (code) => {
      if (code !== 0) return reject(new Error(`autocannon exited ${code}: ${err}`));
      const r = JSON.parse(out) as {
        requests: { average: number; total: number };
        latency: { p50: number; p99: number };
        errors: number;
        non2xx: number;
      };
      resolve({
        rps: r.requests.average,
        p50: r.latency.p50,
        p99: r.latency.p99,
        errors: r.errors,
        non2xx: r.non2xx,
        total: r.requests.total,
      });
    });
  });
}

async function main() {
  const load = loadavg()[0];
  const home = mkdtempSync(join(tmpdir(), 'ol-bench-datanet-'));
  const store = openStore(home);
  const anchor = new MemoryAnchor();
  const dn = new Datanets(store, anchor);
  try {
    console.log(`load average at start: ${load.toFixed(2)} (2 cores)`);
    const d = await dn.create(OWNER, { name: 'bench', license: 'CC0-1.0', tags: ['bench'] });
    const files = ingestFiles();
    const warmFile = textFile(5 * MB - 4096);
    /**
     * One untimed ~5 MB submission into another datanet of the same store: JIT, worker boot. With
     * a check pool, repeated (into yet another datanet, at most 3 more) until a worker has computed
     * a slice: on a busy machine the first submission can end before the workers have booted, and
     * their boot (~0.6 CPU-s) and JIT would otherwise land in the timed part.
     */
    const warmUp = async (on: Datanets) => {
      let first = 0;
      for (let i = 0; i < 4; i++) {
        const w = await on.create(OWNER, { name: `warm-up ${i}`, license: 'CC0-1.0' });
        const t = performance.now();
        await on.contribute(OWNER, w.id, { name: 'warm-up.txt', bytes: warmFile });
        if (i === 0) first = (performance.now() - t) / 1000;
        if (on.options.checkWorkers === 0 || on.checkPoolStats.workerSlices > 0) break;
      }
      return first;
    };
    // first every check in one thread (checkWorkers 0), in another fresh store, for comparison
    console.log(`ingesting ${INGEST_MB} MB of text with every check in one thread…`);
    const home1 = mkdtempSync(join(tmpdir(), 'ol-bench-datanet-1-'));
    const store1 = openStore(home1);
    const dn1 = new Datanets(store1, new MemoryAnchor(), { checkWorkers: 0 });
    let ingest1: Awaited<ReturnType<typeof benchIngest>>;
    let warm1: number;
    try {
      warm1 = await warmUp(dn1);
      const d1 = await dn1.create(OWNER, { name: 'bench', license: 'CC0-1.0', tags: ['bench'] });
      ingest1 = await benchIngest(dn1, d1.id, files);
    } finally {
      store1.close();
      rmSync(home1, { recursive: true, force: true });
    }
    console.log(`ingesting the same files with the check pool (${dn.options.checkWorkers} workers)…`);
    const warm = await warmUp(dn);
    const ingest = await benchIngest(dn, d.id, files);

    // approve everything and publish once (the publish path: leaves from SQLite, tree, blobs)
    let t = performance.now();
    for (;;) {
      const ids = dn.pending(OWNER, d.id);
      if (ids.length === 0) break;
      dn.review(
        OWNER,
        d.id,
        ids.map((rowId) => ({ rowId, decision: 'approve' as const })),
      );
    }
    const approveSeconds = (performance.now() - t) / 1000;
    t = performance.now();
    const version = await dn.publish(OWNER, d.id);
    const publishSeconds = (performance.now() - t) / 1000;

    console.log(`Merkle tree over ${MERKLE_ROWS.toLocaleString()} rows…`);
    const merkle = benchMerkle();

    // a few more datanets so that list returns a realistic page
    for (let i = 0; i < 19; i++) {
      await dn.create(OWNER, {
        name: `datanet ${i}`,
        license: 'MIT',
        summary: 'bench',
        tags: ['bench', `t${i}`],
      });
    }
    const ctx = {
      home,
      db: store.sql,
      auth: new Auth(store.sql),
      chain: { chainId: 31337, rpcUrl: '', local: true, publicClient: undefined, contracts: {} },
      devAccounts: [],
      services: { datanets: dn, store },
    } as unknown as Parameters<typeof createServer>[0];
    const app = await createServer(ctx, {});
    await app.listen({ port: 0, host: '127.0.0.1' });
    const port = (app.server.address() as { port: number }).port;
    const base = `http://127.0.0.1:${port}`;
    console.log(`read API at ${base}: ${CONNECTIONS} connections, ${HTTP_SECONDS} s per route…`);
    await autocannon(`${base}/api/datanets/${d.id}`, 2); // warm-up
    const list = await autocannon(`${base}/api/datanets`, HTTP_SECONDS);
    const show = await autocannon(`${base}/api/datanets/${d.id}`, HTTP_SECONDS);
    await app.close();

    const row = (a: string, b: string, c = '') => console.log(`${a.padEnd(40)} ${b.padStart(16)}  ${c}`);
    console.log('');
    console.log(`load average now: ${loadavg()[0].toFixed(2)} (2 cores)`);
    row('measure', 'value', 'note');
    row('-'.repeat(40), '-'.repeat(16));
    row(
      'ingest: text',
      `${(ingest.bytes / MB).toFixed(1)} MB`,
      `${ingest.files} submissions, ${ingest.rows} rows`,
    );
    row(
      'ingest: throughput (wall)',
      `${ingest.mbps.toFixed(2)} MB/s`,
      `${ingest.seconds.toFixed(1)} s; target ≥ 20 MB/s`,
    );
    row(
      'ingest: throughput per CPU-second',
      `${ingest.mbpsCpu.toFixed(2)} MB/s`,
      `${ingest.cpu.toFixed(1)} CPU-s (all threads); load average after: ${ingest.loadAverage.toFixed(2)}`,
    );
    row(
      'ingest: first 5 MB submission (untimed)',
      `${warm.toFixed(2)} s`,
      `cold: worker boot (tsx) + JIT; one thread: ${warm1.toFixed(2)} s`,
    );
    row(
      'ingest, one thread: throughput (wall)',
      `${ingest1.mbps.toFixed(2)} MB/s`,
      `${ingest1.seconds.toFixed(1)} s; checkWorkers 0, same files; pool/one thread ${(ingest.mbps / ingest1.mbps).toFixed(2)}x`,
    );
    row(
      'ingest, one thread: per CPU-second',
      `${ingest1.mbpsCpu.toFixed(2)} MB/s`,
      `${ingest1.cpu.toFixed(1)} CPU-s; load average after: ${ingest1.loadAverage.toFixed(2)}`,
    );
    row(
      'review: approve all rows',
      `${approveSeconds.toFixed(2)} s`,
      `${ingest.rows} rows in batches of 10,000`,
    );
    row(
      'publish: version 1',
      `${publishSeconds.toFixed(2)} s`,
      `${version.rowCount} rows, root + blobs + anchor`,
    );
    row(
      'merkle: leaves (2 keccak/row)',
      `${merkle.leafSeconds.toFixed(2)} s`,
      `${merkle.rows.toLocaleString()} rows, ${merkle.leafCpu.toFixed(2)} CPU-s`,
    );
    row(
      'merkle: tree (sort + n-1 keccak)',
      `${merkle.treeSeconds.toFixed(2)} s`,
      `${merkle.rows.toLocaleString()} rows, ${merkle.treeCpu.toFixed(2)} CPU-s`,
    );
    row('merkle: total', `${merkle.totalSeconds.toFixed(2)} s`, `${merkle.rows.toLocaleString()} rows`);
    row(
      'merkle: vs StandardMerkleTree',
      `${merkle.speedup.toFixed(1)}x`,
      `${merkle.subsetRows} rows: ${merkle.ozSeconds.toFixed(2)} s vs ${merkle.oursSeconds.toFixed(3)} s, same root`,
    );
    row(
      'GET /api/datanets (list)',
      `${list.rps.toFixed(0)} req/s`,
      `p50 ${list.p50} ms, p99 ${list.p99} ms, ${list.errors + list.non2xx} errors`,
    );
    row(
      'GET /api/datanets/:id (show)',
      `${show.rps.toFixed(0)} req/s`,
      `p50 ${show.p50} ms, p99 ${show.p99} ms, ${show.errors + show.non2xx} errors`,
    );

    const result = {
      name: 'datanet',
      loadAverage: Number(load.toFixed(2)),
      loadAverageAtEnd: Number(loadavg()[0].toFixed(2)),
      ingestMB: Number((ingest.bytes / MB).toFixed(1)),
      ingestRows: ingest.rows,
      ingestMBps: Number(ingest.mbps.toFixed(2)),
      ingestMBpsPerCpuSecond: Number(ingest.mbpsCpu.toFixed(2)),
      ingestCheckWorkers: dn.options.checkWorkers,
      ingestWarmUpSeconds: Number(warm.toFixed(2)),
      ingestOneThreadWarmUpSeconds: Number(warm1.toFixed(2)),
      ingestLoadAverageAfter: Number(ingest.loadAverage.toFixed(2)),
      ingestOneThreadMBps: Number(ingest1.mbps.toFixed(2)),
      ingestOneThreadMBpsPerCpuSecond: Number(ingest1.mbpsCpu.toFixed(2)),
      ingestOneThreadLoadAverageAfter: Number(ingest1.loadAverage.toFixed(2)),
      approveSeconds: Number(approveSeconds.toFixed(2)),
      publishSeconds: Number(publishSeconds.toFixed(2)),
      publishRows: version.rowCount,
      merkleRows: merkle.rows,
      merkleLeafSeconds: Number(merkle.leafSeconds.toFixed(3)),
      merkleTreeSeconds: Number(merkle.treeSeconds.toFixed(3)),
      merkleTotalSeconds: Number(merkle.totalSeconds.toFixed(3)),
      merkleLeafCpuSeconds: Number(merkle.leafCpu.toFixed(3)),
      merkleTreeCpuSeconds: Number(merkle.treeCpu.toFixed(3)),
      merkleSpeedupVsStandardMerkleTree: Number(merkle.speedup.toFixed(1)),
      listRps: Math.round(list.rps),
      listP50ms: list.p50,
      listP99ms: list.p99,
      showRps: Math.round(show.rps),
      showP50ms: show.p50,
      showP99ms: show.p99,
      connections: CONNECTIONS,
      httpErrors: list.errors + list.non2xx + show.errors + show.non2xx,
    };
    mkdirSync(join(here, 'results'), { recursive: true });
    writeFileSync(join(here, 'results', 'datanet.json'), `${JSON.stringify(result, null, 2)}\n`);
    console.log(`BENCH ${JSON.stringify(result)}`);
  } finally {
    await dn.close();
    store.close();
    rmSync(home, { recursive: true, force: true });
  }
}

await main();

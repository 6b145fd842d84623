import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { after, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { openStore } from '@openledger/store';
import { Datanets, MemoryAnchor } from '../src/index.ts';
import { cleanup, OWNER, tempHome } from './helpers.ts';

after(cleanup);

const CHILD = fileURLToPath(new URL('./fixtures/crash-child.ts', import.meta.url));

async function setup(): Promise<string> {
  const home = tempHome();
  const store = openStore(home);
  await new Datanets(store, new MemoryAnchor()).create(OWNER, { name: 'crash', license: 'MIT' });
  store.close();
  return home;
}

/**
 * Runs the child. `killOn(line, acks)` may return true to SIGKILL it at once, or a number of
 * milliseconds after which to SIGKILL it. Resolves with the contributions it acknowledged.
 */
function runChild(
  args: string[],
  killOn: (line: string, acks: number) => boolean | number,
): Promise<{ acked: Map<number, number>; killed: boolean }> {
  return new Promise((resolve, reject) => {
    const child: ChildProcess = spawn(process.execPath, ['--import', 'tsx', CHILD, ...args], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const acked = new Map<number, number>();
    let killed = false;
    let scheduled = false;
    let buf = '';
    let stderr = '';
    const kill = () => {
      if (killed) return;
      killed = true;
      child.kill('SIGKILL');
    };
    child.stderr!.on('data', (d) => {
      stderr += d;
    });
    child.stdout!.on('data', (d) => {
      buf += d;
      let nl = buf.indexOf('\n');
      while (nl >= 0) {
        const line = buf.slice(0, nl);
        buf = buf.slice(nl + 1);
        const m = /^ACK (\d+) (\d+)$/.exec(line);
        if (m && !killed) acked.set(Number(m[1]), Number(m[2]));
        if (!scheduled) {
          const k = killOn(line, acked.size);
          if (k === true) kill();
          else if (typeof k === 'number') {
            scheduled = true;
            setTimeout(kill, k);
          }
        }
        nl = buf.indexOf('\n');
      }
    });
    child.on('error', reject);
    child.on('exit', (code, signal) => {
      if (!killed && code !== 0) reject(new Error(`child exited ${code} ${signal}: ${stderr}`));
      else resolve({ acked, killed });
    });
  });
}

function checkConsistent(home: string, acked: Map<number, number>) {
  const store = openStore(home);
  try {
    assert.equal(store.sql.pragma('integrity_check', { simple: true }), 'ok');
    const contributions = store.sql.prepare('SELECT id, rows_accepted FROM contributions').all() as {
      id: number;
      rows_accepted: number;
    }[];
    const counts = new Map(
      (
        store.sql
          .prepare('SELECT contribution_id AS id, COUNT(*) AS n FROM rows GROUP BY contribution_id')
          .all() as {
          id: number;
          n: number;
        }[]
      ).map((r) => [r.id, r.n]),
    );
    // every acknowledged contribution is there with all its rows
    for (const [id, n] of acked) {
      assert.equal(counts.get(id), n, `acknowledged contribution ${id} lost rows`);
    }
    // no half-written contribution: every stored contribution has exactly its rows, no orphan rows
    for (const c of contributions)
      assert.equal(counts.get(c.id), c.rows_accepted, `contribution ${c.id} is partial`);
    const orphans = store.sql
      .prepare('SELECT COUNT(*) FROM rows WHERE contribution_id NOT IN (SELECT id FROM contributions)')
      .pluck()
      .get();
    assert.equal(orphans, 0);
    // and the datanet still works: a new contribution is accepted after the crash
    return { contributions: contributions.length, rows: [...counts.values()].reduce((a, b) => a + b, 0) };
  } finally {
    store.close();
  }
}

describe('crash safety (kill -9 during a large contribution)', () => {
  it('a kill inside the open write transaction leaves no row of that contribution and loses no acknowledged one', async () => {
    const home = await setup();
    const { acked, killed } = await runChild([home, '0', '3', '1'], (line) => line === 'STALL');
    assert.ok(killed, 'child was killed mid-transaction');
    assert.equal(acked.size, 1, 'exactly the first contribution was acknowledged');
    const state = checkConsistent(home, acked);
    assert.equal(state.contributions, 1);
    // the interrupted file was never stored: contributing it again works
    const again = await runChild([home, '1', '1'], () => false);
    assert.equal(again.acked.size, 1);
    checkConsistent(home, new Map([...acked, ...again.acked]));
  });

  it('kills at arbitrary moments keep the database consistent and every acknowledged row', async () => {
    const home = await setup();
    const all = new Map<number, number>();
    let start = 10;
    for (const delay of [5, 400, 1500]) {
      const { acked } = await runChild([home, String(start), '20'], (line, acks) =>
        line.startsWith('ACK') && acks >= 1 ? delay : false,
      );
      start += 20;
      for (const [k, v] of acked) all.set(k, v);
      checkConsistent(home, all);
    }
    assert.ok(all.size >= 3);
  });
});

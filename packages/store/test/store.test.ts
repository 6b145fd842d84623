import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import Database from 'better-sqlite3';
import {
  cidFromSha256,
  normalizeBlobId,
  OpenLedgerError,
  openStore,
  registerMigrations,
  sha256FromCid,
  sha256Hex,
} from '../src/index.ts';

const dirs: string[] = [];
function home(): string {
  const d = mkdtempSync(join(tmpdir(), 'ol-store-'));
  dirs.push(d);
  return d;
}
after(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

async function readAll(s: NodeJS.ReadableStream): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const c of s) parts.push(c as Buffer);
  return Buffer.concat(parts);
}

describe('openStore', () => {
  it('creates db/openledger.sqlite and blobs/ under home, in WAL mode with foreign keys on', () => {
    const h = home();
    const s = openStore(h);
    assert.ok(existsSync(join(h, 'db', 'openledger.sqlite')));
    assert.ok(existsSync(join(h, 'blobs')));
    assert.equal(s.sql.pragma('journal_mode', { simple: true }), 'wal');
    assert.equal(s.sql.pragma('foreign_keys', { simple: true }), 1);
    s.sql.exec('CREATE TABLE p (id INTEGER PRIMARY KEY); CREATE TABLE c (p INTEGER REFERENCES p(id))');
    assert.throws(() => s.sql.prepare('INSERT INTO c VALUES (42)').run(), /FOREIGN KEY/);
    s.close();
  });

  it('creates new database files with 16 KiB pages and leaves an existing file its page size', () => {
    const h = home();
    const s = openStore(h);
    assert.equal(s.sql.pragma('page_size', { simple: true }), 16384);
    s.close();
    // a file made with SQLite's default 4 KiB pages keeps them
    const h2 = home();
    mkdirSync(join(h2, 'db'), { recursive: true });
    const old = new Database(join(h2, 'db', 'openledger.sqlite'));
    old.pragma('journal_mode = WAL');
    old.exec('CREATE TABLE t (x INTEGER)');
    old.close();
    const s2 = openStore(h2);
    assert.equal(s2.sql.pragma('page_size', { simple: true }), 4096);
    s2.close();
  });

  it('applies migrations once, in order, and records them in the migrations table', () => {
    const h = home();
    const list = [
      { version: 1, name: 'a', up: 'CREATE TABLE t (x INTEGER)' },
      {
        version: 2,
        name: 'b',
        up: (db: import('../src/index.ts').SqliteDatabase) => db.exec('ALTER TABLE t ADD y TEXT'),
      },
    ];
    const s = openStore(h);
    assert.equal(s.migrate('pkg', list), 2);
    assert.equal(s.migrate('pkg', list), 0);
    s.close();
    const s2 = openStore(h);
    assert.equal(s2.migrate('pkg', [...list, { version: 3, name: 'c', up: 'CREATE INDEX t_x ON t(x)' }]), 1);
    assert.deepEqual(
      s2.migrations().map((m) => [m.namespace, m.version, m.name]),
      [
        ['pkg', 1, 'a'],
        ['pkg', 2, 'b'],
        ['pkg', 3, 'c'],
      ],
    );
    s2.sql.prepare('INSERT INTO t (x, y) VALUES (1, ?)').run('ok');
    s2.close();
  });

  it('rolls back a failing migration and leaves earlier ones applied', () => {
    const s = openStore(home());
    assert.throws(() =>
      s.migrate('bad', [
        { version: 1, name: 'ok', up: 'CREATE TABLE ok1 (x)' },
        { version: 2, name: 'broken', up: 'CREATE TABLE half (x); THIS IS NOT SQL' },
      ]),
    );
    assert.deepEqual(
      s.migrations().map((m) => m.version),
      [1],
    );
    assert.equal(s.sql.prepare("SELECT COUNT(*) FROM sqlite_master WHERE name = 'half'").pluck().get(), 0);
    s.close();
  });

  it('refuses out-of-order migration versions and bad namespaces, naming them', () => {
    const s = openStore(home());
    assert.throws(
      () =>
        s.migrate('x', [
          { version: 2, name: 'two', up: '' },
          { version: 1, name: 'one', up: '' },
        ]),
      (e: unknown) => e instanceof OpenLedgerError && /migration 'one'.*greater than 2/.test(e.message),
    );
    assert.throws(() => s.migrate('Bad Name', []), /namespace/);
    s.close();
  });

  it('applies globally registered migrations on open', () => {
    registerMigrations('registered-test', [{ version: 1, name: 'reg', up: 'CREATE TABLE reg_t (x)' }]);
    const s = openStore(home());
    assert.ok(s.migrations().some((m) => m.namespace === 'registered-test'));
    assert.equal(s.sql.prepare("SELECT COUNT(*) FROM sqlite_master WHERE name = 'reg_t'").pluck().get(), 1);
    s.close();
  });

  it('transaction commits on return and rolls back on throw', () => {
    const s = openStore(home());
    s.sql.exec('CREATE TABLE t (x INTEGER)');
    s.transaction(() => s.sql.prepare('INSERT INTO t VALUES (1)').run());
    assert.throws(() =>
      s.transaction(() => {
        s.sql.prepare('INSERT INTO t VALUES (2)').run();
        throw new Error('boom');
      }),
    );
    assert.deepEqual(s.sql.prepare('SELECT x FROM t').pluck().all(), [1]);
    s.close();
  });
});

describe('blob store', () => {
  it('puts, gets, stats, streams by SHA-256 hex id and by CID', async () => {
    const s = openStore(home());
    const data = Buffer.from('hello, datanet\n');
    const info = await s.blobs.put(data);
    assert.equal(info.id, sha256Hex(data));
    assert.equal(info.size, data.length);
    assert.ok(info.cid.startsWith('bafkrei'));
    assert.deepEqual(Buffer.from((await s.blobs.get(info.id))!), data);
    assert.deepEqual(Buffer.from((await s.blobs.get(info.cid))!), data);
    assert.equal(await s.blobs.has(info.id), true);
    assert.deepEqual(await s.blobs.stat(info.cid), info);
    assert.deepEqual(await readAll(s.blobs.stream(info.id)!), data);
    s.close();
  });

  it('is idempotent for identical content and leaves no temp files', async () => {
    const h = home();
    const s = openStore(h);
    const a = await s.blobs.put('same');
    const b = await s.blobs.put(Buffer.from('same'));
    assert.deepEqual(a, b);
    assert.deepEqual(readdirSync(join(h, 'blobs', 'tmp')), []);
    const path = join(h, 'blobs', a.id.slice(0, 2), a.id.slice(2, 4), a.id);
    assert.ok(existsSync(path));
    s.close();
  });

  it('answers null/false for missing or malformed ids', async () => {
    const s = openStore(home());
    const missing = sha256Hex('never stored');
    assert.equal(await s.blobs.get(missing), null);
    assert.equal(await s.blobs.has(missing), false);
    assert.equal(await s.blobs.stat('not-an-id'), null);
    assert.equal(s.blobs.stream(missing), null);
    await assert.rejects(s.blobs.delete('nope'), /id: not a SHA-256/);
    const info = await s.blobs.put('to delete');
    assert.equal(await s.blobs.delete(info.id), true);
    assert.equal(await s.blobs.has(info.id), false);
    s.close();
  });

  it('handles large blobs intact', async () => {
    const s = openStore(home());
    const big = Buffer.alloc(3 * 1024 * 1024 + 7);
    for (let i = 0; i < big.length; i++) big[i] = (i * 31) & 0xff;
    const info = await s.blobs.put(big);
    assert.equal(Buffer.compare(Buffer.from((await s.blobs.get(info.id))!), big), 0);
    s.close();
  });
});

describe('CID', () => {
  it('encodes the known CIDv1 of the empty raw block', () => {
    // the well-known CID of an empty raw block (ipfs add --raw-leaves of an empty file)
    const empty = sha256Hex('');
    assert.equal(cidFromSha256(empty), 'bafkreihdwdcefgh4dqkjv67uzcmw7ojee6xedzdetojuzjevtenxquvyku');
  });

  it('round-trips hex <-> CID and rejects malformed input', () => {
    for (const s of ['a', 'datanet', 'x'.repeat(1000)]) {
      const hex = sha256Hex(s);
      const cid = cidFromSha256(hex);
      assert.equal(sha256FromCid(cid), hex);
      assert.equal(normalizeBlobId(cid), hex);
      assert.equal(normalizeBlobId(hex.toUpperCase()), hex);
    }
    assert.equal(sha256FromCid('bafybeigdyrzt5sfp7udm7hu76uh7y26nf3efuylqabf3oclgtqy55fbzdi'), null);
    assert.equal(normalizeBlobId('zzz'), null);
    assert.throws(() => cidFromSha256('abc'), /64 lowercase hex/);
  });
});

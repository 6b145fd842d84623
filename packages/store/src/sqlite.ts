import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import Database from 'better-sqlite3';

export type SqliteDatabase = Database.Database;

export interface OpenDatabaseOptions {
  /** `FULL` (default) fsyncs the WAL on every commit, so an acknowledged write survives power loss. */
  synchronous?: 'OFF' | 'NORMAL' | 'FULL';
  readonly?: boolean;
}

/** Page size of new database files (SQLite's default is 4096). */
export const PAGE_SIZE = 16384;

/** Opens a SQLite file in WAL mode with foreign keys on and a busy timeout. */
export function openDatabase(path: string, opts: OpenDatabaseOptions = {}): SqliteDatabase {
  if (path !== ':memory:') mkdirSync(dirname(path), { recursive: true });
  const db = new Database(path, { readonly: opts.readonly ?? false });
  if (!opts.readonly) {
    // 16 KiB pages for a new file (a no-op on an existing one): a commit or checkpoint writes a
    // page per syscall, and a large commit (a 5 MB datanet contribution dirties every page of the
    // random-keyed row-id index) made 4× more of them with the default 4 KiB.
    db.pragma(`page_size = ${PAGE_SIZE}`);
    db.pragma('journal_mode = WAL');
  }
  db.pragma(`synchronous = ${opts.synchronous ?? 'FULL'}`);
  db.pragma('foreign_keys = ON');
  db.pragma('busy_timeout = 5000');
  return db;
}

import { join } from 'node:path';
import { type BlobStore, FsBlobStore } from './blobs.ts';
import {
  type AppliedMigration,
  applyMigrations,
  ensureMigrationsTable,
  listAppliedMigrations,
  type Migration,
  registeredMigrations,
} from './migrations.ts';
import { type OpenDatabaseOptions, openDatabase, type SqliteDatabase } from './sqlite.ts';

/**
 * What a package gets from storage: a SQL database for its metadata tables (each package owns its
 * tables and their migrations, and wraps them in its own typed repository), and the blob store.
 * A Postgres + object-storage backend would provide the same shape with its own `sql` handle; the
 * packages' repositories are the seam where SQL dialects would differ.
 */
export interface Store {
  readonly home: string;
  /** The SQLite database (better-sqlite3, WAL, foreign keys on). */
  readonly sql: SqliteDatabase;
  readonly blobs: BlobStore;
  /** Applies a namespace's pending migrations; returns how many were applied. */
  migrate(namespace: string, migrations: Migration[]): number;
  migrations(): AppliedMigration[];
  /** Runs `fn` in one SQLite transaction (committed when it returns, rolled back if it throws). */
  transaction<T>(fn: () => T): T;
  close(): void;
}

export interface OpenStoreOptions extends OpenDatabaseOptions {
  /** Extra migrations to apply now, by namespace (in addition to those registered globally). */
  migrations?: Record<string, Migration[]>;
}

export function storePaths(home: string): { db: string; blobs: string } {
  return { db: join(home, 'db', 'openledger.sqlite'), blobs: join(home, 'blobs') };
}

class SqliteStore implements Store {
  readonly home: string;
  readonly sql: SqliteDatabase;
  readonly blobs: FsBlobStore;

  constructor(home: string, opts: OpenStoreOptions) {
    const paths = storePaths(home);
    this.home = home;
    this.sql = openDatabase(paths.db, opts);
    this.blobs = new FsBlobStore(paths.blobs);
    ensureMigrationsTable(this.sql);
  }

  migrate(namespace: string, migrations: Migration[]): number {
    return applyMigrations(this.sql, namespace, migrations);
  }

  migrations(): AppliedMigration[] {
    return listAppliedMigrations(this.sql);
  }

  transaction<T>(fn: () => T): T {
    return this.sql.transaction(fn)();
  }

  close(): void {
    if (this.sql.open) this.sql.close();
  }
}

/**
 * Opens (creating if needed) the node's storage under `home`: `<home>/db/openledger.sqlite` and
 * `<home>/blobs/`, then applies every registered namespace's pending migrations.
 */
export function openStore(home: string, opts: OpenStoreOptions = {}): Store {
  const store = new SqliteStore(home, opts);
  for (const [ns, list] of registeredMigrations()) store.migrate(ns, list);
  for (const [ns, list] of Object.entries(opts.migrations ?? {})) store.migrate(ns, list);
  return store;
}

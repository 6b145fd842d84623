import { OpenLedgerError } from './errors.ts';
import type { SqliteDatabase } from './sqlite.ts';

/**
 * One schema step of one package. Versions are per namespace, start at 1 and only grow; a
 * migration that has been applied is never edited (add a new one instead).
 */
export interface Migration {
  version: number;
  name: string;
  /** SQL text (may hold several statements) or a function given the database. */
  up: string | ((db: SqliteDatabase) => void);
}

export interface AppliedMigration {
  namespace: string;
  version: number;
  name: string;
  appliedAt: string;
}

const registry = new Map<string, Migration[]>();

/**
 * Registers a package's migrations under its namespace (e.g. 'datanet', 'factory'); `openStore`
 * applies every registered namespace, and `Store.migrate` applies one on demand. Registering the
 * same namespace again replaces the list (idempotent for module re-evaluation).
 */
export function registerMigrations(namespace: string, migrations: Migration[]): void {
  checkList(namespace, migrations);
  registry.set(namespace, migrations);
}

export function registeredMigrations(): Map<string, Migration[]> {
  return new Map(registry);
}

function checkList(namespace: string, migrations: Migration[]): void {
  if (!/^[a-z][a-z0-9_-]{0,63}$/.test(namespace)) {
    throw new OpenLedgerError(
      'invalid_migration',
      `namespace: must match [a-z][a-z0-9_-]{0,63}, got '${namespace}'`,
    );
  }
  let last = 0;
  for (const m of migrations) {
    if (!Number.isInteger(m.version) || m.version <= last) {
      throw new OpenLedgerError(
        'invalid_migration',
        `${namespace} migration '${m.name}': version must be an integer greater than ${last}`,
      );
    }
    last = m.version;
  }
}

export function ensureMigrationsTable(db: SqliteDatabase): void {
  db.exec(`CREATE TABLE IF NOT EXISTS migrations (
    namespace TEXT NOT NULL,
    version INTEGER NOT NULL,
    name TEXT NOT NULL,
    applied_at TEXT NOT NULL,
    PRIMARY KEY (namespace, version)
  )`);
}

/** Applies the pending migrations of one namespace, each in its own transaction. Returns how many. */
export function applyMigrations(db: SqliteDatabase, namespace: string, migrations: Migration[]): number {
  checkList(namespace, migrations);
  ensureMigrationsTable(db);
  const row = db.prepare('SELECT MAX(version) AS v FROM migrations WHERE namespace = ?').get(namespace) as {
    v: number | null;
  };
  const current = row.v ?? 0;
  const insert = db.prepare(
    'INSERT INTO migrations (namespace, version, name, applied_at) VALUES (?, ?, ?, ?)',
  );
  let applied = 0;
  for (const m of migrations) {
    if (m.version <= current) continue;
    db.transaction(() => {
      if (typeof m.up === 'string') db.exec(m.up);
      else m.up(db);
      insert.run(namespace, m.version, m.name, new Date().toISOString());
    })();
    applied++;
  }
  return applied;
}

export function listAppliedMigrations(db: SqliteDatabase): AppliedMigration[] {
  ensureMigrationsTable(db);
  return (
    db
      .prepare('SELECT namespace, version, name, applied_at FROM migrations ORDER BY namespace, version')
      .all() as {
      namespace: string;
      version: number;
      name: string;
      applied_at: string;
    }[]
  ).map((r) => ({ namespace: r.namespace, version: r.version, name: r.name, appliedAt: r.applied_at }));
}

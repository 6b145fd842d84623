import type { Migration, Store } from '@openledger/store';
import type { JobSpec } from './spec.ts';
import type { TrainProgress, TrainResult } from './train-job.ts';

export type JobStatus = 'queued' | 'running' | 'completed' | 'failed' | 'cancelled';

export interface Job {
  id: number;
  owner: string;
  status: JobStatus;
  spec: JobSpec;
  baseModelHash: string;
  dataHash: string;
  createdAt: string;
  startedAt: string | null;
  finishedAt: string | null;
  progress: TrainProgress | null;
  result: TrainResult | null;
  error: string | null;
  /** set once published: the on-chain model id */
  modelId: number | null;
}

const MIGRATIONS: Migration[] = [
  {
    version: 1,
    name: 'factory jobs',
    up: `
      CREATE TABLE factory_jobs (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        owner TEXT NOT NULL,
        status TEXT NOT NULL,
        spec TEXT NOT NULL,
        base_model_hash TEXT NOT NULL,
        data_hash TEXT NOT NULL,
        created_at TEXT NOT NULL,
        started_at TEXT,
        finished_at TEXT,
        progress TEXT,
        result TEXT,
        error TEXT,
        model_id INTEGER
      );
      CREATE INDEX factory_jobs_status ON factory_jobs (status, id);
      CREATE TABLE factory_job_logs (
        job_id INTEGER NOT NULL REFERENCES factory_jobs (id),
        at TEXT NOT NULL,
        line TEXT NOT NULL
      );
      CREATE INDEX factory_job_logs_job ON factory_job_logs (job_id);
    `,
  },
];

interface JobRow {
  id: number;
  owner: string;
  status: JobStatus;
  spec: string;
  base_model_hash: string;
  data_hash: string;
  created_at: string;
  started_at: string | null;
  finished_at: string | null;
  progress: string | null;
  result: string | null;
  error: string | null;
  model_id: number | null;
}

/** Training jobs and their logs in the node's SQLite database. */
export class JobRepository {
  constructor(private readonly store: Store) {
    store.migrate('factory', MIGRATIONS);
  }

  insert(owner: string, spec: JobSpec, baseModelHash: string, dataHash: string): Job {
    const info = this.store.sql
      .prepare(
        `INSERT INTO factory_jobs (owner, status, spec, base_model_hash, data_hash, created_at)
         VALUES (?, 'queued', ?, ?, ?, ?)`,
      )
      .run(owner, JSON.stringify(spec), baseModelHash, dataHash, new Date().toISOString());
    return this.get(Number(info.lastInsertRowid))!;
  }

  get(id: number): Job | undefined {
    const row = this.store.sql.prepare('SELECT * FROM factory_jobs WHERE id = ?').get(id) as
      | JobRow
      | undefined;
    return row && toJob(row);
  }

  list(opts: { owner?: string; limit?: number } = {}): Job[] {
    const limit = Math.min(Math.max(opts.limit ?? 100, 1), 1000);
    const rows = (
      opts.owner
        ? this.store.sql
            .prepare('SELECT * FROM factory_jobs WHERE owner = ? ORDER BY id DESC LIMIT ?')
            .all(opts.owner, limit)
        : this.store.sql.prepare('SELECT * FROM factory_jobs ORDER BY id DESC LIMIT ?').all(limit)
    ) as JobRow[];
    return rows.map(toJob);
  }

  /** The job whose adapter was published as `modelId`, if it was trained on this node. */
  findByModel(modelId: number): Job | undefined {
    const row = this.store.sql.prepare('SELECT * FROM factory_jobs WHERE model_id = ?').get(modelId) as
      | JobRow
      | undefined;
    return row && toJob(row);
  }

  /** The oldest queued job, and jobs left `running` by a crash (they resume from their checkpoint). */
  nextRunnable(): Job | undefined {
    const row = this.store.sql
      .prepare(
        `SELECT * FROM factory_jobs WHERE status IN ('running', 'queued') ORDER BY status = 'queued', id LIMIT 1`,
      )
      .get() as JobRow | undefined;
    return row && toJob(row);
  }

  markRunning(id: number): void {
    this.store.sql
      .prepare(
        `UPDATE factory_jobs SET status = 'running', started_at = COALESCE(started_at, ?) WHERE id = ?`,
      )
      .run(new Date().toISOString(), id);
  }

  setProgress(id: number, progress: TrainProgress): void {
    this.store.sql
      .prepare('UPDATE factory_jobs SET progress = ? WHERE id = ?')
      .run(JSON.stringify(progress), id);
  }

  finish(
    id: number,
    status: 'completed' | 'failed' | 'cancelled',
    fields: { result?: TrainResult; error?: string } = {},
  ): void {
    this.store.sql
      .prepare('UPDATE factory_jobs SET status = ?, finished_at = ?, result = ?, error = ? WHERE id = ?')
      .run(
        status,
        new Date().toISOString(),
        fields.result ? JSON.stringify(fields.result) : null,
        fields.error ?? null,
        id,
      );
  }

  setModelId(id: number, modelId: number): void {
    this.store.sql.prepare('UPDATE factory_jobs SET model_id = ? WHERE id = ?').run(modelId, id);
  }

  log(id: number, line: string): void {
    this.store.sql
      .prepare('INSERT INTO factory_job_logs (job_id, at, line) VALUES (?, ?, ?)')
      .run(id, new Date().toISOString(), line);
  }

  logs(id: number): { at: string; line: string }[] {
    return this.store.sql
      .prepare('SELECT at, line FROM factory_job_logs WHERE job_id = ? ORDER BY rowid')
      .all(id) as {
      at: string;
      line: string;
    }[];
  }
}

function toJob(row: JobRow): Job {
  return {
    id: row.id,
    owner: row.owner,
    status: row.status,
    spec: JSON.parse(row.spec),
    baseModelHash: row.base_model_hash,
    dataHash: row.data_hash,
    createdAt: row.created_at,
    startedAt: row.started_at,
    finishedAt: row.finished_at,
    progress: row.progress ? JSON.parse(row.progress) : null,
    result: row.result ? JSON.parse(row.result) : null,
    error: row.error,
    modelId: row.model_id,
  };
}

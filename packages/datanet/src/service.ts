import { availableParallelism } from 'node:os';
import { OpenLedgerError, type Store, sha256Hex } from '@openledger/store';
import type { Statement } from 'better-sqlite3';
import type { Anchor } from './anchor.ts';
import {
  type AcceptedRow,
  CHECK_SLICE_ROWS,
  type CheckedSubmission,
  type CheckSource,
  checkJobs,
  checkSubmission,
  computeChecksInThread,
  mergeRowChecks,
  wholeSubmission,
} from './ingest.ts';
import { LshIndex } from './lsh.ts';
import { MerkleTree, verifyProof } from './merkle.ts';
import { DATANET_MIGRATIONS } from './migrations.ts';
import { bandKeysInto, LSH_BANDS, signatureFromBytes } from './minhash.ts';
import { parseFile, type RawRow } from './parse.ts';
import { CheckPool, inThreadRun } from './pool.ts';
import type { RowCheckJob, RowChecks } from './rowchecks.ts';
import { DEFAULT_ROW_CHECKS } from './rows.ts';
import type {
  Address,
  Contribution,
  ContributionResult,
  CreateDatanetInput,
  Datanet,
  Hex32,
  ReviewDecision,
  Row,
  RowFields,
  RowProof,
  RowReport,
  RowStatus,
  UpdateDatanetInput,
  Version,
  VersionDiff,
} from './types.ts';
import {
  bad,
  checkDatanetId,
  checkName,
  checkPolicy,
  checkRowId,
  checkSchema,
  checkString,
  checkTags,
  checkVisibility,
  LIMITS,
  normalizeAddress,
} from './validate.ts';

export interface DatanetOptions {
  /** Largest accepted upload in bytes (default 5 MB = 5 × 1024 × 1024). */
  maxSubmissionBytes?: number;
  /** Row length bounds, in characters over all fields (defaults 16 and 20,000). */
  minRowChars?: number;
  maxRowChars?: number;
  /** Text chunking: pack paragraphs up to `chunkTargetChars`, never exceed `chunkMaxChars`. */
  chunkTargetChars?: number;
  chunkMaxChars?: number;
  /** Estimated Jaccard similarity of word 3-shingles at or above which a row is a near-duplicate (0.8). */
  nearDuplicateThreshold?: number;
  /** Contributions recorded on-chain per recordContributions call (500). */
  recordBatchSize?: number;
  /**
   * Worker threads computing the per-row checks of large submissions (default: available cores
   * − 1; 0 = always in the calling thread). Started on first use; `close()` stops them.
   */
  checkWorkers?: number;
  /** Submissions smaller than this many bytes are checked in the calling thread (256 KB). */
  parallelCheckBytes?: number;
}

const DEFAULTS = {
  maxSubmissionBytes: 5 * 1024 * 1024,
  minRowChars: DEFAULT_ROW_CHECKS.minChars,
  maxRowChars: DEFAULT_ROW_CHECKS.maxChars,
  chunkTargetChars: 1000,
  chunkMaxChars: 2000,
  nearDuplicateThreshold: 0.8,
  recordBatchSize: 500,
  checkWorkers: Math.max(0, availableParallelism() - 1),
  parallelCheckBytes: 256 * 1024,
};

export interface Upload {
  name: string;
  bytes: Uint8Array;
}

interface DatanetRow {
  id: number;
  owner: string;
  name: string;
  summary: string;
  description: string;
  tags: string;
  license: string;
  visibility: string;
  policy: string;
  schema: string;
  metadata_uri: string;
  metadata_hash: string;
  approved_seq: number;
  row_count: number;
  pending_count: number;
  approved_count: number;
  version_count: number;
  latest_root: string | null;
  created_at: string;
  updated_at: string;
}

interface DbRow {
  id: string;
  datanet_id: number;
  contribution_id: number;
  contributor: string;
  content_hash: string;
  content: string;
  status: string;
  reviewer: string | null;
  reason: string | null;
  reviewed_at: string | null;
  approved_seq: number | null;
  created_at: string;
  version: number | null;
}

interface DbVersion {
  datanet_id: number;
  version: number;
  root: string;
  row_count: number;
  max_seq: number;
  content_uri: string;
  manifest_blob: string;
  leaves_blob: string;
  published_by: string;
  published_at: string;
  recorded: number;
  tx_hash: string | null;
}

interface DbContribution {
  id: number;
  datanet_id: number;
  contributor: string;
  file_name: string;
  format: string;
  file_blob: string;
  file_size: number;
  rows_accepted: number;
  rows_rejected: number;
  created_at: string;
}

const now = () => new Date().toISOString();

function notFound(what: string, message: string): OpenLedgerError {
  return new OpenLedgerError(`unknown_${what}`, message, 404);
}

function forbidden(code: string, message: string): OpenLedgerError {
  return new OpenLedgerError(code, message, 403);
}

/** The 422 of a submission with no acceptable row (nothing is stored). */
function noAcceptableRows(reports: RowReport[]): OpenLedgerError {
  const byCode = new Map<string, number>();
  for (const rep of reports)
    for (const pr of rep.problems) byCode.set(pr.code, (byCode.get(pr.code) ?? 0) + 1);
  const summary = [...byCode].map(([c, n]) => `${n} ${c}`).join(', ');
  const first = reports[0]?.problems[0]?.message ?? '';
  return new OpenLedgerError(
    'no_acceptable_rows',
    `file: none of its ${reports.length} rows can be accepted (${summary}); first: ${first}`,
    422,
    { rows: reports },
  );
}

/**
 * The blob store's synchronous put, if it has one (the filesystem store does): it lets the file be
 * stored inside the rows' transaction, just before the first row is inserted.
 */
function blobPutSync(blobs: unknown): ((data: Uint8Array) => { id: string; size: number }) | null {
  const b = blobs as { putSync?: (data: Uint8Array) => { id: string; size: number } };
  return typeof b.putSync === 'function' ? b.putSync.bind(blobs) : null;
}

/** Serialises async work per key (one publish / contribution at a time per datanet). */
class KeyedLock {
  private readonly tails = new Map<string, Promise<unknown>>();
  async run<T>(key: string, fn: () => Promise<T>): Promise<T> {
    const prev = this.tails.get(key) ?? Promise.resolve();
    const next = prev.then(fn, fn);
    const tail = next.catch(() => undefined);
    this.tails.set(key, tail);
    try {
      return await next;
    } finally {
      if (this.tails.get(key) === tail) this.tails.delete(key);
    }
  }
}

function toContribution(c: DbContribution): Contribution {
  return {
    id: c.id,
    datanetId: c.datanet_id,
    contributor: c.contributor as Address,
    fileName: c.file_name,
    format: c.format as Contribution['format'],
    fileBlob: c.file_blob,
    fileSize: c.file_size,
    rowsAccepted: c.rows_accepted,
    rowsRejected: c.rows_rejected,
    createdAt: c.created_at,
  };
}

function toVersion(v: DbVersion): Version & { recorded: number; txHash: string | null } {
  return {
    datanetId: v.datanet_id,
    version: v.version,
    root: v.root as Hex32,
    rowCount: v.row_count,
    maxSeq: v.max_seq,
    contentURI: v.content_uri,
    manifestBlob: v.manifest_blob,
    publishedBy: v.published_by as Address,
    publishedAt: v.published_at,
    recorded: v.recorded,
    txHash: v.tx_hash,
  };
}

function toRow(r: DbRow): Row {
  return {
    id: r.id as Hex32,
    datanetId: r.datanet_id,
    contributionId: r.contribution_id,
    contributor: r.contributor as Address,
    contentHash: r.content_hash as Hex32,
    fields: JSON.parse(r.content) as RowFields,
    status: r.status as RowStatus,
    reviewer: r.reviewer as Address | null,
    reason: r.reason,
    reviewedAt: r.reviewed_at,
    version: r.version,
    createdAt: r.created_at,
  };
}

const ROW_COLUMNS = `r.id, r.datanet_id, r.contribution_id, r.contributor, r.content_hash, r.content, r.status,
  r.reviewer, r.reason, r.reviewed_at, r.approved_seq, r.created_at,
  (SELECT MIN(v.version) FROM versions v WHERE v.datanet_id = r.datanet_id AND v.max_seq >= r.approved_seq) AS version`;

/**
 * The datanet lifecycle over a Store and an Anchor. Every write takes the acting address (already
 * authenticated by the caller) and checks it; every read takes the reader's address (or null for
 * an anonymous reader). Errors are OpenLedgerErrors raised before anything is stored.
 */
export class Datanets {
  readonly store: Store;
  readonly anchor: Anchor;
  readonly options: typeof DEFAULTS;
  private readonly lock = new KeyedLock();
  private readonly trees = new Map<string, MerkleTree>();
  private readonly lsh = new Map<number, LshIndex>();
  private readonly pool: CheckPool;

  constructor(store: Store, anchor: Anchor, options: DatanetOptions = {}) {
    this.store = store;
    this.anchor = anchor;
    this.options = { ...DEFAULTS, ...options };
    const o = this.options;
    if (!(o.nearDuplicateThreshold > 0 && o.nearDuplicateThreshold <= 1)) {
      throw bad('nearDuplicateThreshold', 'must be in (0, 1]');
    }
    if (!(Number.isInteger(o.maxSubmissionBytes) && o.maxSubmissionBytes > 0)) {
      throw bad('maxSubmissionBytes', 'must be a positive integer');
    }
    store.migrate('datanet', DATANET_MIGRATIONS);
    this.pool = new CheckPool(o.checkWorkers);
  }

  /** Slices of rows checked by the check pool so far, and how many of them in worker threads. */
  get checkPoolStats(): { slices: number; workerSlices: number } {
    return { ...this.pool.stats };
  }

  /** Stops the check workers (the store is the caller's to close). Idle workers never keep a process alive. */
  async close(): Promise<void> {
    await this.pool.close();
  }

  private get db() {
    return this.store.sql;
  }

  private readonly statements = new Map<string, Statement>();

  /** A prepared statement, compiled once per SQL text (preparing costs more than most queries here). */
  private stmt(sql: string, mode?: 'pluck' | 'raw'): Statement {
    const key = `${mode ?? 'rows'}:${sql}`;
    let s = this.statements.get(key);
    if (!s) {
      s = this.db.prepare(sql);
      if (mode === 'pluck') s.pluck();
      if (mode === 'raw') s.raw();
      this.statements.set(key, s);
    }
    return s;
  }

  /**
   * Changes whenever anything in the database may have changed: rows written by this connection
   * (`total_changes()`) or a commit by any other connection (`data_version`). Lets callers cache
   * read results safely.
   */
  changeToken(): string {
    const [t, v] = this.stmt(
      'SELECT total_changes(), data_version FROM pragma_data_version()',
      'raw',
    ).get() as [number, number];
    return `${t}:${v}`;
  }

  // ---------------------------------------------------------------- datanets

  private datanetRow(id: number): DatanetRow {
    const d = this.stmt('SELECT * FROM datanets WHERE id = ?').get(id) as DatanetRow | undefined;
    if (!d) throw notFound('datanet', `datanetId: no datanet ${id}`);
    return d;
  }

  private isMember(id: number, addr: string | null): boolean {
    if (!addr) return false;
    return !!this.stmt('SELECT 1 FROM datanet_members WHERE datanet_id = ? AND address = ?').get(id, addr);
  }

  private isReviewer(d: DatanetRow, addr: string | null): boolean {
    if (!addr) return false;
    if (addr === d.owner) return true;
    return !!this.stmt('SELECT 1 FROM datanet_reviewers WHERE datanet_id = ? AND address = ?').get(
      d.id,
      addr,
    );
  }

  private canRead(d: DatanetRow, reader: string | null): boolean {
    if (d.visibility === 'public') return true;
    if (!reader) return false;
    return reader === d.owner || this.isMember(d.id, reader) || this.isReviewer(d, reader);
  }

  private readable(
    datanetId: unknown,
    reader: string | null | undefined,
  ): { d: DatanetRow; reader: Address | null } {
    const id = checkDatanetId(datanetId);
    const r = reader ? normalizeAddress(reader, 'reader') : null;
    const d = this.datanetRow(id);
    if (!this.canRead(d, r)) {
      throw forbidden(
        'access_denied',
        `reader: ${r ?? 'an anonymous reader'} has no access to permissioned datanet ${id}; the owner must grant it`,
      );
    }
    return { d, reader: r };
  }

  private owned(actor: string, datanetId: unknown, action: string): { d: DatanetRow; actor: Address } {
    const a = normalizeAddress(actor);
    const d = this.datanetRow(checkDatanetId(datanetId));
    if (d.owner !== a)
      throw forbidden(
        'not_owner',
        `actor: ${a} is not the owner of datanet ${d.id}; only the owner can ${action}`,
      );
    return { d, actor: a };
  }

  private toDatanet(d: DatanetRow): Datanet {
    return {
      id: d.id,
      owner: d.owner as Address,
      name: d.name,
      summary: d.summary,
      description: d.description,
      tags: JSON.parse(d.tags) as string[],
      license: d.license,
      visibility: d.visibility as Datanet['visibility'],
      policy: d.policy as Datanet['policy'],
      schema: d.schema as Datanet['schema'],
      metadataURI: d.metadata_uri,
      metadataHash: d.metadata_hash as Hex32,
      createdAt: d.created_at,
      updatedAt: d.updated_at,
      rowCount: d.row_count,
      approvedCount: d.approved_count,
      pendingCount: d.pending_count,
      versionCount: d.version_count,
      latestVersion: d.version_count > 0 ? d.version_count : null,
      latestRoot: d.latest_root as Hex32 | null,
    };
  }

  private async metadataBlob(meta: Record<string, unknown>): Promise<{ uri: string; hash: Hex32 }> {
    const info = await this.store.blobs.put(JSON.stringify(meta));
    return { uri: `openledger://blob/${info.cid}`, hash: `0x${info.id}` as Hex32 };
  }

  async create(actor: string, input: CreateDatanetInput): Promise<Datanet> {
    const owner = normalizeAddress(actor);
    if (typeof input !== 'object' || input === null) throw bad('body', 'must be an object');
    const name = checkName(input.name);
    const summary = checkString(input.summary, 'summary', LIMITS.summary).trim();
    const description = checkString(input.description, 'description', LIMITS.description);
    const tags = checkTags(input.tags);
    const license = checkString(input.license, 'license', LIMITS.license, { required: true }).trim();
    const visibility = checkVisibility(input.visibility);
    const policy = checkPolicy(input.policy);
    const schema = checkSchema(input.schema);
    const meta = { name, summary, description, tags, license, visibility, policy, schema };
    const { uri, hash } = await this.metadataBlob(meta);
    const { datanetId } = await this.anchor.createDatanet({
      owner,
      metadataURI: uri,
      metadataHash: hash,
      license,
      permissioned: visibility === 'permissioned',
      policy,
    });
    if (this.stmt('SELECT 1 FROM datanets WHERE id = ?').get(datanetId)) {
      throw new OpenLedgerError(
        'anchor_conflict',
        `anchor returned datanet id ${datanetId}, which is already used here`,
        409,
      );
    }
    const t = now();
    this.stmt(
      `INSERT INTO datanets (id, owner, name, summary, description, tags, license, visibility, policy, schema,
         metadata_uri, metadata_hash, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    ).run(
      datanetId,
      owner,
      name,
      summary,
      description,
      JSON.stringify(tags),
      license,
      visibility,
      policy,
      schema,
      uri,
      hash,
      t,
      t,
    );
    return this.toDatanet(this.datanetRow(datanetId));
  }

  /** Changes summary, description and/or tags. Never creates a version. */
  async update(actor: string, datanetId: unknown, input: UpdateDatanetInput): Promise<Datanet> {
    const { d, actor: owner } = this.owned(actor, datanetId, 'edit it');
    if (typeof input !== 'object' || input === null) throw bad('body', 'must be an object');
    const allowed = ['summary', 'description', 'tags'];
    const extra = Object.keys(input).filter((k) => !allowed.includes(k));
    if (extra.length)
      throw bad(extra[0], `cannot be changed without a new datanet; editable: ${allowed.join(', ')}`);
    const summary =
      input.summary !== undefined ? checkString(input.summary, 'summary', LIMITS.summary).trim() : d.summary;
    const description =
      input.description !== undefined
        ? checkString(input.description, 'description', LIMITS.description)
        : d.description;
    const tags = input.tags !== undefined ? checkTags(input.tags) : (JSON.parse(d.tags) as string[]);
    const meta = {
      name: d.name,
      summary,
      description,
      tags,
      license: d.license,
      visibility: d.visibility,
      policy: d.policy,
      schema: d.schema,
    };
    const { uri, hash } = await this.metadataBlob(meta);
    await this.anchor.updateMetadata({ owner, datanetId: d.id, metadataURI: uri, metadataHash: hash });
    this.stmt(
      'UPDATE datanets SET summary = ?, description = ?, tags = ?, metadata_uri = ?, metadata_hash = ?, updated_at = ? WHERE id = ?',
    ).run(summary, description, JSON.stringify(tags), uri, hash, now(), d.id);
    return this.toDatanet(this.datanetRow(d.id));
  }

  get(reader: string | null, datanetId: unknown): Datanet {
    return this.toDatanet(this.readable(datanetId, reader).d);
  }

  /** Datanets the reader can see: public ones, and permissioned ones it owns, is a member or reviewer of. */
  list(
    reader: string | null,
    opts: { limit?: number; offset?: number; owner?: string; tag?: string } = {},
  ): Datanet[] {
    const r = reader ? normalizeAddress(reader, 'reader') : null;
    const limit = Math.min(Math.max(opts.limit ?? 50, 1), 500);
    const offset = Math.max(opts.offset ?? 0, 0);
    const where: string[] = [
      `(d.visibility = 'public' OR d.owner = @r OR EXISTS (SELECT 1 FROM datanet_members m WHERE m.datanet_id = d.id AND m.address = @r)
        OR EXISTS (SELECT 1 FROM datanet_reviewers v WHERE v.datanet_id = d.id AND v.address = @r))`,
    ];
    const params: Record<string, unknown> = { r: r ?? '', limit, offset };
    if (opts.owner) {
      where.push('d.owner = @owner');
      params.owner = normalizeAddress(opts.owner, 'owner');
    }
    if (opts.tag) {
      where.push('EXISTS (SELECT 1 FROM json_each(d.tags) t WHERE t.value = @tag)');
      params.tag = opts.tag.toLowerCase();
    }
    const rows = this.stmt(
      `SELECT d.* FROM datanets d WHERE ${where.join(' AND ')} ORDER BY d.id LIMIT @limit OFFSET @offset`,
    ).all(params) as DatanetRow[];
    return rows.map((d) => this.toDatanet(d));
  }

  // ---------------------------------------------------------------- access and reviewers

  async grantAccess(actor: string, datanetId: unknown, account: string): Promise<void> {
    const { d, actor: owner } = this.owned(actor, datanetId, 'grant access');
    const a = normalizeAddress(account, 'account');
    await this.anchor.grantAccess({ owner, datanetId: d.id, account: a });
    this.stmt('INSERT OR IGNORE INTO datanet_members (datanet_id, address, added_at) VALUES (?, ?, ?)').run(
      d.id,
      a,
      now(),
    );
  }

  async revokeAccess(actor: string, datanetId: unknown, account: string): Promise<void> {
    const { d, actor: owner } = this.owned(actor, datanetId, 'revoke access');
    const a = normalizeAddress(account, 'account');
    await this.anchor.revokeAccess({ owner, datanetId: d.id, account: a });
    this.stmt('DELETE FROM datanet_members WHERE datanet_id = ? AND address = ?').run(d.id, a);
  }

  async setReviewer(actor: string, datanetId: unknown, account: string, enabled: boolean): Promise<void> {
    const { d, actor: owner } = this.owned(actor, datanetId, 'delegate review');
    const a = normalizeAddress(account, 'account');
    await this.anchor.setReviewer({ owner, datanetId: d.id, account: a, enabled: !!enabled });
    if (enabled) {
      this.stmt(
        'INSERT OR IGNORE INTO datanet_reviewers (datanet_id, address, added_at) VALUES (?, ?, ?)',
      ).run(d.id, a, now());
    } else {
      this.stmt('DELETE FROM datanet_reviewers WHERE datanet_id = ? AND address = ?').run(d.id, a);
    }
  }

  members(reader: string | null, datanetId: unknown): { members: Address[]; reviewers: Address[] } {
    const { d } = this.readable(datanetId, reader);
    const m = this.stmt(
      'SELECT address FROM datanet_members WHERE datanet_id = ? ORDER BY address',
      'pluck',
    ).all(d.id);
    const r = this.stmt(
      'SELECT address FROM datanet_reviewers WHERE datanet_id = ? ORDER BY address',
      'pluck',
    ).all(d.id);
    return { members: m as Address[], reviewers: r as Address[] };
  }

  // ---------------------------------------------------------------- contribute

  private canContribute(d: DatanetRow, a: Address): void {
    if (a === d.owner) return;
    if (d.policy === 'owner') {
      throw forbidden(
        'contribution_denied',
        `actor: datanet ${d.id} accepts contributions from its owner only`,
      );
    }
    if (d.policy === 'allowlist' && !this.isMember(d.id, a)) {
      throw forbidden('contribution_denied', `actor: ${a} is not on the allow-list of datanet ${d.id}`);
    }
    if (d.visibility === 'permissioned' && !this.canRead(d, a)) {
      throw forbidden('contribution_denied', `actor: ${a} has no access to permissioned datanet ${d.id}`);
    }
  }

  /**
   * Parses a file into rows, checks each, and stores the acceptable ones as pending rows in one
   * transaction; resolves only after it commits. If no row is acceptable it throws (422) and
   * stores nothing.
   */
  async contribute(actor: string, datanetId: unknown, upload: Upload): Promise<ContributionResult> {
    const contributor = normalizeAddress(actor);
    const d = this.datanetRow(checkDatanetId(datanetId));
    this.canContribute(d, contributor);
    if (typeof upload?.name !== 'string' || upload.name.length === 0) throw bad('file.name', 'is required');
    if (upload.name.length > LIMITS.fileName)
      throw bad('file.name', `is longer than ${LIMITS.fileName} characters`);
    if (!(upload.bytes instanceof Uint8Array)) throw bad('file', 'must be bytes');
    const schema = d.schema as Datanet['schema'];
    const o = this.options;
    const parsed = await parseFile(upload.bytes, upload.name, schema, {
      maxBytes: o.maxSubmissionBytes,
      targetChars: o.chunkTargetChars,
      maxChars: o.chunkMaxChars,
    });
    const fileHash = sha256Hex(upload.bytes);
    const refuseDuplicateFile = () => {
      const prior = this.stmt('SELECT id FROM contributions WHERE datanet_id = ? AND file_blob = ?').get(
        d.id,
        fileHash,
      ) as { id: number } | undefined;
      if (prior) {
        throw new OpenLedgerError(
          'duplicate_submission',
          `file: '${upload.name}' is identical to contribution ${prior.id} already in datanet ${d.id}`,
          409,
          { duplicateOf: prior.id },
        );
      }
    };
    // (early, so that a repeated file is refused before its rows are checked; again under the lock)
    refuseDuplicateFile();
    // The per-row checks that depend on nothing stored, in slices; for a large file the check
    // workers start on them now (no datanet state needed), while this call waits for the lock.
    const parallel =
      this.pool.size > 0 &&
      upload.bytes.length >= o.parallelCheckBytes &&
      parsed.rows.length > CHECK_SLICE_ROWS;
    const jobs = checkJobs(
      d.id,
      schema,
      contributor,
      parsed.rows,
      { minChars: o.minRowChars, maxChars: o.maxRowChars },
      CHECK_SLICE_ROWS,
      parallel ? (bytes) => this.pool.arena(bytes) : undefined,
    );
    const putSync = blobPutSync(this.store.blobs);
    if (!putSync)
      return this.contributeUnpipelined(d, contributor, upload, parsed, jobs, parallel, refuseDuplicateFile);
    const run = parallel ? this.pool.start(jobs, CHECK_SLICE_ROWS) : inThreadRun(jobs, CHECK_SLICE_ROWS);
    try {
      return await this.lock.run(`datanet:${d.id}`, async () => {
        refuseDuplicateFile();
        let lsh: LshIndex | undefined;
        const rowids = new Float64Array(parsed.rows.length);
        // A large submission's commit leaves the WAL checkpoint to a check worker (see
        // CheckPool.checkpoint): this connection's autocheckpoint is off for this one commit only.
        const autocheckpoint = parallel && this.pool.canCheckpoint ? this.walAutocheckpoint() : 0;
        if (autocheckpoint > 0) this.db.pragma('wal_autocheckpoint = 0');
        let written: { cid: number; checked: CheckedSubmission };
        try {
          // One transaction: rows are decided in order as their slices' checks arrive and inserted
          // right away, while workers compute later slices; nothing is visible until the commit.
          // The file is kept as a blob (atomic, fsynced) before the first row is inserted, so a
          // crash leaves at most an unreferenced blob; with no acceptable row nothing is written.
          written = this.store.transaction(() => {
            // rows other processes committed since, so that after our commit the index can take
            // this submission's rows straight from memory (their rowids follow all of these)
            lsh = this.lshFor(d.id);
            const t = now();
            let cid = 0;
            const checked = this.checkRows(d, parsed.rows, run, (accepted, from) => {
              if (accepted.length === from) return;
              if (cid === 0) {
                const blob = putSync(upload.bytes);
                cid = this.insertContribution(d, contributor, upload, parsed.format, blob, 0, 0, t);
              }
              this.insertRows(d, contributor, cid, accepted, from, rowids, t);
            });
            if (cid === 0) throw noAcceptableRows(checked.reports);
            const n = checked.accepted.length;
            this.stmt('UPDATE contributions SET rows_accepted = ?, rows_rejected = ? WHERE id = ?').run(
              n,
              checked.reports.length - n,
              cid,
            );
            this.stmt(
              'UPDATE datanets SET row_count = row_count + ?, pending_count = pending_count + ? WHERE id = ?',
            ).run(n, n, d.id);
            return { cid, checked };
          });
        } finally {
          if (autocheckpoint > 0) this.db.pragma(`wal_autocheckpoint = ${autocheckpoint}`);
        }
        if (autocheckpoint > 0) this.pool.checkpoint(this.db.name);
        this.indexCommitted(d.id, lsh, written.checked, rowids);
        const c = this.stmt('SELECT * FROM contributions WHERE id = ?').get(written.cid) as DbContribution;
        return { contribution: toContribution(c), rows: written.checked.reports };
      });
    } finally {
      run.close();
      this.pool.release(jobs);
    }
  }

  /**
   * The same for a blob store without a synchronous put (the file must be stored before the rows'
   * transaction, and only if a row is acceptable): checks first, decisions in a read transaction,
   * then the blob, then the rows in one transaction.
   */
  private async contributeUnpipelined(
    d: DatanetRow,
    contributor: Address,
    upload: Upload,
    parsed: { rows: RawRow[]; format: string },
    jobs: RowCheckJob[],
    parallel: boolean,
    refuseDuplicateFile: () => void,
  ): Promise<ContributionResult> {
    let rowChecks: RowChecks;
    try {
      rowChecks = parallel ? mergeRowChecks(await this.pool.runAll(jobs)) : computeChecksInThread(jobs);
    } finally {
      this.pool.release(jobs);
    }
    return this.lock.run(`datanet:${d.id}`, async () => {
      refuseDuplicateFile();
      // decisions in row order, in one read transaction: a consistent snapshot
      const checked = this.store.transaction(() =>
        this.checkRows(d, parsed.rows, wholeSubmission(rowChecks)),
      );
      if (checked.accepted.length === 0) throw noAcceptableRows(checked.reports);
      const blob = await this.store.blobs.put(upload.bytes);
      const rowids = new Float64Array(checked.accepted.length);
      let lsh: LshIndex | undefined;
      const cid = this.store.transaction(() => {
        lsh = this.lshFor(d.id);
        const t = now();
        const n = checked.accepted.length;
        const id = this.insertContribution(
          d,
          contributor,
          upload,
          parsed.format,
          blob,
          n,
          checked.reports.length - n,
          t,
        );
        this.insertRows(d, contributor, id, checked.accepted, 0, rowids, t);
        this.stmt(
          'UPDATE datanets SET row_count = row_count + ?, pending_count = pending_count + ? WHERE id = ?',
        ).run(n, n, d.id);
        return id;
      });
      this.indexCommitted(d.id, lsh, checked, rowids);
      const c = this.stmt('SELECT * FROM contributions WHERE id = ?').get(cid) as DbContribution;
      return { contribution: toContribution(c), rows: checked.reports };
    });
  }

  private insertContribution(
    d: DatanetRow,
    contributor: Address,
    upload: Upload,
    format: string,
    blob: { id: string; size: number },
    accepted: number,
    rejected: number,
    t: string,
  ): number {
    const info = this.stmt(
      `INSERT INTO contributions (datanet_id, contributor, file_name, format, file_blob, file_size, rows_accepted,
       rows_rejected, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    ).run(d.id, contributor, upload.name, format, blob.id, blob.size, accepted, rejected, t);
    return Number(info.lastInsertRowid);
  }

  /**
   * Inserts accepted[from..]; their SQLite rowids go to rowids[from..]. Each row's canonical text
   * is let go once inserted (nothing reads it after), so a large submission's rows do not all
   * stay alive, and get copied by the garbage collector, until its commit.
   */
  private insertRows(
    d: DatanetRow,
    contributor: Address,
    cid: number,
    accepted: AcceptedRow[],
    from: number,
    rowids: Float64Array,
    t: string,
  ): void {
    const insertRow = this.stmt(
      `INSERT INTO rows (id, datanet_id, contribution_id, contributor, content_hash, content, leaf, signature, created_at)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    );
    for (let i = from; i < accepted.length; i++) {
      const p = accepted[i];
      const r = insertRow.run(
        p.rowId,
        d.id,
        cid,
        contributor,
        p.contentHash,
        p.canonical,
        p.leaf,
        p.signature,
        t,
      );
      rowids[i] = Number(r.lastInsertRowid);
      p.canonical = '';
    }
  }

  /**
   * After the commit: the new rows go into the datanet's index from the band keys already
   * computed, instead of reading their signatures back; only if the index is the one caught up
   * inside the transaction.
   */
  private indexCommitted(
    datanetId: number,
    lsh: LshIndex | undefined,
    checked: CheckedSubmission,
    rowids: Float64Array,
  ): void {
    if (!lsh || this.lsh.get(datanetId) !== lsh) return;
    const { accepted, bands } = checked;
    lsh.reserve(accepted.length * LSH_BANDS);
    for (let i = 0; i < accepted.length; i++) {
      lsh.ids.add(accepted[i].rowId);
      const slot = accepted[i].slot;
      if (slot >= 0) for (let b = 0; b < LSH_BANDS; b++) lsh.add(bands[slot * LSH_BANDS + b], rowids[i]);
      if (rowids[i] > lsh.lastRowid) lsh.lastRowid = rowids[i];
    }
  }

  private walMode: boolean | undefined;

  /** This connection's WAL autocheckpoint threshold in pages; 0 if off or not in WAL mode (file databases only). */
  private walAutocheckpoint(): number {
    if (this.walMode === undefined) {
      this.walMode = !this.db.memory && this.db.pragma('journal_mode', { simple: true }) === 'wal';
    }
    return this.walMode ? Number(this.db.pragma('wal_autocheckpoint', { simple: true })) : 0;
  }

  private checkRows(
    d: DatanetRow,
    raw: RawRow[],
    source: CheckSource,
    afterSlice?: (accepted: AcceptedRow[], from: number) => void,
  ): CheckedSubmission {
    const o = this.options;
    const exists = this.stmt('SELECT 1 FROM rows WHERE id = ?', 'pluck');
    const byRef = this.stmt('SELECT id, signature FROM rows WHERE rowid = ?', 'raw');
    const lsh = this.lshFor(d.id);
    return checkSubmission(
      d.id,
      d.schema as Datanet['schema'],
      raw,
      source,
      {
        // (SQLite decides; the datanet's id filter only spares it the rows it has never seen)
        exists: (rowId) => lsh.ids.mayContain(rowId) && exists.get(rowId) !== undefined,
        lsh,
        signatureOf: (rowid) => {
          const rec = byRef.get(rowid) as [Hex32, Buffer | null] | undefined;
          return rec?.[1] ? [rec[0], signatureFromBytes(rec[1])] : null;
        },
      },
      {
        minChars: o.minRowChars,
        maxChars: o.maxRowChars,
        nearDuplicateThreshold: o.nearDuplicateThreshold,
      },
      afterSlice,
    );
  }

  /** The datanet's LSH index, brought up to date with rows committed since (by any process). */
  private lshFor(datanetId: number): LshIndex {
    let idx = this.lsh.get(datanetId);
    if (!idx) {
      idx = new LshIndex();
      this.lsh.set(datanetId, idx);
    }
    const stmt = this.stmt(
      'SELECT rowid, id, signature FROM rows WHERE datanet_id = ? AND rowid > ? ORDER BY rowid LIMIT 10000',
      'raw',
    );
    for (;;) {
      const page = stmt.all(datanetId, idx.lastRowid) as [number, string, Buffer | null][];
      if (page.length === 0) break;
      const keys = new Float64Array(LSH_BANDS);
      for (const [rowid, id, sig] of page) {
        idx.ids.add(id);
        if (sig) {
          bandKeysInto(signatureFromBytes(sig), 0, keys);
          for (let b = 0; b < LSH_BANDS; b++) idx.add(keys[b], rowid);
        }
        idx.lastRowid = rowid;
      }
    }
    return idx;
  }

  contributions(
    reader: string | null,
    datanetId: unknown,
    opts: { limit?: number; offset?: number } = {},
  ): Contribution[] {
    const { d } = this.readable(datanetId, reader);
    const rows = this.stmt(
      'SELECT * FROM contributions WHERE datanet_id = ? ORDER BY id LIMIT ? OFFSET ?',
    ).all(
      d.id,
      Math.min(Math.max(opts.limit ?? 100, 1), 1000),
      Math.max(opts.offset ?? 0, 0),
    ) as DbContribution[];
    return rows.map(toContribution);
  }

  // ---------------------------------------------------------------- rows

  /**
   * Rows of a datanet. Owner and reviewers see every status; other readers see approved rows and
   * their own contributions' rows.
   */
  rows(
    reader: string | null,
    datanetId: unknown,
    opts: { status?: RowStatus; contributionId?: number; limit?: number; offset?: number } = {},
  ): Row[] {
    const { d, reader: r } = this.readable(datanetId, reader);
    const where = ['r.datanet_id = @id'];
    const params: Record<string, unknown> = {
      id: d.id,
      limit: Math.min(Math.max(opts.limit ?? 100, 1), 10_000),
      offset: Math.max(opts.offset ?? 0, 0),
    };
    if (opts.status) {
      if (!['pending', 'approved', 'rejected'].includes(opts.status)) {
        throw bad('status', 'must be one of pending, approved, rejected');
      }
      where.push('r.status = @status');
      params.status = opts.status;
    }
    if (opts.contributionId !== undefined) {
      where.push('r.contribution_id = @cid');
      params.cid = opts.contributionId;
    }
    if (!this.isReviewer(d, r)) {
      where.push(`(r.status = 'approved' OR r.contributor = @me)`);
      params.me = r ?? '';
    }
    const rows = this.stmt(
      `SELECT ${ROW_COLUMNS} FROM rows r WHERE ${where.join(' AND ')} ORDER BY r.rowid LIMIT @limit OFFSET @offset`,
    ).all(params) as DbRow[];
    return rows.map(toRow);
  }

  row(reader: string | null, datanetId: unknown, rowId: unknown): Row {
    const { d, reader: r } = this.readable(datanetId, reader);
    const id = checkRowId(rowId);
    const row = this.stmt(`SELECT ${ROW_COLUMNS} FROM rows r WHERE r.id = ? AND r.datanet_id = ?`).get(
      id,
      d.id,
    ) as DbRow | undefined;
    if (!row || (row.status !== 'approved' && !this.isReviewer(d, r) && row.contributor !== r)) {
      throw notFound('row', `rowId: no row ${id} in datanet ${d.id}`);
    }
    return toRow(row);
  }

  /** The datanet a row id belongs to (row ids are unique across datanets); 404 when unknown. */
  datanetOfRow(rowId: unknown): number {
    const id = checkRowId(rowId);
    const n = this.stmt('SELECT datanet_id FROM rows WHERE id = ?', 'pluck').get(id) as number | undefined;
    if (n === undefined) throw notFound('row', `rowId: no row ${id}`);
    return n;
  }

  // ---------------------------------------------------------------- review

  /** Approves or rejects pending rows, all or nothing. Only the owner and delegated reviewers may. */
  review(
    actor: string,
    datanetId: unknown,
    decisions: ReviewDecision[],
  ): { approved: number; rejected: number } {
    const a = normalizeAddress(actor);
    const d = this.datanetRow(checkDatanetId(datanetId));
    if (!this.isReviewer(d, a)) {
      throw forbidden('not_reviewer', `actor: ${a} is neither the owner nor a reviewer of datanet ${d.id}`);
    }
    if (!Array.isArray(decisions) || decisions.length === 0)
      throw bad('decisions', 'must be a non-empty array');
    if (decisions.length > LIMITS.batch) {
      throw bad('decisions', `has ${decisions.length} entries, the limit per batch is ${LIMITS.batch}`);
    }
    const get = this.stmt('SELECT status FROM rows WHERE id = ? AND datanet_id = ?', 'pluck');
    const seen = new Set<string>();
    const checked: { id: string; approve: boolean; reason: string | null }[] = [];
    decisions.forEach((dec, i) => {
      const id = checkRowId(dec?.rowId, `decisions[${i}].rowId`);
      if (dec.decision !== 'approve' && dec.decision !== 'reject') {
        throw bad(`decisions[${i}].decision`, "must be 'approve' or 'reject'");
      }
      const reason = checkString(dec.reason, `decisions[${i}].reason`, LIMITS.reason).trim();
      if (dec.decision === 'reject' && !reason)
        throw bad(`decisions[${i}].reason`, 'is required when rejecting');
      if (seen.has(id)) throw bad(`decisions[${i}].rowId`, `${id} appears twice in the batch`);
      seen.add(id);
      const status = get.get(id, d.id) as string | undefined;
      if (!status) throw notFound('row', `decisions[${i}].rowId: no row ${id} in datanet ${d.id}`);
      if (status !== 'pending') {
        throw new OpenLedgerError(
          'already_reviewed',
          `decisions[${i}].rowId: row ${id} is already ${status}`,
          409,
        );
      }
      checked.push({ id, approve: dec.decision === 'approve', reason: reason || null });
    });
    const t = now();
    const approve = this.stmt(
      `UPDATE rows SET status = 'approved', reviewer = ?, reason = ?, reviewed_at = ?, approved_seq = ? WHERE id = ? AND status = 'pending'`,
    );
    const reject = this.stmt(
      `UPDATE rows SET status = 'rejected', reviewer = ?, reason = ?, reviewed_at = ? WHERE id = ? AND status = 'pending'`,
    );
    return this.store.transaction(() => {
      let seq =
        (this.stmt('SELECT approved_seq FROM datanets WHERE id = ?', 'pluck').get(d.id) as number) ?? 0;
      let approved = 0;
      let rejected = 0;
      for (const c of checked) {
        // re-checked inside the transaction: another process may have reviewed the row meanwhile
        const changed = c.approve
          ? approve.run(a, c.reason, t, ++seq, c.id).changes
          : reject.run(a, c.reason, t, c.id).changes;
        if (changed !== 1) {
          throw new OpenLedgerError('already_reviewed', `rowId: row ${c.id} was reviewed concurrently`, 409);
        }
        if (c.approve) approved++;
        else rejected++;
      }
      this.stmt(
        'UPDATE datanets SET approved_seq = ?, approved_count = approved_count + ?, pending_count = pending_count - ? WHERE id = ?',
      ).run(seq, approved, approved + rejected, d.id);
      return { approved, rejected };
    });
  }

  /** Ids of pending rows (for batch review), oldest first. */
  pending(
    actor: string,
    datanetId: unknown,
    opts: { contributionId?: number; limit?: number } = {},
  ): Hex32[] {
    const a = normalizeAddress(actor);
    const d = this.datanetRow(checkDatanetId(datanetId));
    if (!this.isReviewer(d, a)) {
      throw forbidden('not_reviewer', `actor: ${a} is neither the owner nor a reviewer of datanet ${d.id}`);
    }
    const limit = Math.min(Math.max(opts.limit ?? LIMITS.batch, 1), LIMITS.batch);
    const sql =
      opts.contributionId !== undefined
        ? `SELECT id FROM rows WHERE datanet_id = ? AND status = 'pending' AND contribution_id = ? ORDER BY rowid LIMIT ?`
        : `SELECT id FROM rows WHERE datanet_id = ? AND status = 'pending' ORDER BY rowid LIMIT ?`;
    const args = opts.contributionId !== undefined ? [d.id, opts.contributionId, limit] : [d.id, limit];
    return this.stmt(sql, 'pluck').all(...args) as Hex32[];
  }

  // ---------------------------------------------------------------- versions

  private versionRow(d: DatanetRow, version: unknown): DbVersion {
    const n = typeof version === 'string' && /^\d+$/.test(version) ? Number(version) : version;
    if (typeof n !== 'number' || !Number.isSafeInteger(n) || n < 1)
      throw bad('version', 'must be a positive integer');
    const v = this.stmt('SELECT * FROM versions WHERE datanet_id = ? AND version = ?').get(d.id, n) as
      | DbVersion
      | undefined;
    if (!v) throw notFound('version', `version: datanet ${d.id} has no version ${n}`);
    return v;
  }

  private latestVersion(d: DatanetRow): DbVersion | undefined {
    return this.stmt('SELECT * FROM versions WHERE datanet_id = ? ORDER BY version DESC LIMIT 1').get(d.id) as
      | DbVersion
      | undefined;
  }

  /**
   * Publishes a version holding every row approved so far: Merkle root over the rows, anchored
   * with `publishVersion`, then the new rows' contributions recorded with `recordContributions`.
   */
  async publish(
    actor: string,
    datanetId: unknown,
  ): Promise<Version & { recorded: number; txHash: string | null }> {
    const { d: d0, actor: owner } = this.owned(actor, datanetId, 'publish a version');
    return this.lock.run(`datanet:${d0.id}`, async () => {
      const d = this.datanetRow(d0.id);
      const last = this.latestVersion(d);
      const maxSeq = d.approved_seq;
      if (maxSeq === 0) {
        throw new OpenLedgerError(
          'nothing_to_publish',
          `datanet ${d.id} has no approved rows to publish`,
          422,
        );
      }
      if (last && last.max_seq === maxSeq) {
        throw new OpenLedgerError(
          'nothing_to_publish',
          `datanet ${d.id}: no rows approved since version ${last.version}`,
          409,
        );
      }
      const leafRows = this.stmt(
        'SELECT leaf FROM rows WHERE datanet_id = ? AND approved_seq IS NOT NULL AND approved_seq <= ?',
        'pluck',
      ).all(d.id, maxSeq) as Buffer[];
      const packed = Buffer.allocUnsafe(leafRows.length * 32);
      leafRows.forEach((l, i) => {
        l.copy(packed, i * 32);
      });
      const tree = MerkleTree.fromLeaves(packed);
      const sortedLeaves = tree.nodes.subarray((tree.n - 1) * 32);
      // nodes hold leaf k at index 2n-2-k: reverse to ascending order for storage
      const ascending = Buffer.allocUnsafe(tree.n * 32);
      for (let k = 0; k < tree.n; k++)
        ascending.set(sortedLeaves.subarray((tree.n - 1 - k) * 32, (tree.n - k) * 32), k * 32);
      const leavesBlob = await this.store.blobs.put(ascending);
      const expected = (last?.version ?? 0) + 1;
      const manifest = {
        kind: 'openledger.datanet.version',
        datanetId: d.id,
        version: expected,
        root: tree.root,
        rowCount: tree.n,
        maxSeq,
        previous: last ? { version: last.version, root: last.root } : null,
        leaves: `openledger://blob/${leavesBlob.cid}`,
        leafEncoding:
          'keccak256(bytes.concat(keccak256(abi.encode(bytes32 rowId, bytes32 contentHash, address contributor))))',
      };
      const manifestBlob = await this.store.blobs.put(JSON.stringify(manifest));
      const contentURI = `openledger://blob/${manifestBlob.cid}`;
      const res = await this.anchor.publishVersion({
        owner,
        datanetId: d.id,
        root: tree.root,
        rowCount: tree.n,
        contentURI,
      });
      if (res.version !== expected) {
        throw new OpenLedgerError(
          'anchor_conflict',
          `anchor recorded version ${res.version} for datanet ${d.id}, expected ${expected}`,
          409,
        );
      }
      this.store.transaction(() => {
        this.stmt(
          `INSERT INTO versions (datanet_id, version, root, row_count, max_seq, content_uri, manifest_blob, leaves_blob,
           published_by, published_at, tx_hash) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
        ).run(
          d.id,
          expected,
          tree.root,
          tree.n,
          maxSeq,
          contentURI,
          manifestBlob.id,
          leavesBlob.id,
          owner,
          now(),
          res.txHash ?? null,
        );
        this.stmt('UPDATE datanets SET version_count = ?, latest_root = ? WHERE id = ?').run(
          expected,
          tree.root,
          d.id,
        );
      });
      this.cacheTree(`${d.id}:${expected}`, tree);
      await this.recordPending(owner, d, expected, last?.max_seq ?? 0, maxSeq);
      return toVersion(this.versionRow(d, expected));
    });
  }

  private async recordPending(
    owner: Address,
    d: DatanetRow,
    version: number,
    fromSeq: number,
    toSeq: number,
  ) {
    const v = this.versionRow(d, version);
    const batch = this.options.recordBatchSize;
    // Approval sequence numbers are dense (each approval takes the next one, rows are never
    // removed), so the rows after the first `done` are those with seq > fromSeq + done: a keyset
    // page instead of OFFSET, which re-reads every skipped row and made publishing quadratic.
    const stmt = this.stmt(
      `SELECT contributor, content_hash FROM rows WHERE datanet_id = ? AND approved_seq > ? AND approved_seq <= ?
       ORDER BY approved_seq LIMIT ?`,
    );
    let done = v.recorded;
    const total = toSeq - fromSeq;
    while (done < total) {
      const chunk = (
        stmt.all(d.id, fromSeq + done, toSeq, batch) as { contributor: Address; content_hash: Hex32 }[]
      ).map((r) => ({ contributor: r.contributor, contentHash: r.content_hash }));
      if (chunk.length === 0) break;
      await this.anchor.recordContributions({ owner, datanetId: d.id, version, contributions: chunk });
      done += chunk.length;
      this.stmt('UPDATE versions SET recorded = ? WHERE datanet_id = ? AND version = ?').run(
        done,
        d.id,
        version,
      );
    }
  }

  /** Re-sends contributions of a version whose recording was interrupted (e.g. the chain was down). */
  async resumeRecording(
    actor: string,
    datanetId: unknown,
    version: unknown,
  ): Promise<Version & { recorded: number }> {
    const { d, actor: owner } = this.owned(actor, datanetId, 'record contributions');
    const v = this.versionRow(d, version);
    const prev = this.stmt('SELECT max_seq FROM versions WHERE datanet_id = ? AND version = ?', 'pluck').get(
      d.id,
      v.version - 1,
    ) as number | undefined;
    await this.recordPending(owner, d, v.version, prev ?? 0, v.max_seq);
    return toVersion(this.versionRow(d, v.version));
  }

  versions(
    reader: string | null,
    datanetId: unknown,
  ): (Version & { recorded: number; txHash: string | null })[] {
    const { d } = this.readable(datanetId, reader);
    return (
      this.stmt('SELECT * FROM versions WHERE datanet_id = ? ORDER BY version').all(d.id) as DbVersion[]
    ).map(toVersion);
  }

  version(
    reader: string | null,
    datanetId: unknown,
    version: unknown,
  ): Version & { recorded: number; txHash: string | null } {
    const { d } = this.readable(datanetId, reader);
    return toVersion(this.versionRow(d, version));
  }

  /** Rows added and removed between two versions (versions only grow, so `removed` is 0 going forward). */
  diff(
    reader: string | null,
    datanetId: unknown,
    from: unknown,
    to: unknown,
    opts: { limit?: number } = {},
  ): VersionDiff {
    const { d } = this.readable(datanetId, reader);
    const empty = (x: unknown) => x === 0 || x === '0';
    const a = empty(from) ? ({ version: 0, max_seq: 0 } as DbVersion) : this.versionRow(d, from);
    const b = empty(to) ? ({ version: 0, max_seq: 0 } as DbVersion) : this.versionRow(d, to);
    const lo = Math.min(a.max_seq, b.max_seq);
    const hi = Math.max(a.max_seq, b.max_seq);
    const count = this.stmt(
      'SELECT COUNT(*) FROM rows WHERE datanet_id = ? AND approved_seq > ? AND approved_seq <= ?',
      'pluck',
    ).get(d.id, lo, hi) as number;
    const rows = this.stmt(
      `SELECT id, contributor, content_hash FROM rows WHERE datanet_id = ? AND approved_seq > ? AND approved_seq <= ?
         ORDER BY approved_seq LIMIT ?`,
    ).all(d.id, lo, hi, Math.min(Math.max(opts.limit ?? 1000, 0), 100_000)) as {
      id: Hex32;
      contributor: Address;
      content_hash: Hex32;
    }[];
    const forward = b.max_seq >= a.max_seq;
    return {
      datanetId: d.id,
      from: a.version,
      to: b.version,
      added: forward ? count : 0,
      removed: forward ? 0 : count,
      addedRows: forward
        ? rows.map((r) => ({ id: r.id, contributor: r.contributor, contentHash: r.content_hash }))
        : [],
    };
  }

  /** A version as JSONL training records `{id, contributor, ...fields}`, one line at a time (with "\n"). */
  *exportLines(reader: string | null, datanetId: unknown, version?: unknown): Generator<string> {
    const { d } = this.readable(datanetId, reader);
    const v = version === undefined ? this.latestVersion(d) : this.versionRow(d, version);
    if (!v) throw notFound('version', `version: datanet ${d.id} has no published version`);
    // keyset pages rather than one open cursor, so writers are never blocked by a slow reader
    const stmt = this.stmt(
      `SELECT id, contributor, content, approved_seq FROM rows WHERE datanet_id = ? AND approved_seq > ? AND approved_seq <= ?
         ORDER BY approved_seq LIMIT 2000`,
      'raw',
    );
    let after = 0;
    for (;;) {
      const page = stmt.all(d.id, after, v.max_seq) as [string, string, string, number][];
      if (page.length === 0) return;
      for (const [id, contributor, content] of page) {
        yield `{"id":"${id}","contributor":"${contributor}",${content.slice(1)}\n`;
      }
      after = page[page.length - 1][3];
    }
  }

  /** Checks access and resolves the version before streaming (so errors surface before output starts). */
  exportVersion(
    reader: string | null,
    datanetId: unknown,
    version?: unknown,
  ): { version: Version; lines: Iterable<string> } {
    const { d } = this.readable(datanetId, reader);
    const v = version === undefined ? this.latestVersion(d) : this.versionRow(d, version);
    if (!v) throw notFound('version', `version: datanet ${d.id} has no published version`);
    return { version: toVersion(v), lines: this.exportLines(reader, d.id, v.version) };
  }

  // ---------------------------------------------------------------- proofs

  private cacheTree(key: string, tree: MerkleTree): void {
    this.trees.delete(key);
    this.trees.set(key, tree);
    while (this.trees.size > 4) this.trees.delete(this.trees.keys().next().value as string);
  }

  private async treeFor(v: DbVersion): Promise<MerkleTree> {
    const key = `${v.datanet_id}:${v.version}`;
    const hit = this.trees.get(key);
    if (hit) return hit;
    const leaves = await this.store.blobs.get(v.leaves_blob);
    if (!leaves)
      throw new OpenLedgerError(
        'missing_blob',
        `leaves of datanet ${v.datanet_id} version ${v.version} are missing`,
        500,
      );
    const tree = MerkleTree.fromLeaves(leaves, { sorted: true });
    if (tree.root !== v.root) {
      throw new OpenLedgerError(
        'corrupt_version',
        `leaves of datanet ${v.datanet_id} version ${v.version} do not match its root`,
        500,
      );
    }
    this.cacheTree(key, tree);
    return tree;
  }

  /** Merkle proof of an approved row against a version's root (the latest version holding it by default). */
  async prove(
    reader: string | null,
    datanetId: unknown,
    rowId: unknown,
    version?: unknown,
  ): Promise<RowProof & { onchainRoot?: Hex32 | null }> {
    const { d } = this.readable(datanetId, reader);
    const id = checkRowId(rowId);
    const row = this.stmt(
      'SELECT id, contributor, content_hash, leaf, approved_seq FROM rows WHERE id = ? AND datanet_id = ?',
    ).get(id, d.id) as
      | { id: Hex32; contributor: Address; content_hash: Hex32; leaf: Buffer; approved_seq: number | null }
      | undefined;
    if (!row || row.approved_seq === null) {
      throw notFound('row', `rowId: no approved row ${id} in datanet ${d.id}`);
    }
    const v = version === undefined ? this.latestVersion(d) : this.versionRow(d, version);
    if (!v) throw notFound('version', `version: datanet ${d.id} has no published version`);
    if (row.approved_seq > v.max_seq) {
      throw notFound(
        'row',
        `rowId: row ${id} is not in version ${v.version} of datanet ${d.id} (published later)`,
      );
    }
    const tree = await this.treeFor(v);
    const leaf = `0x${row.leaf.toString('hex')}` as Hex32;
    const k = tree.indexOf(leaf);
    if (k < 0)
      throw new OpenLedgerError(
        'corrupt_version',
        `row ${id} is missing from the tree of version ${v.version}`,
        500,
      );
    const out: RowProof & { onchainRoot?: Hex32 | null } = {
      datanetId: d.id,
      version: v.version,
      root: v.root as Hex32,
      rowId: row.id,
      contentHash: row.content_hash,
      contributor: row.contributor,
      leaf,
      proof: tree.proof(k),
    };
    if (this.anchor.getVersion)
      out.onchainRoot = (await this.anchor.getVersion(d.id, v.version))?.root ?? null;
    if (!verifyProof(out.root, leaf, out.proof)) {
      throw new OpenLedgerError('corrupt_version', `proof for row ${id} does not verify`, 500);
    }
    return out;
  }
}

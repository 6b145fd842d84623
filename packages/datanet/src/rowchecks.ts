// The part of a row's checks that depends on nothing stored: schema/encoding/length checks,
// normalisation, canonical JSON, content hash, row id, Merkle leaf, MinHash signature and band
// keys. Pure and deterministic, so it runs on any thread: the check pool's workers compute it for
// slices of a submission while the main thread computes other slices (see pool.ts); the decisions
// that need the datanet and earlier rows (exact and near duplicates) stay in ingest.ts, in order.
import { hash } from 'node:crypto';
import { rowLeafFromHexInto } from './merkle.ts';
import { bandKeysInto, LSH_BANDS, MINHASH_PERMUTATIONS, minhashInto } from './minhash.ts';
import { checkRecord, isProblem, type RowCheckOptions, RowIdHasher } from './rows.ts';
import { SCHEMA_FIELDS, type Schema } from './types.ts';

/** A slice of a submission's rows to check (structured-cloneable: it crosses to workers). */
export interface RowCheckJob {
  datanetId: number;
  schema: Schema;
  /** The contributor's address without 0x (40 hex digits), for the leaves. */
  contributorHex: string;
  opts: RowCheckOptions;
  /** Parsed records; null for rows the parser already refused (they are skipped). */
  records?: (Record<string, unknown> | null)[];
  /**
   * The same rows packed for a worker (see `packRecords`): their field values sit in a shared
   * buffer, so only small typed arrays cross to the worker instead of an object and a string copy
   * per row.
   */
  packed?: PackedRecords;
}

/** A slice's records as `packRecords` packs them. */
export interface PackedRecords {
  /** Per row: ROW_SKIPPED (0), PACKED_ASCII, PACKED_UTF16 or OTHER (its record is in `others`). */
  kinds: Uint8Array;
  /** The field values of the submission's packed rows (a view of a SharedArrayBuffer, shared with workers). */
  bytes: Uint8Array;
  /** Byte offset in `bytes` where this slice's first packed field starts. */
  start: number;
  /** Byte offset in `bytes` where each packed field ends (packed rows × schema fields, schema order). */
  ends: Int32Array;
  /** Records of the rows of kind OTHER, in row order. */
  others: Record<string, unknown>[];
}

/** A record whose keys are exactly the schema's fields, all ASCII strings: Latin-1 bytes, one a character. */
const PACKED_ASCII = 1;
const OTHER = 2;
/** The same with a non-ASCII value: UTF-16LE code units (lossless, lone surrogates included). */
const PACKED_UTF16 = 3;

function packKind(fields: readonly string[], r: Record<string, unknown> | null): number {
  if (!r) return 0;
  if (Object.keys(r).length !== fields.length) return OTHER;
  let kind = PACKED_ASCII;
  for (const f of fields) {
    const v = r[f];
    if (typeof v !== 'string') return OTHER;
    if (kind === PACKED_ASCII && Buffer.byteLength(v, 'utf8') !== v.length) kind = PACKED_UTF16;
  }
  return kind;
}

/**
 * Packs the records of a submission's slices for the workers: a record whose keys are exactly the
 * schema's fields, all strings (every row of a text file, and every well-formed JSONL/CSV record),
 * goes in as its field values, written into one buffer from `alloc` (the pool reuses them: a fresh
 * multi-megabyte allocation costs more in page faults than the copy); any other record (its check
 * reports a problem) is sent as it is.
 */
export function packRecords(
  schema: Schema,
  slices: readonly (readonly (Record<string, unknown> | null)[])[],
  alloc: (bytes: number) => Uint8Array,
): PackedRecords[] {
  const fields = SCHEMA_FIELDS[schema];
  const kinds = slices.map((records) => Uint8Array.from(records, (r) => packKind(fields, r)));
  let total = 0;
  slices.forEach((records, k) => {
    for (let i = 0; i < records.length; i++) {
      const kind = kinds[k][i];
      if (kind !== PACKED_ASCII && kind !== PACKED_UTF16) continue;
      for (const f of fields)
        total += (records[i] as Record<string, string>)[f].length * (kind === PACKED_ASCII ? 1 : 2);
    }
  });
  const bytes = alloc(total);
  const buf = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length);
  let at = 0;
  return slices.map((records, k) => {
    const start = at;
    const ends: number[] = [];
    const others: Record<string, unknown>[] = [];
    for (let i = 0; i < records.length; i++) {
      const kind = kinds[k][i];
      if (kind === OTHER) others.push(records[i] as Record<string, unknown>);
      if (kind !== PACKED_ASCII && kind !== PACKED_UTF16) continue;
      const r = records[i] as Record<string, string>;
      for (const f of fields) {
        at += buf.write(r[f], at, kind === PACKED_ASCII ? 'latin1' : 'utf16le');
        ends.push(at);
      }
    }
    return { kinds: kinds[k], bytes, start, ends: Int32Array.from(ends), others };
  });
}

/** The records of a job (unpacked if it was packed). */
function recordsOf(job: RowCheckJob): (Record<string, unknown> | null)[] {
  if (job.records) return job.records;
  const p = job.packed;
  if (!p) throw new Error('row check job without records');
  const fields = SCHEMA_FIELDS[job.schema];
  const buf = Buffer.from(p.bytes.buffer, p.bytes.byteOffset, p.bytes.length);
  const out = new Array<Record<string, unknown> | null>(p.kinds.length).fill(null);
  let e = 0;
  let o = 0;
  let at = p.start;
  for (let i = 0; i < p.kinds.length; i++) {
    const kind = p.kinds[i];
    if (kind === OTHER) out[i] = p.others[o++];
    else if (kind === PACKED_ASCII || kind === PACKED_UTF16) {
      const r: Record<string, unknown> = {};
      for (const f of fields) {
        const end = p.ends[e++];
        r[f] = buf.toString(kind === PACKED_ASCII ? 'latin1' : 'utf16le', at, end);
        at = end;
      }
      out[i] = r;
    }
  }
  return out;
}

/** Row states in `RowChecks.status`. */
export const ROW_SKIPPED = 0;
/** checkRecord found a problem (the caller re-runs it to get the message, which names the source). */
export const ROW_PROBLEM = 1;
/** Checked, no words: no signature. */
export const ROW_OK = 2;
/** Checked, with a signature and band keys. */
export const ROW_OK_SIGNED = 3;

/** Per-row results of a slice; the typed arrays are transferred back from workers. */
export interface RowChecks {
  status: Uint8Array;
  /** Canonical JSON of checked rows ('' otherwise). */
  canonical: string[];
  /** Row id and content hash as 64 hex digits each, concatenated ('' unless checked). */
  hex: string[];
  /** MINHASH_PERMUTATIONS int32 per row. */
  signatures: Int32Array;
  /** LSH_BANDS band keys per row. */
  bands: Float64Array;
  /** 32-byte Merkle leaf per row. */
  leaves: Uint8Array;
}

export function computeRowChecks(job: RowCheckJob): RowChecks {
  const { schema, opts } = job;
  const records = recordsOf(job);
  const n = records.length;
  const ids = new RowIdHasher(job.datanetId);
  const status = new Uint8Array(n);
  const canonical = new Array<string>(n).fill('');
  const hex = new Array<string>(n).fill('');
  const signatures = new Int32Array(n * MINHASH_PERMUTATIONS);
  const bands = new Float64Array(n * LSH_BANDS);
  const leaves = new Uint8Array(n * 32);
  for (let i = 0; i < n; i++) {
    const record = records[i];
    if (!record) continue;
    const checked = checkRecord(schema, record, '', opts);
    if (isProblem(checked)) {
      status[i] = ROW_PROBLEM;
      continue;
    }
    // hex throughout: the ids are stored as hex, and hex decodes into the leaf's hash input
    const chHex = hash('sha256', checked.canonical, 'hex');
    const idHex = ids.digestHex(chHex);
    canonical[i] = checked.canonical;
    hex[i] = idHex + chHex;
    rowLeafFromHexInto(idHex, chHex, job.contributorHex, leaves, i * 32);
    if (minhashInto(checked.text, signatures, i * MINHASH_PERMUTATIONS)) {
      bandKeysInto(signatures, i * MINHASH_PERMUTATIONS, bands, i * LSH_BANDS);
      status[i] = ROW_OK_SIGNED;
    } else status[i] = ROW_OK;
  }
  return { status, canonical, hex, signatures, bands, leaves };
}

// The part of a row's checks that depends on nothing stored: schema/encoding/length checks,
// normalisation, canonical JSON, content hash, row id, Merkle leaf, MinHash signature and band
// keys. Pure and deterministic, so it runs on any thread: the check pool's workers compute it for
// slices of a submission while the main thread computes other slices (see pool.ts); the decisions
// that need the datanet and earlier rows (exact and near duplicates) stay in ingest.ts, in order.
import { hash } from 'node:crypto';
import { rowLeafFromHexInto } from './merkle.ts';
import { bandKeysInto, LSH_BANDS, MINHASH_PERMUTATIONS, minhashInto } from './minhash.ts';
import { checkRecord, isProblem, type RowCheckOptions, RowIdHasher } from './rows.ts';
import type { Schema } from './types.ts';

/** A slice of a submission's rows to check (structured-cloneable: it crosses to workers). */
export interface RowCheckJob {
  datanetId: number;
  schema: Schema;
  /** The contributor's address without 0x (40 hex digits), for the leaves. */
  contributorHex: string;
  opts: RowCheckOptions;
  /** Parsed records; null for rows the parser already refused (they are skipped). */
  records: (Record<string, unknown> | null)[];
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
  const { records, schema, opts } = job;
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

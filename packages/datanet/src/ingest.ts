// The decisions of a contribution, before anything is written: given the per-row checks computed
// by rowchecks.ts (on any thread; see pool.ts), decide in row order which rows are problems,
// exact duplicates or near-duplicates of stored or earlier rows. Sequential and deterministic, so
// the result does not depend on where the checks ran. Kept free of per-row allocations where it
// matters (ingest runs ~125k rows per 100 MB): signatures, band keys and leaves of a submission
// live in one typed array each, and what SQLite stores are views of them.
import { LshIndex } from './lsh.ts';
import { LSH_BANDS, MINHASH_PERMUTATIONS, similarity } from './minhash.ts';
import type { RawRow } from './parse.ts';
import {
  computeRowChecks,
  packRecords,
  ROW_OK_SIGNED,
  ROW_PROBLEM,
  ROW_SKIPPED,
  type RowCheckJob,
  type RowChecks,
} from './rowchecks.ts';
import { checkRecord, type RowCheckOptions } from './rows.ts';
import type { Address, Hex32, RowProblem, RowReport, Schema } from './types.ts';

/** What the checks need from the stored datanet (read inside one read transaction). */
export interface StoredRows {
  /** True when a row with this id exists (any datanet, any status). */
  exists(rowId: Hex32): boolean;
  /** The datanet's band index over stored rows (refs are SQLite rowids), already caught up. */
  lsh: LshIndex;
  /** The stored row id and signature of a rowid, as [id, signature bytes]. */
  signatureOf(rowid: number): [Hex32, Int32Array] | null;
}

export interface CheckOptions extends RowCheckOptions {
  nearDuplicateThreshold: number;
}

/** An accepted row, ready to insert. */
export interface AcceptedRow {
  rowId: Hex32;
  contentHash: Hex32;
  /** The canonical content ('' once inserted: see Datanets.insertRows). */
  canonical: string;
  leaf: Buffer;
  /** The stored signature bytes (a view of `CheckedSubmission.signatures`), or null for a row without words. */
  signature: Buffer | null;
  /** Position of the row's band keys in `CheckedSubmission.bands` (its raw position), or -1 without a signature. */
  slot: number;
}

export interface CheckedSubmission {
  reports: RowReport[];
  accepted: AcceptedRow[];
  /** LSH_BANDS band keys per raw row. */
  bands: Float64Array;
}

interface NearHit {
  similarity: number;
  of: string;
  ref: string;
}

/** The submission-local band index, reused (checkSubmission runs synchronously, one at a time). */
const scratchIndex = new LshIndex();

/** Rows per slice of the check pool (~200 KB of text for typical rows: a short wait for the last one). */
export const CHECK_SLICE_ROWS = 256;

/**
 * The check jobs of a submission: its rows in slices of `sliceRows`. With `pack` (for the
 * workers) each slice's records are packed into one shared buffer it allocates (see rowchecks.ts
 * packRecords).
 */
export function checkJobs(
  datanetId: number,
  schema: Schema,
  contributor: Address,
  raw: readonly RawRow[],
  opts: RowCheckOptions,
  sliceRows = CHECK_SLICE_ROWS,
  pack?: (bytes: number) => Uint8Array,
): RowCheckJob[] {
  const contributorHex = contributor.slice(2);
  const o: RowCheckOptions = { minChars: opts.minChars, maxChars: opts.maxChars };
  const slices: (Record<string, unknown> | null)[][] = [];
  for (let at = 0; at < raw.length || at === 0; at += sliceRows) {
    const records: (Record<string, unknown> | null)[] = [];
    for (let i = at; i < Math.min(raw.length, at + sliceRows); i++) {
      const r = raw[i];
      records.push(r.problem || !r.record ? null : r.record);
    }
    slices.push(records);
  }
  if (pack) {
    return packRecords(schema, slices, pack).map((packed) => ({
      datanetId,
      schema,
      contributorHex,
      opts: o,
      packed,
    }));
  }
  return slices.map((records) => ({ datanetId, schema, contributorHex, opts: o, records }));
}

/** The slices' results as one RowChecks over the whole submission (slices in row order). */
export function mergeRowChecks(slices: readonly RowChecks[]): RowChecks {
  if (slices.length === 1) return slices[0];
  let n = 0;
  for (const s of slices) n += s.status.length;
  const out: RowChecks = {
    status: new Uint8Array(n),
    canonical: [],
    hex: [],
    signatures: new Int32Array(n * MINHASH_PERMUTATIONS),
    bands: new Float64Array(n * LSH_BANDS),
    leaves: new Uint8Array(n * 32),
  };
  let at = 0;
  for (const s of slices) {
    out.status.set(s.status, at);
    for (let i = 0; i < s.canonical.length; i++) {
      out.canonical.push(s.canonical[i]);
      out.hex.push(s.hex[i]);
    }
    out.signatures.set(s.signatures, at * MINHASH_PERMUTATIONS);
    out.bands.set(s.bands, at * LSH_BANDS);
    out.leaves.set(s.leaves, at * 32);
    at += s.status.length;
  }
  return out;
}

/** Checks computed in this thread (small submissions, tests). */
export function computeChecksInThread(jobs: readonly RowCheckJob[]): RowChecks {
  return mergeRowChecks(jobs.map(computeRowChecks));
}

/** Where checkSubmission gets the per-row checks: slice k covers rows [k × rowsPerSlice, …). */
export interface CheckSource {
  slices: number;
  rowsPerSlice: number;
  /** The checks of slice k (asked for in order 0, 1, …; may block while a worker computes it). */
  take(k: number): RowChecks;
}

/** A CheckSource over checks already computed for the whole submission. */
export function wholeSubmission(rows: RowChecks): CheckSource {
  return { slices: 1, rowsPerSlice: rows.status.length, take: () => rows };
}

/**
 * Decides every row in order. `afterSlice` is called after each slice with the accepted rows so
 * far and how many of them it already saw, so that a caller inside a write transaction can insert
 * them while later slices are still being computed.
 */
export function checkSubmission(
  datanetId: number,
  schema: Schema,
  raw: readonly RawRow[],
  source: CheckSource,
  stored: StoredRows,
  opts: CheckOptions,
  afterSlice?: (accepted: AcceptedRow[], from: number) => void,
): CheckedSubmission {
  const threshold = opts.nearDuplicateThreshold;
  const n = raw.length;
  const sigs = new Int32Array(n * MINHASH_PERMUTATIONS);
  const sigBytes = Buffer.from(sigs.buffer, sigs.byteOffset, sigs.byteLength);
  const bands = new Float64Array(n * LSH_BANDS);
  const leaves = Buffer.alloc(n * 32);
  /** Raw position of the row owning each signature slot (accepted rows with a signature, in order). */
  const slotRow = new Int32Array(n);
  let slots = 0;
  const local = scratchIndex;
  local.clear();
  local.reserve(n * LSH_BANDS);
  const seen = new Map<string, number>();
  const candidates: number[] = [];
  const reports: RowReport[] = [];
  const accepted: AcceptedRow[] = [];

  /** Near-duplicate among this submission's earlier rows, then the stored ones. */
  const nearDuplicate = (pos: number): NearHit | null => {
    const off = pos * MINHASH_PERMUTATIONS;
    const keyOff = pos * LSH_BANDS;
    candidates.length = 0;
    for (let b = 0; b < LSH_BANDS; b++) local.collect(bands[keyOff + b], candidates);
    // (candidates are rare: no Set unless there are some)
    for (const other of candidates.length > 1 ? new Set(candidates) : candidates) {
      const at = slotRow[other];
      const s = similarity(sigs, sigs, off, at * MINHASH_PERMUTATIONS);
      if (s >= threshold) return { similarity: s, of: `row ${at} of this submission`, ref: String(at) };
    }
    candidates.length = 0;
    for (let b = 0; b < LSH_BANDS; b++) stored.lsh.collect(bands[keyOff + b], candidates);
    for (const ref of candidates.length > 1 ? new Set(candidates) : candidates) {
      const rec = stored.signatureOf(ref);
      if (!rec) continue;
      const s = similarity(sigs, rec[1], off, 0);
      if (s >= threshold)
        return { similarity: s, of: `row ${rec[0]} already in datanet ${datanetId}`, ref: rec[0] };
    }
    return null;
  };

  for (let k = 0, start = 0; k < source.slices; k++, start += source.rowsPerSlice) {
    const rows = source.take(k);
    const end = start + rows.status.length;
    if (end > n || (k === source.slices - 1 && end !== n)) {
      throw new Error('checkSubmission: checks do not match the rows');
    }
    sigs.set(rows.signatures, start * MINHASH_PERMUTATIONS);
    bands.set(rows.bands, start * LSH_BANDS);
    leaves.set(rows.leaves, start * 32);
    const from = accepted.length;
    for (let pos = start; pos < end; pos++) {
      const r = raw[pos];
      const report: RowReport = {
        index: r.index,
        source: r.source,
        rowId: null,
        accepted: false,
        problems: [],
      };
      reports.push(report);
      const status = rows.status[pos - start];
      if (status === ROW_SKIPPED || r.problem || !r.record) {
        report.problems.push(r.problem ?? { code: 'schema_mismatch', message: `${r.source}: no record` });
        continue;
      }
      if (status === ROW_PROBLEM) {
        // the problem again, here, for its message (it names the row's source)
        report.problems.push(checkRecord(schema, r.record, r.source, opts) as RowProblem);
        continue;
      }
      const hex = rows.hex[pos - start];
      const rowId = `0x${hex.slice(0, 64)}` as Hex32;
      report.rowId = rowId;
      const problems: RowProblem[] = [];
      const dupLocal = seen.get(rowId);
      if (dupLocal !== undefined) {
        problems.push({
          code: 'duplicate',
          message: `${r.source}: exact duplicate of row ${dupLocal} of this submission`,
          duplicateOf: String(dupLocal),
        });
      } else if (stored.exists(rowId)) {
        problems.push({
          code: 'duplicate',
          message: `${r.source}: exact duplicate of row ${rowId} already in datanet ${datanetId}`,
          duplicateOf: rowId,
        });
      }
      const hasSig = status === ROW_OK_SIGNED;
      if (problems.length === 0 && hasSig) {
        const near = nearDuplicate(pos);
        if (near) {
          problems.push({
            code: 'near_duplicate',
            message: `${r.source}: near-duplicate (estimated word-shingle Jaccard ${near.similarity.toFixed(2)} ≥ ${threshold}) of ${near.of}`,
            duplicateOf: near.ref,
            similarity: near.similarity,
          });
        }
      }
      if (problems.length > 0) {
        report.problems = problems;
        continue;
      }
      seen.set(rowId, r.index);
      let signature: Buffer | null = null;
      if (hasSig) {
        const slot = slots++;
        slotRow[slot] = pos;
        for (let b = 0; b < LSH_BANDS; b++) local.add(bands[pos * LSH_BANDS + b], slot);
        const at = pos * MINHASH_PERMUTATIONS * 4;
        signature = sigBytes.subarray(at, at + MINHASH_PERMUTATIONS * 4);
      }
      report.accepted = true;
      accepted.push({
        rowId,
        contentHash: `0x${hex.slice(64)}` as Hex32,
        canonical: rows.canonical[pos - start],
        leaf: leaves.subarray(pos * 32, pos * 32 + 32),
        signature,
        slot: hasSig ? pos : -1,
      });
    }
    afterSlice?.(accepted, from);
  }
  if (source.slices === 0 && n !== 0) throw new Error('checkSubmission: checks do not match the rows');
  return { reports, accepted, bands };
}

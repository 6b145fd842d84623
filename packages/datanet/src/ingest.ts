// The per-row work of a contribution, before anything is written: checks, content hash, row id,
// exact and near-duplicate detection, Merkle leaf and MinHash signature. Kept free of per-row
// allocations where it matters (ingest runs ~125k rows per 100 MB): signatures, band keys and
// leaves of a submission live in one typed array each, and what SQLite stores are views of them.
import { hash } from 'node:crypto';
import { LshIndex } from './lsh.ts';
import { rowLeafFromHexInto } from './merkle.ts';
import { bandKeysInto, LSH_BANDS, MINHASH_PERMUTATIONS, minhashInto, similarity } from './minhash.ts';
import type { RawRow } from './parse.ts';
import { checkRecord, isProblem, type RowCheckOptions, RowIdHasher } from './rows.ts';
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
  canonical: string;
  leaf: Buffer;
  /** The stored signature bytes (a view of `CheckedSubmission.signatures`), or null for a row without words. */
  signature: Buffer | null;
  /** Slot of the row's signature and band keys in the submission's arrays, or -1. */
  slot: number;
}

export interface CheckedSubmission {
  reports: RowReport[];
  accepted: AcceptedRow[];
  /** LSH_BANDS band keys per signature slot. */
  bands: Float64Array;
}

interface NearHit {
  similarity: number;
  of: string;
  ref: string;
}

/** The submission-local band index, reused (checkSubmission runs synchronously, one at a time). */
const scratchIndex = new LshIndex();

export function checkSubmission(
  datanetId: number,
  schema: Schema,
  contributor: Address,
  raw: readonly RawRow[],
  stored: StoredRows,
  opts: CheckOptions,
): CheckedSubmission {
  const threshold = opts.nearDuplicateThreshold;
  const ids = new RowIdHasher(datanetId);
  const contributorHex = contributor.slice(2);
  const n = raw.length;
  const sigs = new Int32Array(n * MINHASH_PERMUTATIONS);
  const sigBytes = Buffer.from(sigs.buffer, sigs.byteOffset, sigs.byteLength);
  const bands = new Float64Array(n * LSH_BANDS);
  const leaves = Buffer.alloc(n * 32);
  /** Raw position of the row owning each signature slot. */
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
  const nearDuplicate = (slot: number): NearHit | null => {
    const off = slot * MINHASH_PERMUTATIONS;
    const keyOff = slot * LSH_BANDS;
    candidates.length = 0;
    for (let b = 0; b < LSH_BANDS; b++) local.collect(bands[keyOff + b], candidates);
    // (candidates are rare: no Set unless there are some)
    for (const other of candidates.length > 1 ? new Set(candidates) : candidates) {
      const s = similarity(sigs, sigs, off, other * MINHASH_PERMUTATIONS);
      if (s >= threshold) {
        const pos = slotRow[other];
        return { similarity: s, of: `row ${pos} of this submission`, ref: String(pos) };
      }
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

  for (let pos = 0; pos < n; pos++) {
    const r = raw[pos];
    const report: RowReport = {
      index: r.index,
      source: r.source,
      rowId: null,
      accepted: false,
      problems: [],
    };
    reports.push(report);
    if (r.problem || !r.record) {
      report.problems.push(r.problem ?? { code: 'schema_mismatch', message: `${r.source}: no record` });
      continue;
    }
    const checked = checkRecord(schema, r.record, r.source, opts);
    if (isProblem(checked)) {
      report.problems.push(checked);
      continue;
    }
    // hex throughout: the ids are stored as hex, and hex decodes into the leaf's hash input
    // without a Buffer per row
    const chHex = hash('sha256', checked.canonical, 'hex');
    const idHex = ids.digestHex(chHex);
    const rowId = `0x${idHex}` as Hex32;
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
    // the signature is computed into the next free slot, which is kept only if the row is accepted
    let hasSig = false;
    if (problems.length === 0) {
      hasSig = minhashInto(checked.text, sigs, slots * MINHASH_PERMUTATIONS);
      if (hasSig) {
        bandKeysInto(sigs, slots * MINHASH_PERMUTATIONS, bands, slots * LSH_BANDS);
        const near = nearDuplicate(slots);
        if (near) {
          problems.push({
            code: 'near_duplicate',
            message: `${r.source}: near-duplicate (estimated word-shingle Jaccard ${near.similarity.toFixed(2)} ≥ ${threshold}) of ${near.of}`,
            duplicateOf: near.ref,
            similarity: near.similarity,
          });
        }
      }
    }
    if (problems.length > 0) {
      report.problems = problems;
      continue;
    }
    seen.set(rowId, r.index);
    let slot = -1;
    let signature: Buffer | null = null;
    if (hasSig) {
      slot = slots++;
      slotRow[slot] = pos;
      for (let b = 0; b < LSH_BANDS; b++) local.add(bands[slot * LSH_BANDS + b], slot);
      const at = slot * MINHASH_PERMUTATIONS * 4;
      signature = sigBytes.subarray(at, at + MINHASH_PERMUTATIONS * 4);
    }
    const k = accepted.length;
    rowLeafFromHexInto(idHex, chHex, contributorHex, leaves, k * 32);
    report.accepted = true;
    accepted.push({
      rowId,
      contentHash: `0x${chHex}` as Hex32,
      canonical: checked.canonical,
      leaf: leaves.subarray(k * 32, k * 32 + 32),
      signature,
      slot,
    });
  }
  return { reports, accepted, bands };
}

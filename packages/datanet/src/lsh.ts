// In-memory LSH band index for one datanet: an open-addressing multimap from band key (a
// non-negative integer below 2^37, see minhash.ts bandKeys) to the SQLite rowid of the row that
// produced it. Kept in one Int32Array of (key, ref) pairs — 8 bytes a slot, a probe touches one
// cache line — rather than a Map (about 15x larger), and rebuilt from the rows' stored signatures,
// so it is derived data: nothing is lost if the process dies. Persisting 16 band rows per data row
// in SQLite cost more than everything else in ingest.
//
// Keys are folded to 32 bits (band index mixed into the band hash). Two different keys folding to
// the same value only add a candidate, which the caller then compares by signature (the
// similarity estimate decides, not the index), so the folding changes no verdict.

/** The 32-bit form of a band key (band · 2^32 + hash). */
function fold(key: number): number {
  return ((key >>> 0) ^ Math.imul(Math.floor(key / 4294967296) + 1, 0x9e3779b1)) | 0;
}

function slotOf(k: number, mask: number): number {
  let h = Math.imul(k ^ (k >>> 16), 0x85ebca6b);
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
  return (h ^ (h >>> 16)) & mask;
}

import { RowIdFilter } from './idfilter.ts';

export class LshIndex {
  /** table[2i] = folded key, table[2i + 1] = ref + 1 (0: empty slot). */
  private table: Int32Array;
  private count = 0;
  /** Highest rows.rowid already indexed. */
  lastRowid = 0;
  /** The ids of the indexed rows (all of them, with a signature or not; see idfilter.ts). */
  ids = new RowIdFilter();

  constructor(capacity = 1 << 12) {
    let cap = 16;
    while (cap < capacity * 2) cap *= 2;
    this.table = new Int32Array(cap * 2);
  }

  private get capacity(): number {
    return this.table.length >>> 1;
  }

  /** Empties the index, keeping its capacity (for a scratch index reused across submissions). */
  clear(): void {
    if (this.count > 0) this.table.fill(0);
    this.count = 0;
    this.lastRowid = 0;
    if (this.ids.size > 0) this.ids = new RowIdFilter();
  }

  /** Makes room for `n` entries at once (one allocation instead of repeated doubling). */
  reserve(n: number): void {
    let cap = this.capacity;
    while ((this.count + n) * 2 > cap) cap *= 2;
    if (cap > this.capacity) this.grow(cap);
  }

  get size(): number {
    return this.count;
  }

  /** Adds (key, ref); refs are non-negative int32 (SQLite rowids, or slots of a submission). */
  add(key: number, ref: number): void {
    if ((this.count + 1) * 2 > this.capacity) this.grow(this.capacity * 2);
    const t = this.table;
    const mask = this.capacity - 1;
    const k = fold(key);
    const r = ref + 1;
    let i = slotOf(k, mask);
    for (;;) {
      const at = i << 1;
      const stored = t[at + 1];
      if (stored === 0) {
        t[at] = k;
        t[at + 1] = r;
        this.count++;
        return;
      }
      if (stored === r && t[at] === k) return;
      i = (i + 1) & mask;
    }
  }

  /**
   * Appends every ref stored under `key` to `out` (no closure per lookup, unlike forEach); may
   * include a ref of another key folding to the same 32 bits (see above).
   */
  collect(key: number, out: number[]): void {
    const t = this.table;
    const mask = this.capacity - 1;
    const k = fold(key);
    let i = slotOf(k, mask);
    for (;;) {
      const at = i << 1;
      const r = t[at + 1];
      if (r === 0) return;
      if (t[at] === k) out.push(r - 1);
      i = (i + 1) & mask;
    }
  }

  /** Rehashes into `capacity` slots (a power of two; one pass however many doublings that is). */
  private grow(capacity: number): void {
    const old = this.table;
    const t = new Int32Array(capacity * 2);
    const mask = capacity - 1;
    // the entries are distinct already: straight to the first free slot, no equality checks
    for (let j = 0; j < old.length; j += 2) {
      const r = old[j + 1];
      if (r === 0) continue;
      const k = old[j];
      let i = slotOf(k, mask);
      while (t[(i << 1) + 1] !== 0) i = (i + 1) & mask;
      t[i << 1] = k;
      t[(i << 1) + 1] = r;
    }
    this.table = t;
  }
}

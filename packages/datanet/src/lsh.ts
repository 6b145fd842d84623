// In-memory LSH band index for one datanet: an open-addressing multimap from band key (a
// non-negative integer below 2^37, see minhash.ts bandKeys) to the SQLite rowid of the row that
// produced it. Kept in typed arrays (12 bytes a slot) rather than a Map (about 10x larger), and
// rebuilt from the rows' stored signatures, so it is derived data: nothing is lost if the process
// dies. Persisting 16 band rows per data row in SQLite cost more than everything else in ingest.

export class LshIndex {
  private keys: Float64Array;
  private refs: Int32Array;
  private count = 0;
  /** Highest rows.rowid already indexed. */
  lastRowid = 0;

  constructor(capacity = 1 << 12) {
    let cap = 16;
    while (cap < capacity * 2) cap *= 2;
    this.keys = new Float64Array(cap).fill(-1);
    this.refs = new Int32Array(cap);
  }

  /** Empties the index, keeping its capacity (for a scratch index reused across submissions). */
  clear(): void {
    if (this.count > 0) this.keys.fill(-1);
    this.count = 0;
    this.lastRowid = 0;
  }

  /** Makes room for `n` entries at once (one allocation instead of repeated doubling). */
  reserve(n: number): void {
    let cap = this.keys.length;
    while ((this.count + n) * 2 > cap) cap *= 2;
    if (cap > this.keys.length) this.grow(cap);
  }

  get size(): number {
    return this.count;
  }

  private static slot(key: number, mask: number): number {
    let h = (key | 0) ^ Math.imul(Math.floor(key / 4294967296), 0x9e3779b1);
    h = Math.imul(h ^ (h >>> 16), 0x85ebca6b);
    h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
    return (h ^ (h >>> 16)) & mask;
  }

  add(key: number, ref: number): void {
    if ((this.count + 1) * 2 > this.keys.length) this.grow(this.keys.length * 2);
    const mask = this.keys.length - 1;
    let i = LshIndex.slot(key, mask);
    while (this.keys[i] !== -1) {
      if (this.keys[i] === key && this.refs[i] === ref) return;
      i = (i + 1) & mask;
    }
    this.keys[i] = key;
    this.refs[i] = ref;
    this.count++;
  }

  /** Appends every ref stored under `key` to `out` (no closure per lookup, unlike forEach). */
  collect(key: number, out: number[]): void {
    const mask = this.keys.length - 1;
    let i = LshIndex.slot(key, mask);
    while (this.keys[i] !== -1) {
      if (this.keys[i] === key) out.push(this.refs[i]);
      i = (i + 1) & mask;
    }
  }

  /** Rehashes into `capacity` slots (a power of two; one pass however many doublings that is). */
  private grow(capacity: number): void {
    const oldKeys = this.keys;
    const oldRefs = this.refs;
    const keys = new Float64Array(capacity).fill(-1);
    const refs = new Int32Array(capacity);
    const mask = keys.length - 1;
    // the entries are distinct already: straight to the first free slot, no equality checks
    for (let j = 0; j < oldKeys.length; j++) {
      const key = oldKeys[j];
      if (key === -1) continue;
      let i = LshIndex.slot(key, mask);
      while (keys[i] !== -1) i = (i + 1) & mask;
      keys[i] = key;
      refs[i] = oldRefs[j];
    }
    this.keys = keys;
    this.refs = refs;
  }
}

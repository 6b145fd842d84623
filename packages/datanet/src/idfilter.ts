// A set of 32-bit row-id prefixes (the first 8 hex digits after 0x), kept beside a datanet's LSH
// index (lsh.ts) and caught up with it: the exact-duplicate check of every submitted row asked
// SQLite first (a random probe of the row-id index, ~3 µs), while almost every row is new. Now
// only a prefix seen before is looked up in SQLite, which still decides; a miss here means no
// row of the datanet has that id, and a row id names its datanet (rowId = sha256(domain ‖
// datanetId ‖ contentHash)), so no other datanet has it either. Derived data, like the LSH index.

function prefixOf(rowId: string): number {
  // hex digits 2..10 of "0x…"; 0 is the empty-slot marker
  return Number.parseInt(rowId.slice(2, 10), 16) | 0 || 1;
}

function slotOf(k: number, mask: number): number {
  const h = Math.imul(k ^ (k >>> 15), 0x2c1b3c6d);
  return (h ^ (h >>> 12)) & mask;
}

export class RowIdFilter {
  private table = new Int32Array(16);
  private count = 0;

  add(rowId: string): void {
    if ((this.count + 1) * 2 > this.table.length) this.grow(this.table.length * 2);
    const t = this.table;
    const mask = t.length - 1;
    const k = prefixOf(rowId);
    let i = slotOf(k, mask);
    for (;;) {
      if (t[i] === 0) {
        t[i] = k;
        this.count++;
        return;
      }
      if (t[i] === k) return;
      i = (i + 1) & mask;
    }
  }

  /** False when no id added has the prefix of `rowId`; true when one may be it. */
  mayContain(rowId: string): boolean {
    const t = this.table;
    const mask = t.length - 1;
    const k = prefixOf(rowId);
    let i = slotOf(k, mask);
    for (;;) {
      const v = t[i];
      if (v === k) return true;
      if (v === 0) return false;
      i = (i + 1) & mask;
    }
  }

  get size(): number {
    return this.count;
  }

  private grow(capacity: number): void {
    const old = this.table;
    const t = new Int32Array(capacity);
    const mask = capacity - 1;
    for (let j = 0; j < old.length; j++) {
      const k = old[j];
      if (k === 0) continue;
      let i = slotOf(k, mask);
      while (t[i] !== 0) i = (i + 1) & mask;
      t[i] = k;
    }
    this.table = t;
  }
}

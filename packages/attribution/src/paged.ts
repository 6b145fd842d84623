import { readSync } from 'node:fs';
import { endianness } from 'node:os';
import { AttributionError } from './errors.ts';

const LITTLE_ENDIAN = endianness() === 'LE';

/**
 * 32-bit checksum of a page (multiplicative hash over little-endian 32-bit words, then the tail
 * bytes). Not cryptographic: it detects corruption of a page whenever the page is read, so an
 * index can be opened lazily without hashing the whole file. The index header (hashed with SHA-256)
 * holds every page's checksum, so the checksums themselves cannot be altered unnoticed.
 */
export function pageChecksum(bytes: Uint8Array): number {
  return checksumAt(bytes, 0, bytes.length, null);
}

/** pageChecksum of b[off, off + len); `w32` (optional) is an Int32Array over all of b's buffer. */
function checksumAt(b: Uint8Array, off: number, len: number, w32: Int32Array | null): number {
  let h = 0x9747b28c ^ len;
  const words = len >>> 2;
  const start = b.byteOffset + off;
  if (LITTLE_ENDIAN && start % 4 === 0) {
    const w = w32 ?? new Int32Array(b.buffer, start, words);
    const first = w32 ? start >>> 2 : 0;
    for (let i = first, end = first + words; i < end; i++) {
      h = Math.imul(h ^ w[i], 0x5bd1e995);
      h ^= h >>> 15;
    }
  } else {
    const view = new DataView(b.buffer, start, len);
    for (let i = 0; i < words; i++) {
      h = Math.imul(h ^ view.getUint32(i * 4, true), 0x5bd1e995);
      h ^= h >>> 15;
    }
  }
  for (let i = words * 4; i < len; i++) {
    h = Math.imul(h ^ b[off + i], 0x5bd1e995);
    h ^= h >>> 15;
  }
  return h >>> 0;
}

/** Reads an unsigned little-endian integer of `width` bytes (1..6) at `off`. */
export function readUint(b: Uint8Array, off: number, width: number): number {
  switch (width) {
    case 1:
      return b[off];
    case 2:
      return b[off] | (b[off + 1] << 8);
    case 3:
      return b[off] | (b[off + 1] << 8) | (b[off + 2] << 16);
    case 4:
      return (b[off] | (b[off + 1] << 8) | (b[off + 2] << 16)) + b[off + 3] * 0x1000000;
    default: {
      let v = 0;
      for (let k = width - 1; k >= 0; k--) v = v * 256 + b[off + k];
      return v;
    }
  }
}

export function writeUint(b: Uint8Array, off: number, width: number, value: number): void {
  for (let k = 0; k < width; k++) {
    b[off + k] = value % 256;
    value = Math.floor(value / 256);
  }
}

/** Bytes of a section of `count` entries of `bits` bits, packed into one little-endian bit stream. */
export function packedBytes(count: number, bits: number): number {
  return Math.ceil((count * bits) / 8);
}

/**
 * Byte range [start, end) of page p of a packed section: the bytes holding bits [p·E·bits,
 * min((p + 1)·E, count)·bits) of the stream, E = pageEntries. When E·bits is not a multiple of 8,
 * neighbouring pages share one byte (the last of a page is the first of the next): every entry then
 * lies wholly inside its own page, so no read ever spans two pages. With whole-byte widths (and
 * whenever E·bits is a multiple of 8) pages are disjoint and this is [p·E·w, (p·E + entries)·w).
 */
export function packedPageRange(
  p: number,
  pageEntries: number,
  count: number,
  bits: number,
): { start: number; end: number } {
  return {
    start: Math.floor((p * pageEntries * bits) / 8),
    end: Math.ceil((Math.min((p + 1) * pageEntries, count) * bits) / 8),
  };
}

/**
 * Packs src[from, to) (values < 2^bits, bits ≤ 32) into `words` as a little-endian bit stream that
 * starts at bit 0 of words[0]; `words` must be zero and hold ⌈(to − from)·bits / 32⌉ words. On a
 * big-endian host call `wordsToLittleEndian` before using the words as bytes.
 */
export function packBits(
  src: ArrayLike<number>,
  from: number,
  to: number,
  bits: number,
  words: Int32Array,
): void {
  let w = 0;
  let s = 0;
  for (let i = from; i < to; i++) {
    const v = src[i];
    words[w] |= v << s;
    if (s + bits > 32) words[w + 1] |= v >>> (32 - s);
    s += bits;
    if (s >= 32) {
      s -= 32;
      w++;
    }
  }
}

/**
 * Makes 32-bit words little-endian in memory (a no-op on little-endian hosts; a byte swap on
 * big-endian ones, where the same call also turns little-endian bytes read from a file into words).
 */
export function wordsToLittleEndian(words: Int32Array, count = words.length): void {
  if (LITTLE_ENDIAN) return;
  const b = new Uint8Array(words.buffer, words.byteOffset, count * 4);
  for (let k = 0; k < count * 4; k += 4) {
    let t = b[k];
    b[k] = b[k + 3];
    b[k + 3] = t;
    t = b[k + 1];
    b[k + 1] = b[k + 2];
    b[k + 2] = t;
  }
}

/**
 * Entry at bit `x` of a packed stream held in `W` (32-bit words of the stream, host order, with one
 * word of padding after the stream's last): the two words holding it, shifted and masked (`mask` =
 * 2^bits − 1, bits ≤ 31). `(W[w + 1] << 1) << (31 − s)` is W[w + 1] << (32 − s), but 0 when s = 0.
 */
function entryAt(W: Int32Array, x: number, mask: number): number {
  const w = x >>> 5;
  const s = x & 31;
  return ((W[w] >>> s) | ((W[w + 1] << 1) << (31 - s))) & mask;
}

/**
 * A read-only array of fixed-width unsigned integers stored in a file section, read on demand in
 * pages (`pageEntries` entries each). Each page is checked against its stored checksum every time it
 * is read from the file.
 *
 * Entries are `bits` bits wide. A multiple of 8 is a whole-byte width (format version 2, and
 * version 3 when the bit count happens to be one): entries are read as little-endian integers of
 * bits / 8 bytes. Other widths (≤ 31 bits) are a packed little-endian bit stream: entry i is bits
 * [i·bits, (i + 1)·bits) of the section, read as the two 32-bit words that hold it, shifted and
 * masked. Pages are the byte ranges of `packedPageRange` (neighbours may share a byte, so an entry
 * never straddles two pages); each page is read into a buffer of whole words with a word of
 * padding, so the second word of a read never falls outside it.
 *
 * The cache holds up to `maxPages` page slots with an LRU list kept in typed arrays. A slot's buffer
 * is allocated the first time the slot is used and then reused for every page it holds: a miss is a
 * single positional read straight into the evicted slot's buffer, so queries leave no garbage
 * behind (a Map of fresh per-page buffers churned the collector on every miss), and a large budget
 * costs nothing until it is filled (one preallocated slab had to be zeroed up front, which made the
 * first query after open pay for the whole budget).
 */
export class PagedUintArray {
  /** Bytes per entry in whole-byte mode; 0 when packed. */
  private readonly width: number;
  private readonly packed: boolean;
  private readonly mask: number;
  /** Largest byte length of a page (a packed page may start and end inside a byte). */
  private readonly pageBytes: number;
  private readonly pageCount: number;
  private slots = 0;
  /** buf[s]: the bytes of the page in slot s; w32[s]: the same as 32-bit words (checksum, packed reads). */
  private buf: Uint8Array[] = [];
  private w32: Int32Array[] = [];
  /** slotOfPage[p]: the slot holding page p, or −1. */
  private slotOfPage: Int32Array = new Int32Array(0);
  private pageOfSlot: Int32Array = new Int32Array(0);
  /** LRU list over slots (doubly linked; head = most recently used). */
  private prev: Int32Array = new Int32Array(0);
  private next: Int32Array = new Int32Array(0);
  private head = -1;
  private tail = -1;
  private used = 0;
  /** The page last read: its number, bytes, words, first entry and the bit its first entry starts at. */
  private lastPageNo = -1;
  private lastPage: Uint8Array = new Uint8Array(0);
  private lastWords: Int32Array = new Int32Array(0);
  private lastFirst = 0;
  private lastBit0 = 0;
  /** After preload() with a native width (1, 2, 4 bytes): the whole array as a typed array. */
  private flat: Uint8Array | Uint16Array | Uint32Array | null = null;
  /** After preload() with an odd byte width: the whole section as bytes. */
  private flatBytes: Uint8Array | null = null;
  /** After preload() of a packed section: the whole stream as words (plus a word of padding). */
  private flatWords: Int32Array | null = null;
  pageReads = 0;

  constructor(
    private readonly fd: number,
    private readonly offset: number,
    readonly length: number,
    readonly bits: number,
    readonly pageEntries: number,
    private readonly checksums: Uint32Array,
    private readonly maxPages: number,
    private readonly label: string,
  ) {
    this.packed = bits % 8 !== 0;
    if (this.packed && (bits < 1 || bits > 31))
      throw new RangeError(`packed entries must be 1..31 bits, got ${bits}`);
    this.width = this.packed ? 0 : bits / 8;
    this.mask = this.packed ? 2 ** bits - 1 : 0;
    this.pageBytes = this.packed ? Math.ceil((pageEntries * bits + 7) / 8) : pageEntries * this.width;
    this.pageCount = checksums.length;
  }

  /** Bytes of the whole section. */
  get sectionBytes(): number {
    return packedBytes(this.length, this.bits);
  }

  /** Sets up the (empty) cache on first use, so an index that is only opened costs no cache memory. */
  private init(): void {
    this.slots = Math.max(1, Math.min(this.maxPages, this.pageCount));
    this.slotOfPage = new Int32Array(this.pageCount).fill(-1);
    this.pageOfSlot = new Int32Array(this.slots).fill(-1);
    this.prev = new Int32Array(this.slots).fill(-1);
    this.next = new Int32Array(this.slots).fill(-1);
  }

  get(i: number): number {
    if (this.flat !== null) return this.flat[i];
    if (this.flatWords !== null) {
      // i·bits < 2^31 · 31 < 2^36: exact, and the word index fits 31 bits.
      const x = i * this.bits;
      const w = (x / 32) | 0;
      const s = x - w * 32;
      const W = this.flatWords;
      return ((W[w] >>> s) | ((W[w + 1] << 1) << (31 - s))) & this.mask;
    }
    if (this.flatBytes !== null) return readUint(this.flatBytes, i * this.width, this.width);
    const p = Math.floor(i / this.pageEntries);
    if (p !== this.lastPageNo) this.load(p);
    if (this.packed)
      return entryAt(this.lastWords, this.lastBit0 + (i - this.lastFirst) * this.bits, this.mask);
    return readUint(this.lastPage, (i - this.lastFirst) * this.width, this.width);
  }

  /** Makes page p the last page, reading it from the file on a miss. */
  private load(p: number): void {
    if (this.slots === 0) this.init();
    if (p < 0 || p >= this.pageCount) {
      throw new AttributionError('INDEX_RANGE', `${this.label}: entry page ${p} is outside the index`, 500);
    }
    let slot = this.slotOfPage[p];
    if (slot >= 0) {
      if (slot !== this.head) {
        this.unlink(slot);
        this.pushFront(slot);
      }
    } else {
      if (this.used < this.slots) {
        slot = this.used++;
        // Whole 32-bit words (plus one of padding for packed reads), so the checksum and the reads
        // go through a persistent aligned view.
        const words = new Int32Array(Math.ceil(this.pageBytes / 4) + 1);
        this.w32[slot] = words;
        this.buf[slot] = new Uint8Array(words.buffer, 0, this.pageBytes);
      } else {
        slot = this.tail;
        this.unlink(slot);
        if (this.pageOfSlot[slot] >= 0) this.slotOfPage[this.pageOfSlot[slot]] = -1;
        this.pageOfSlot[slot] = -1;
      }
      const page = this.buf[slot];
      const { start, end } = packedPageRange(p, this.pageEntries, this.length, this.bits);
      const bytes = end - start;
      const pos = this.offset + start;
      let got = 0;
      while (got < bytes) {
        const r = readSync(this.fd, page, got, bytes - got, pos + got);
        if (r === 0) break;
        got += r;
      }
      this.pageReads++;
      if (got !== bytes)
        this.reject(slot, 'INDEX_TRUNCATED', `page ${p} is truncated (read ${got} of ${bytes} bytes)`);
      if (checksumAt(page, 0, bytes, this.w32[slot]) !== this.checksums[p]) {
        this.reject(
          slot,
          'INDEX_CORRUPT',
          `page ${p} fails its checksum; the index file was altered or damaged`,
        );
      }
      if (this.packed) wordsToLittleEndian(this.w32[slot], Math.ceil(bytes / 4));
      this.slotOfPage[p] = slot;
      this.pageOfSlot[slot] = p;
      this.pushFront(slot);
    }
    this.lastPageNo = p;
    this.lastPage = this.buf[slot];
    this.lastWords = this.w32[slot];
    this.lastFirst = p * this.pageEntries;
    // Bit of the page's first byte at which its first entry starts: (p·E·bits) mod 8.
    this.lastBit0 = this.packed ? (p * this.pageEntries * this.bits) % 8 : 0;
  }

  /** Parks a slot whose page failed a check at the LRU end, empty (so it is reused first), and throws. */
  private reject(slot: number, code: string, message: string): never {
    this.pushBack(slot);
    throw new AttributionError(code, `${this.label}: ${message}`, 500);
  }

  private unlink(s: number): void {
    const a = this.prev[s];
    const b = this.next[s];
    if (a >= 0) this.next[a] = b;
    else this.head = b;
    if (b >= 0) this.prev[b] = a;
    else this.tail = a;
    this.prev[s] = -1;
    this.next[s] = -1;
    if (this.pageOfSlot[s] === this.lastPageNo) this.lastPageNo = -1;
  }

  private pushFront(s: number): void {
    this.prev[s] = -1;
    this.next[s] = this.head;
    if (this.head >= 0) this.prev[this.head] = s;
    this.head = s;
    if (this.tail < 0) this.tail = s;
  }

  private pushBack(s: number): void {
    this.next[s] = -1;
    this.prev[s] = this.tail;
    if (this.tail >= 0) this.next[this.tail] = s;
    this.tail = s;
    if (this.head < 0) this.head = s;
  }

  /**
   * Reads the whole section into memory with large sequential reads (checking every page), for
   * indexes that fit in RAM: queries then touch memory only, as with a memory-mapped index.
   */
  preload(): void {
    const total = this.sectionBytes;
    // Whole words plus one of padding (packed reads load the word after the one an entry starts in).
    const words = new Int32Array(Math.ceil(total / 4) + 1);
    const bytes = new Uint8Array(words.buffer, 0, total);
    const chunk = 64 * 1024 * 1024;
    for (let off = 0; off < total; ) {
      const r = readSync(this.fd, bytes, off, Math.min(chunk, total - off), this.offset + off);
      if (r === 0) {
        throw new AttributionError(
          'INDEX_TRUNCATED',
          `${this.label}: file ended after ${off} of ${total} bytes`,
          500,
        );
      }
      off += r;
    }
    for (let p = 0; p < this.pageCount; p++) {
      const { start, end } = packedPageRange(p, this.pageEntries, this.length, this.bits);
      if (pageChecksum(bytes.subarray(start, end)) !== this.checksums[p]) {
        throw new AttributionError(
          'INDEX_CORRUPT',
          `${this.label}: page ${p} fails its checksum; the index file was altered or damaged`,
          500,
        );
      }
    }
    this.pageReads += this.pageCount;
    // Drop the page cache: everything is resident now.
    this.slots = 0;
    this.used = 0;
    this.head = this.tail = this.lastPageNo = -1;
    this.buf = [];
    this.w32 = [];
    this.lastPage = new Uint8Array(0);
    this.lastWords = new Int32Array(0);
    this.slotOfPage = this.pageOfSlot = this.prev = this.next = new Int32Array(0);
    if (this.packed) {
      wordsToLittleEndian(words);
      this.flatWords = words;
    } else if (LITTLE_ENDIAN && (this.width === 1 || this.width === 2 || this.width === 4)) {
      this.flat =
        this.width === 1
          ? bytes
          : this.width === 2
            ? new Uint16Array(words.buffer, 0, this.length)
            : new Uint32Array(words.buffer, 0, this.length);
    } else this.flatBytes = bytes;
  }

  /** Pages currently held by the cache. */
  get cachedPages(): number {
    return this.used;
  }

  /** Bytes this array holds in memory now: the preloaded section, or the filled part of the cache. */
  get residentBytes(): number {
    if (this.flat !== null || this.flatBytes !== null || this.flatWords !== null) return this.sectionBytes;
    if (this.slots === 0) return 0;
    return this.used * this.pageBytes + (this.pageCount + 3 * this.slots) * 4;
  }
}

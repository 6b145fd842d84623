import { readSync } from 'node:fs';
import { endianness } from 'node:os';
import { AttributionError } from './errors.ts';

const LITTLE_ENDIAN = endianness() === 'LE';

/**
 * 32-bit checksum of a page (multiplicative hash over little-endian 32-bit words, then the tail
 * bytes). Not cryptographic: it detects corruption of a page when that page is first read, so an
 * index can be opened lazily without hashing the whole file. The index header (hashed with SHA-256)
 * holds every page's checksum, so the checksums themselves cannot be altered unnoticed.
 */
export function pageChecksum(bytes: Uint8Array): number {
  let h = 0x9747b28c ^ bytes.length;
  const words = bytes.length >>> 2;
  if (LITTLE_ENDIAN && bytes.byteOffset % 4 === 0) {
    const w32 = new Int32Array(bytes.buffer, bytes.byteOffset, words);
    for (let i = 0; i < words; i++) {
      h = Math.imul(h ^ w32[i], 0x5bd1e995);
      h ^= h >>> 15;
    }
  } else {
    const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    for (let i = 0; i < words; i++) {
      h = Math.imul(h ^ view.getUint32(i * 4, true), 0x5bd1e995);
      h ^= h >>> 15;
    }
  }
  for (let i = words * 4; i < bytes.length; i++) {
    h = Math.imul(h ^ bytes[i], 0x5bd1e995);
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

/**
 * A read-only array of fixed-width unsigned integers stored in a file section, read on demand in
 * pages (`pageEntries` entries each) through a small LRU page cache. Each page is checked against
 * its stored checksum the first time it is read.
 */
export class PagedUintArray {
  private readonly cache = new Map<number, Uint8Array>();
  private lastPageNo = -1;
  private lastPage: Uint8Array = new Uint8Array(0);
  /** After preload() with a native width (1, 2, 4 bytes): the whole array as a typed array. */
  private flat: Uint8Array | Uint16Array | Uint32Array | null = null;
  pageReads = 0;

  constructor(
    private readonly fd: number,
    private readonly offset: number,
    readonly length: number,
    readonly width: number,
    readonly pageEntries: number,
    private readonly checksums: Uint32Array,
    private maxPages: number,
    private readonly label: string,
  ) {}

  get(i: number): number {
    if (this.flat !== null) return this.flat[i];
    const p = Math.floor(i / this.pageEntries);
    const page = p === this.lastPageNo ? this.lastPage : this.load(p);
    return readUint(page, (i - p * this.pageEntries) * this.width, this.width);
  }

  private load(p: number): Uint8Array {
    let page = this.cache.get(p);
    if (page) {
      // LRU: move to the most recent end.
      this.cache.delete(p);
      this.cache.set(p, page);
    } else {
      if (p < 0 || p >= this.checksums.length) {
        throw new AttributionError('INDEX_RANGE', `${this.label}: entry page ${p} is outside the index`, 500);
      }
      const entries = Math.min(this.pageEntries, this.length - p * this.pageEntries);
      page = new Uint8Array(entries * this.width);
      const pos = this.offset + p * this.pageEntries * this.width;
      let got = 0;
      while (got < page.length) {
        const r = readSync(this.fd, page, got, page.length - got, pos + got);
        if (r === 0) break;
        got += r;
      }
      this.pageReads++;
      if (got !== page.length) {
        throw new AttributionError(
          'INDEX_TRUNCATED',
          `${this.label}: page ${p} is truncated (read ${got} of ${page.length} bytes)`,
          500,
        );
      }
      if (pageChecksum(page) !== this.checksums[p]) {
        throw new AttributionError(
          'INDEX_CORRUPT',
          `${this.label}: page ${p} fails its checksum; the index file was altered or damaged`,
          500,
        );
      }
      this.cache.set(p, page);
      if (this.cache.size > this.maxPages) {
        const oldest = this.cache.keys().next().value as number;
        this.cache.delete(oldest);
        if (oldest === this.lastPageNo) this.lastPageNo = -1;
      }
    }
    this.lastPageNo = p;
    this.lastPage = page;
    return page;
  }

  /**
   * Reads the whole section into memory with large sequential reads (checking every page), for
   * indexes that fit in RAM: queries then touch memory only, as with a memory-mapped index.
   */
  preload(): void {
    const bytes = new Uint8Array(this.length * this.width);
    const chunk = 64 * 1024 * 1024;
    for (let off = 0; off < bytes.length; ) {
      const r = readSync(this.fd, bytes, off, Math.min(chunk, bytes.length - off), this.offset + off);
      if (r === 0) {
        throw new AttributionError(
          'INDEX_TRUNCATED',
          `${this.label}: file ended after ${off} of ${bytes.length} bytes`,
          500,
        );
      }
      off += r;
    }
    const pageBytes = this.pageEntries * this.width;
    for (let p = 0; p < this.checksums.length; p++) {
      const page = bytes.subarray(p * pageBytes, Math.min(bytes.length, (p + 1) * pageBytes));
      if (pageChecksum(page) !== this.checksums[p]) {
        throw new AttributionError(
          'INDEX_CORRUPT',
          `${this.label}: page ${p} fails its checksum; the index file was altered or damaged`,
          500,
        );
      }
    }
    this.pageReads += this.checksums.length;
    this.cache.clear();
    this.lastPageNo = -1;
    if (endianness() === 'LE' && (this.width === 1 || this.width === 2 || this.width === 4)) {
      this.flat =
        this.width === 1
          ? bytes
          : this.width === 2
            ? new Uint16Array(bytes.buffer, 0, this.length)
            : new Uint32Array(bytes.buffer, 0, this.length);
    } else {
      // Odd widths: keep every page resident (the cache never evicts them).
      for (let p = 0; p < this.checksums.length; p++) {
        this.cache.set(p, bytes.subarray(p * pageBytes, Math.min(bytes.length, (p + 1) * pageBytes)));
      }
      this.maxPages = Number.POSITIVE_INFINITY;
    }
  }

  get cachedPages(): number {
    return this.cache.size;
  }
}

import { createHash } from 'node:crypto';
import { closeSync, fstatSync, openSync, readSync, renameSync, writeSync } from 'node:fs';
import { endianness } from 'node:os';
import { AttributionError } from './errors.ts';
import {
  PagedUintArray,
  packBits,
  packedBytes,
  packedPageRange,
  pageChecksum,
  readUint,
  wordsToLittleEndian,
  writeUint,
} from './paged.ts';
import { buildSuffixArray } from './sais.ts';
import { sampleSuffixes } from './span-samples.ts';

/**
 * Span index: a suffix array over the token ids of a training corpus, on disk, read lazily.
 *
 * Text. Documents are concatenated, each followed by a separator. Token id `t` is stored as symbol
 * `t + 1`; the separator is symbol 0, so no match can cross a document boundary (queries never
 * contain symbol 0). n = Σ (document length + 1).
 *
 * File layout (all integers little-endian), format version 3:
 *
 *   0    magic "OLSPANIX"              8 bytes
 *   8    version (3)                   u32
 *   12   tokenBits, saBits             u8, u8   (bits per stored symbol / per suffix-array entry)
 *   14   sampleShift, sampleDepth      u8, u8   (a sample every k = 2^sampleShift rows, h symbols each)
 *   16   n, docCount, alphabet, pageEntries                           u64 each
 *   48   offsets of meta, metaLength, docStarts, buckets, samples, blockLcp,
 *        pageSums, tokens, sa, and the file length                     u64 each
 *   128  SHA-256 over bytes [0,128) and [160, tokensOffset)            32 bytes
 *   160  meta        JSON document map, columnar: rowIds[d], contribution[d] → contributions[],
 *                    contributor[d] → contributors[]  (doc → row → contribution → contributor)
 *        docStarts   docCount × u64: first text position of each document
 *        buckets     (alphabet + 1) × u64: SA start of each first symbol (gives unigram counts in O(1))
 *        samples     ⌈n/k⌉ × (h − 1) × sampleWidth bytes, sampleWidth = ⌈tokenBits / 8⌉: symbols
 *                    1 … h − 1 of the suffix at every k-th SA row (symbol 0 is implied by the bucket
 *                    the row lies in)
 *        blockLcp    ⌈n/k⌉ × u8: bound on the LCP of adjacent suffixes in each block of k rows
 *        pageSums    u32 checksum of every page of tokens, then of sa
 *        tokens      ⌈n × tokenBits / 8⌉ bytes: the text symbols, bit-packed
 *        sa          ⌈n × saBits / 8⌉ bytes: the suffix array, bit-packed
 *
 * Bit packing. Each of the two sections is one little-endian bit stream: entry i occupies stream
 * bits [i·b, (i + 1)·b) (b = tokenBits or saBits), stream bit j being bit j mod 8 of section byte
 * ⌊j / 8⌋, the entry's low bit first; the bits after the last entry of the last byte are 0. So entry
 * i is read by loading the bytes from ⌊i·b / 8⌋ (at most 5, as b ≤ 31), shifting right by i·b mod 8
 * and masking b bits (paged.ts does it with two aligned 32-bit words). Page p of a section holds
 * entries [p·E, (p + 1)·E) (E = pageEntries) and is the byte range [⌊p·E·b / 8⌋, ⌈min((p + 1)·E,
 * n)·b / 8⌉) of the section; when E·b is not a multiple of 8 neighbouring pages share a byte, so no
 * entry straddles two pages, and each page's checksum covers its whole range. With the default E =
 * 1,024, pages are disjoint and whole 32-bit words.
 *
 * Widths are the fewest bits that hold the values: tokenBits = bits(alphabet − 1), saBits = bits(n −
 * 1). File size per corpus token, with n ≈ tokens + documents:
 *
 *   bytes/token ≈ (n / tokens) × (tokenBits / 8 + saBits / 8) + overhead,
 *   overhead = ((h − 1) × sampleWidth + 1) / k                       (sampled table: 0.14 with the
 *              + (8 × (alphabet + 1 + docCount) + 8 × ⌈n/E⌉ + meta + 160) / tokens     defaults)
 *
 * E.g. a 32,000-id vocabulary (15 bits) over 50M tokens (26 bits): 5.13 + 0.22 ≈ 5.36 B/token. With
 * ≤ 65,535 ids (symbols ≤ 65,535: 16 bits) the core is at most 2 + 30/8 = 5.75 B/token below 2^30
 * tokens and 5.875 below 2^31 (the largest text), so the file stays under 6 B/token while the
 * overhead (0.2 with documents of ~500 tokens) is below 0.25, resp. 0.125.
 *
 * Version 2 (still read; `formatVersion: 2` writes it) is the same layout with whole bytes: header
 * bytes 12, 13 are tokenWidth, saWidth in bytes (bits = 8 × width), tokenWidth = bytes(alphabet − 1),
 * saWidth = bytes(n − 1): 2 + 4 = 6 B/token plus overhead at 50M tokens. A version-3 section whose
 * width is a multiple of 8 has exactly the version-2 bytes.
 *
 * Loading is lazy: `open` reads and hashes only the header and the tables before the token section;
 * the token and suffix-array sections are read on demand with positional reads into an LRU page
 * cache, each page checked against its checksum when read. A truncated file fails at open (its
 * length is in the header); an altered byte fails at open (tables) or when its page is read.
 *
 * Searching (why the tables): a binary search over a suffix array on disk costs two random page
 * reads per step (the SA entry, then the text it points to), ~2·log2(n) per pattern — about 50 for
 * 50M tokens, times every position of an output. Resident instead are the bucket table (the first
 * step, free) and the sampled table (see span-samples.ts): the search runs over the samples in
 * memory until it is inside one block of k rows, then reads that block's SA page and about log2(k)
 * token pages. Longest matches are computed from the last position of the output backwards (see
 * `longestMatches`): inside a copied passage each position extends the match found after it with no
 * search, and a bound from the position after it proves most short matches short with no search
 * either. Span selection counts only the candidates it may keep, and a candidate found this way is
 * usually proved unique from memory (`locate`).
 *
 * Resident after open: the sampled table (((h − 1) × 2 + 1) / k bytes per row for a 16-bit
 * vocabulary: 7 MB for 50M tokens with the defaults), the bucket and document-start tables, the page
 * checksums, the document map, and the page cache as it fills (up to `cacheBytes`). Pages stay small
 * (1,024 entries by default): reads are random, so a bigger page only adds bytes to each miss.
 */

export interface CorpusDocument {
  /** Token ids (unsigned 32-bit integers) of the document. */
  tokens: ArrayLike<number>;
  rowId: string;
  contributionId?: string;
  /** Contributor address (0x…). */
  contributor: string;
}

export interface DocumentInfo {
  rowId: string;
  contributionId: string | null;
  contributor: string;
}

export interface BuildSpanIndexOptions {
  /** Entries per page of the lazily read sections (default 1024: small pages suit random reads). */
  pageEntries?: number;
  /** Sample every k-th suffix-array row, k a power of two in [1, 65536] (default 64). */
  sampleEvery?: number;
  /**
   * Symbols compared per sample, in [2, 32] (default 5). The first comes from the bucket table, so
   * depth − 1 are stored. On a 50M-token Zipfian corpus, k = 64, h = 5 keeps 7 MB resident (2.3% of
   * the file) for ~870 page reads per 500-token span query; k = 32, h = 4 11 MB for ~790; k = 128,
   * h = 6 4.3 MB for ~1,000; h = 3 costs ~30% more reads (too many samples tie with the query).
   */
  sampleDepth?: number;
  /**
   * File format to write: 3 (default, bit-packed sections) or 2 (whole bytes per entry), for
   * readers that predate version 3. Both are read.
   */
  formatVersion?: 2 | 3;
}

export interface SpanIndexBuildStats {
  tokens: number;
  textLength: number;
  documents: number;
  fileBytes: number;
  /** File bytes per corpus token (everything). */
  bytesPerToken: number;
  /**
   * Bytes per corpus token of the token and suffix-array sections alone: (tokenBits + saBits) / 8
   * per text symbol, the text counting one separator per document.
   */
  coreBytesPerToken: number;
  /** Bytes per corpus token of everything else: header, document map and tables, sampled table. */
  overheadBytesPerToken: number;
  formatVersion: 2 | 3;
  /** Bits per stored symbol and per suffix-array entry (8 × the byte widths in format version 2). */
  tokenBits: number;
  saBits: number;
  suffixArrayMs: number;
  totalMs: number;
}

const LITTLE_ENDIAN = endianness() === 'LE';
const MAGIC = 'OLSPANIX';
const VERSION = 3;
const HEADER = 160;
const HASHED_HEADER = 128;
const FIELDS = 14;

/** Fewest bits that hold every value in [0, maxValue] (at least 1). */
function bitsFor(maxValue: number): number {
  let b = 1;
  while (maxValue >= 2 ** b) b++;
  return b;
}

/** Builds the in-memory text (symbols) of a corpus: token + 1, separator 0 after every document. */
export function corpusText(docs: readonly CorpusDocument[]): {
  text: Int32Array;
  docStarts: Float64Array;
  alphabet: number;
} {
  let n = 0;
  let maxTok = -1;
  docs.forEach((d, i) => {
    if (!d || typeof d.rowId !== 'string' || typeof d.contributor !== 'string') {
      throw new AttributionError('INVALID_DOCUMENT', `docs[${i}] needs string rowId and contributor`);
    }
    n += d.tokens.length + 1;
  });
  if (n >= 2 ** 31)
    throw new AttributionError('CORPUS_TOO_LARGE', `corpus text must be < 2^31 tokens, got ${n}`);
  const text = new Int32Array(n);
  const docStarts = new Float64Array(docs.length);
  let p = 0;
  docs.forEach((d, i) => {
    docStarts[i] = p;
    const t = d.tokens;
    for (let k = 0; k < t.length; k++) {
      const v = t[k];
      if (!Number.isInteger(v) || v < 0 || v > 0xfffffffe) {
        throw new AttributionError(
          'INVALID_TOKEN',
          `docs[${i}].tokens[${k}] = ${v} is not a token id in [0, 2^32-1)`,
        );
      }
      if (v > maxTok) maxTok = v;
      text[p++] = v + 1;
    }
    text[p++] = 0;
  });
  if (maxTok + 2 > 0x3fffffff) throw new AttributionError('INVALID_TOKEN', 'token ids must be < 2^30 - 1');
  return { text, docStarts, alphabet: maxTok + 2 };
}

/** Builds the suffix array of a corpus and writes the index file (atomically: temp file + rename). */
export function buildSpanIndex(
  docs: readonly CorpusDocument[],
  path: string,
  options: BuildSpanIndexOptions = {},
): SpanIndexBuildStats {
  const t0 = performance.now();
  checkBuildOptions(options);
  const { text, docStarts, alphabet } = corpusText(docs);
  const t1 = performance.now();
  const sa = buildSuffixArray(text, alphabet);
  const suffixArrayMs = performance.now() - t1;
  const stats = writeSpanIndex(path, docs, { text, docStarts, alphabet, sa }, options);
  return { ...stats, suffixArrayMs, totalMs: performance.now() - t0 };
}

function checkBuildOptions(options: BuildSpanIndexOptions): Required<BuildSpanIndexOptions> {
  const formatVersion = options.formatVersion ?? VERSION;
  if (formatVersion !== 2 && formatVersion !== 3) {
    throw new AttributionError('INVALID_OPTION', `formatVersion must be 2 or 3, got ${formatVersion}`);
  }
  const pageEntries = options.pageEntries ?? 1024;
  if (!Number.isInteger(pageEntries) || pageEntries < 16 || pageEntries > 1 << 24) {
    throw new AttributionError(
      'INVALID_OPTION',
      `pageEntries must be an integer in [16, 2^24], got ${pageEntries}`,
    );
  }
  const sampleEvery = options.sampleEvery ?? 64;
  if (
    !Number.isInteger(sampleEvery) ||
    sampleEvery < 1 ||
    sampleEvery > 65536 ||
    (sampleEvery & (sampleEvery - 1)) !== 0
  ) {
    throw new AttributionError(
      'INVALID_OPTION',
      `sampleEvery must be a power of two in [1, 65536], got ${sampleEvery}`,
    );
  }
  const sampleDepth = options.sampleDepth ?? 5;
  if (!Number.isInteger(sampleDepth) || sampleDepth < 2 || sampleDepth > 32) {
    throw new AttributionError(
      'INVALID_OPTION',
      `sampleDepth must be an integer in [2, 32], got ${sampleDepth}`,
    );
  }
  return { pageEntries, sampleEvery, sampleDepth, formatVersion };
}

/**
 * Writes an index file from a corpus, its text and its suffix array (the second half of
 * buildSpanIndex; also lets a caller that already has the suffix array skip rebuilding it).
 */
export function writeSpanIndex(
  path: string,
  docs: readonly CorpusDocument[],
  built: { text: Int32Array; docStarts: Float64Array; alphabet: number; sa: Int32Array },
  options: BuildSpanIndexOptions = {},
): Omit<SpanIndexBuildStats, 'suffixArrayMs' | 'totalMs'> {
  const { pageEntries, sampleEvery, sampleDepth, formatVersion } = checkBuildOptions(options);
  const { text, docStarts, alphabet, sa } = built;
  const n = text.length;
  const counts = new Float64Array(alphabet + 1);
  for (let i = 0; i < n; i++) counts[text[i] + 1]++;
  for (let c = 1; c <= alphabet; c++) counts[c] += counts[c - 1]; // counts[c] = SA start of symbol c
  const { prefixes, blockLcp } = sampleSuffixes(text, sa, sampleEvery, sampleDepth);
  const sampleCount = blockLcp.length;

  const meta = Buffer.from(JSON.stringify(encodeDocMap(docs)));
  // Version 3: the fewest bits; version 2: the fewest whole bytes. The sampled table stays in whole
  // bytes (it is read into a typed array at open).
  const sampleWidth = Math.ceil(bitsFor(alphabet - 1) / 8);
  const tokenBits = formatVersion === 3 ? bitsFor(alphabet - 1) : 8 * sampleWidth;
  const saBits = formatVersion === 3 ? bitsFor(n - 1) : 8 * Math.ceil(bitsFor(n - 1) / 8);
  const tokenPages = Math.ceil(n / pageEntries);
  const metaOffset = HEADER;
  const docStartsOffset = metaOffset + meta.length;
  const bucketsOffset = docStartsOffset + docs.length * 8;
  const samplesOffset = bucketsOffset + (alphabet + 1) * 8;
  const blockLcpOffset = samplesOffset + prefixes.length * sampleWidth;
  const pageSumsOffset = blockLcpOffset + sampleCount;
  const tokensOffset = pageSumsOffset + tokenPages * 2 * 4;
  const saOffset = tokensOffset + packedBytes(n, tokenBits);
  const fileLength = saOffset + packedBytes(n, saBits);

  const small = Buffer.alloc(tokensOffset - HEADER);
  meta.copy(small, 0);
  for (let d = 0; d < docs.length; d++) writeUint(small, docStartsOffset - HEADER + d * 8, 8, docStarts[d]);
  for (let c = 0; c <= alphabet; c++) writeUint(small, bucketsOffset - HEADER + c * 8, 8, counts[c]);
  for (let t = 0; t < prefixes.length; t++)
    writeUint(small, samplesOffset - HEADER + t * sampleWidth, sampleWidth, prefixes[t]);
  small.set(blockLcp, blockLcpOffset - HEADER);
  const pageSums = new DataView(small.buffer, small.byteOffset + pageSumsOffset - HEADER, tokenPages * 8);

  const tmp = `${path}.tmp-${process.pid}`;
  const fd = openSync(tmp, 'w');
  try {
    // Packs a section in chunks of whole pages that start on a byte boundary (q pages with q·E·bits
    // a multiple of 8, ~1M entries a chunk), checksums each page's byte range and writes the chunk.
    const writeSection = (src: Int32Array, bits: number, offset: number, sumBase: number) => {
      let q = 1;
      while ((q * pageEntries * bits) % 8 !== 0) q *= 2;
      const chunkPages = q * Math.max(1, Math.floor((1 << 20) / (q * pageEntries)));
      const chunkEntries = chunkPages * pageEntries;
      const words = new Int32Array(Math.ceil((chunkEntries * bits) / 32) + 1);
      const bytes = new Uint8Array(words.buffer);
      for (let p0 = 0; p0 < tokenPages; p0 += chunkPages) {
        const e0 = p0 * pageEntries;
        const e1 = Math.min(n, e0 + chunkEntries);
        const b0 = (e0 * bits) / 8; // a whole number: chunks start on byte boundaries
        const b1 = packedBytes(e1, bits);
        words.fill(0);
        packBits(src, e0, e1, bits, words);
        wordsToLittleEndian(words, Math.ceil((b1 - b0) / 4));
        for (let p = p0; p < Math.min(tokenPages, p0 + chunkPages); p++) {
          const { start, end } = packedPageRange(p, pageEntries, n, bits);
          pageSums.setUint32((sumBase + p) * 4, pageChecksum(bytes.subarray(start - b0, end - b0)), true);
        }
        writeSync(fd, bytes, 0, b1 - b0, offset + b0);
      }
    };
    writeSection(text, tokenBits, tokensOffset, 0);
    writeSection(sa, saBits, saOffset, tokenPages);
    const header = Buffer.alloc(HEADER);
    header.write(MAGIC, 0, 'latin1');
    header.writeUInt32LE(formatVersion, 8);
    header[12] = formatVersion === 3 ? tokenBits : tokenBits / 8;
    header[13] = formatVersion === 3 ? saBits : saBits / 8;
    header[14] = Math.log2(sampleEvery);
    header[15] = sampleDepth;
    const fields = [
      n,
      docs.length,
      alphabet,
      pageEntries,
      metaOffset,
      meta.length,
      docStartsOffset,
      bucketsOffset,
      samplesOffset,
      blockLcpOffset,
      pageSumsOffset,
      tokensOffset,
      saOffset,
      fileLength,
    ];
    fields.forEach((v, i) => {
      writeUint(header, 16 + i * 8, 8, v);
    });
    createHash('sha256')
      .update(header.subarray(0, HASHED_HEADER))
      .update(small)
      .digest()
      .copy(header, HASHED_HEADER);
    writeSync(fd, header, 0, HEADER, 0);
    writeSync(fd, small, 0, small.length, HEADER);
  } finally {
    closeSync(fd);
  }
  renameSync(tmp, path);
  const tokens = Math.max(1, n - docs.length);
  const core = packedBytes(n, tokenBits) + packedBytes(n, saBits);
  return {
    tokens: n - docs.length,
    textLength: n,
    documents: docs.length,
    fileBytes: fileLength,
    bytesPerToken: fileLength / tokens,
    coreBytesPerToken: core / tokens,
    overheadBytesPerToken: (fileLength - core) / tokens,
    formatVersion,
    tokenBits,
    saBits,
  };
}

export interface OpenSpanIndexOptions {
  /** Page cache budget in bytes, shared by the token and suffix-array sections (default 64 MiB). */
  cacheBytes?: number;
  /**
   * Read the token and suffix-array sections fully into memory at open (every page checked), for
   * indexes that fit in RAM; queries then never touch the disk. Default: only when both sections
   * fit within `cacheBytes`; otherwise lazy paging.
   */
  preload?: boolean;
}

/** Half-open range [lo, hi) of suffix-array rows whose suffixes start with a pattern. */
export interface SaRange {
  lo: number;
  hi: number;
}

export interface LongestMatches {
  /** length[i]: longest prefix of query[i..] that occurs in the corpus (0 if none). */
  length: Int32Array;
  /** SA range of that longest prefix (count = hi − lo); filled only when ranges are requested. */
  lo: Float64Array;
  hi: Float64Array;
  /**
   * Where one occurrence of that longest prefix is, as far as the search learnt it without extra
   * reads: its text position, its SA row, or both (−1 for unknown; at least one is set when
   * length > 0). Pass them to `locate` as a hint.
   */
  position: Float64Array;
  row: Float64Array;
}

/**
 * Occurrences of an n-gram: their count, and their SA rows [lo, hi) — or, when the tables in memory
 * prove that a known occurrence is the only one, lo = hi = −1 and `position` is its text position.
 */
export interface SpanLocation {
  count: number;
  lo: number;
  hi: number;
  position: number;
}

/** What an open index holds in memory, in bytes. */
export interface SpanIndexMemory {
  /** The sampled suffix table and its per-block LCP bounds. */
  samples: number;
  /** Document starts, bucket table and page checksums. */
  tables: number;
  /** Token and suffix-array pages held now (the whole sections when preloaded). */
  pages: number;
  /** The document map as stored (JSON bytes; its decoded objects take a few times that). */
  documentMap: number;
  total: number;
}

/** A lazily loaded span index (see the file comment for the format). Call `close()` when done. */
export class SpanIndex {
  readonly path: string;
  readonly textLength: number;
  readonly documentCount: number;
  readonly alphabet: number;
  /** File format version (2: whole-byte sections; 3: bit-packed). */
  readonly formatVersion: number;
  /** Bits per stored symbol and per suffix-array entry (8 × the byte widths of a version-2 file). */
  readonly tokenBits: number;
  readonly saBits: number;
  readonly fileBytes: number;
  /** Sampling of the in-memory suffix table: every `sampleEvery` rows, `sampleDepth` symbols. */
  readonly sampleEvery: number;
  readonly sampleDepth: number;
  readonly docs: readonly DocumentInfo[];
  private readonly fd: number;
  private readonly docStarts: Float64Array;
  private readonly buckets: Float64Array;
  private readonly sampleShift: number;
  private readonly prefixes: Uint16Array | Uint32Array;
  private readonly blockLcp: Uint8Array;
  private readonly pageSums: Uint32Array;
  private readonly metaLength: number;
  private readonly tok: PagedUintArray;
  private readonly sa: PagedUintArray;
  private closed = false;

  private constructor(path: string, fd: number, options: OpenSpanIndexOptions) {
    this.path = path;
    this.fd = fd;
    const size = fstatSync(fd).size;
    const fail = (code: string, msg: string): never => {
      throw new AttributionError(code, `span index ${path}: ${msg}`, 422);
    };
    if (size < HEADER)
      fail('INDEX_TRUNCATED', `file is ${size} bytes, shorter than the ${HEADER}-byte header`);
    const header = Buffer.alloc(HEADER);
    readFully(fd, header, 0);
    if (header.toString('latin1', 0, 8) !== MAGIC) fail('INDEX_FORMAT', 'not a span index (bad magic)');
    const version = header.readUInt32LE(8);
    if (version === 1)
      fail('INDEX_VERSION', 'version 1 predates the sampled suffix table (version 2); rebuild the index');
    if (version !== 2 && version !== VERSION)
      fail('INDEX_VERSION', `unsupported version ${version} (supported: 2, ${VERSION})`);
    this.formatVersion = version;
    // Version 2 stores byte widths, version 3 bit widths; the sampled table is in whole bytes in both.
    const widthScale = version === 2 ? 8 : 1;
    this.tokenBits = header[12] * widthScale;
    this.saBits = header[13] * widthScale;
    const sampleWidth = Math.ceil(this.tokenBits / 8);
    this.sampleShift = header[14];
    this.sampleDepth = header[15];
    this.sampleEvery = 2 ** this.sampleShift;
    const f = (i: number) => readUint(header, 16 + i * 8, 8);
    const [n, docCount, alphabet, pageEntries, metaOffset, metaLength, docStartsOffset, bucketsOffset] = [
      f(0),
      f(1),
      f(2),
      f(3),
      f(4),
      f(5),
      f(6),
      f(7),
    ];
    const [samplesOffset, blockLcpOffset, pageSumsOffset, tokensOffset, saOffset, fileLength] = [
      f(8),
      f(9),
      f(10),
      f(11),
      f(12),
      f(FIELDS - 1),
    ];
    if (size < fileLength)
      fail('INDEX_TRUNCATED', `file is truncated: ${size} of ${fileLength} bytes present`);
    if (size > fileLength) fail('INDEX_CORRUPT', `file has ${size - fileLength} unexpected trailing bytes`);
    const sampleCount = Math.ceil(n / this.sampleEvery);
    const pages = Math.ceil(n / Math.max(1, pageEntries));
    // Packed widths (not a multiple of 8) are read 31 bits at most; whole-byte widths up to 4 / 6 bytes.
    const badBits = (b: number, maxBytes: number) => b < 1 || b > 8 * maxBytes || (b % 8 !== 0 && b > 31);
    if (
      badBits(this.tokenBits, 4) ||
      badBits(this.saBits, 6) ||
      2 ** this.tokenBits < alphabet ||
      2 ** this.saBits < n ||
      this.sampleShift > 16 ||
      this.sampleDepth < 2 ||
      this.sampleDepth > 32 ||
      pageEntries < 1 ||
      metaOffset !== HEADER ||
      docStartsOffset !== metaOffset + metaLength ||
      bucketsOffset !== docStartsOffset + docCount * 8 ||
      samplesOffset !== bucketsOffset + (alphabet + 1) * 8 ||
      blockLcpOffset !== samplesOffset + sampleCount * (this.sampleDepth - 1) * sampleWidth ||
      pageSumsOffset !== blockLcpOffset + sampleCount ||
      tokensOffset !== pageSumsOffset + pages * 8 ||
      saOffset !== tokensOffset + packedBytes(n, this.tokenBits) ||
      fileLength !== saOffset + packedBytes(n, this.saBits)
    ) {
      fail('INDEX_CORRUPT', 'header fields are inconsistent');
    }
    const small = Buffer.alloc(tokensOffset - HEADER);
    readFully(fd, small, HEADER);
    const digest = createHash('sha256').update(header.subarray(0, HASHED_HEADER)).update(small).digest();
    if (!digest.equals(header.subarray(HASHED_HEADER, HEADER))) {
      fail('INDEX_CORRUPT', 'header checksum mismatch; the file was altered or damaged');
    }
    this.textLength = n;
    this.documentCount = docCount;
    this.alphabet = alphabet;
    this.fileBytes = fileLength;
    this.metaLength = metaLength;
    this.docs = decodeDocMap(JSON.parse(small.toString('utf8', 0, metaLength)), docCount, path);
    this.docStarts = new Float64Array(docCount);
    for (let d = 0; d < docCount; d++)
      this.docStarts[d] = readUint(small, docStartsOffset - HEADER + d * 8, 8);
    this.buckets = new Float64Array(alphabet + 1);
    for (let c = 0; c <= alphabet; c++) this.buckets[c] = readUint(small, bucketsOffset - HEADER + c * 8, 8);
    const symbols = sampleCount * (this.sampleDepth - 1);
    this.prefixes = readSymbols(small, samplesOffset - HEADER, symbols, sampleWidth);
    this.blockLcp = Uint8Array.from(small.subarray(blockLcpOffset - HEADER, pageSumsOffset - HEADER));
    const sums = new Uint32Array(pages * 2);
    for (let p = 0; p < pages * 2; p++) sums[p] = small.readUInt32LE(pageSumsOffset - HEADER + p * 4);
    this.pageSums = sums;
    const cacheBytes = options.cacheBytes ?? 64 * 1024 * 1024;
    const tokPages = Math.max(4, Math.floor((cacheBytes * 0.4 * 8) / (pageEntries * this.tokenBits)));
    const saPages = Math.max(4, Math.floor((cacheBytes * 0.6 * 8) / (pageEntries * this.saBits)));
    this.tok = new PagedUintArray(
      fd,
      tokensOffset,
      n,
      this.tokenBits,
      pageEntries,
      sums.subarray(0, pages),
      tokPages,
      `span index ${path} tokens`,
    );
    this.sa = new PagedUintArray(
      fd,
      saOffset,
      n,
      this.saBits,
      pageEntries,
      sums.subarray(pages),
      saPages,
      `span index ${path} suffix array`,
    );
    const preload = options.preload ?? this.tok.sectionBytes + this.sa.sectionBytes <= cacheBytes;
    if (preload) {
      this.tok.preload();
      this.sa.preload();
    }
  }

  /** Opens an index file; reads only the header and small tables now. */
  static open(path: string, options: OpenSpanIndexOptions = {}): SpanIndex {
    let fd: number;
    try {
      fd = openSync(path, 'r');
    } catch (e) {
      throw new AttributionError('INDEX_NOT_FOUND', `span index ${path}: ${(e as Error).message}`, 404);
    }
    try {
      return new SpanIndex(path, fd, options);
    } catch (e) {
      closeSync(fd);
      throw e;
    }
  }

  close(): void {
    if (!this.closed) closeSync(this.fd);
    this.closed = true;
  }

  /** Number of corpus tokens (separators excluded). */
  get tokenCount(): number {
    return this.textLength - this.documentCount;
  }

  /** Pages read from disk so far (a cache-miss counter). */
  get pageReads(): number {
    return this.tok.pageReads + this.sa.pageReads;
  }

  /** What the open index holds in memory. */
  get memory(): SpanIndexMemory {
    const samples = this.prefixes.byteLength + this.blockLcp.byteLength;
    const tables = this.docStarts.byteLength + this.buckets.byteLength + this.pageSums.byteLength;
    const pages = this.tok.residentBytes + this.sa.residentBytes;
    return {
      samples,
      tables,
      pages,
      documentMap: this.metaLength,
      total: samples + tables + pages + this.metaLength,
    };
  }

  /** Reads every page and checks its checksum (a full integrity check; `open` checks lazily). */
  verifyAll(): void {
    for (let i = 0; i < this.textLength; i += this.tok.pageEntries) this.tok.get(i);
    for (let i = 0; i < this.textLength; i += this.sa.pageEntries) this.sa.get(i);
  }

  /** Symbol of a query token, or −1 if the token never occurs in the corpus. */
  private querySymbol(token: number): number {
    if (!Number.isInteger(token) || token < 0 || token + 1 >= this.alphabet) return -1;
    const c = token + 1;
    return this.buckets[c + 1] > this.buckets[c] ? c : -1;
  }

  /** Number of occurrences of a single token. */
  unigramCount(token: number): number {
    const c = this.querySymbol(token);
    return c < 0 ? 0 : this.buckets[c + 1] - this.buckets[c];
  }

  /**
   * Order of the last comparison: −1 if the pattern sorts before the suffix, +1 after, 0 if the
   * pattern is a prefix of the suffix; 2 (samples only) if the sample's stored symbols all agree
   * and the pattern is longer, so the suffix itself must be read.
   */
  private cmp = 0;

  /**
   * Longest common prefix of pattern P[from, from + m) with the suffix at text position p, given
   * that the first `l` symbols are known to agree; sets `cmp`. Query symbols are ≥ 1; separators
   * are 0 and the text end is −1.
   */
  private lcp(P: Int32Array, from: number, m: number, p: number, l: number): number {
    const n = this.textLength;
    while (l < m) {
      const s = p + l < n ? this.tok.get(p + l) : -1;
      const q = P[from + l];
      if (s !== q) {
        this.cmp = q < s ? -1 : 1;
        return l;
      }
      l++;
    }
    this.cmp = 0;
    return l;
  }

  /**
   * As `lcp`, against the stored symbols of sample j (memory only); `cmp` = 2 when undecided. The
   * sample must lie in P[from]'s bucket (its first symbol is not stored), and l ≥ 1.
   */
  private sampleLcp(P: Int32Array, from: number, m: number, j: number, l: number): number {
    const h = this.sampleDepth;
    const base = j * (h - 1) - 1;
    const lim = Math.min(m, h);
    const pre = this.prefixes;
    while (l < lim) {
      const s = pre[base + l];
      const q = P[from + l];
      if (s !== q) {
        this.cmp = q < s ? -1 : 1;
        return l;
      }
      l++;
    }
    this.cmp = l >= m ? 0 : 2;
    return l;
  }

  /** Bound on the LCP of the suffixes at SA rows x and x + 1 (memory only). */
  private pairLcp(x: number): number {
    return this.blockLcp[Math.floor(x / this.sampleEvery)];
  }

  /** Results of `bound`: common prefix of the pattern with the rows before and at the bound. */
  private lcpBefore = 0;
  private lcpAt = 0;
  /** Set when `bound` stopped early: a row sharing at least `stopAt` symbols with the pattern. */
  private hitRow = -1;

  /**
   * First SA row in [lo, hi) whose suffix is ≥ P[from, from + m), a prefix-equal suffix counting
   * as ≥ — or with `upper`, the first that sorts after P and does not start with it. Every row in
   * [lo, hi) must start with P[from]. Sets `lcpBefore` / `lcpAt` (1 at the ends of [lo, hi)).
   *
   * The search runs over the samples in memory first (a sample decides unless P agrees with all its
   * stored symbols), then inside the one block of rows between two samples, reading the block's SA
   * page and one token page per step. Each step skips the symbols that both current bounds share
   * with P (Manber & Myers), so a step usually reads a single token page.
   *
   * With `stopAt`, returns −1 as soon as a row shares ≥ stopAt symbols with P, setting `hitRow`.
   */
  private bound(
    P: Int32Array,
    from: number,
    m: number,
    upper: boolean,
    lo: number,
    hi: number,
    stopAt = Number.POSITIVE_INFINITY,
  ): number {
    const k = this.sampleEvery;
    // Rows outside [lo, hi) are never compared; every row inside shares P[from], hence the 1s.
    let lcpA = 1;
    let lcpB = 1;
    const s0 = Math.ceil(lo / k);
    const s1 = Math.ceil(hi / k);
    let a = s0;
    let b = s1;
    while (a < b) {
      const j = (a + b) >>> 1;
      let l = this.sampleLcp(P, from, m, j, Math.min(lcpA, lcpB));
      if (this.cmp === 2 && l < stopAt) l = this.lcp(P, from, m, this.sa.get(j * k), l);
      if (l >= stopAt) {
        this.hitRow = j * k;
        return -1;
      }
      if (upper ? this.cmp < 0 : this.cmp <= 0) {
        b = j;
        lcpB = l;
      } else {
        a = j + 1;
        lcpA = l;
      }
    }
    // The answer is in (row of sample a − 1, row of sample a]; rows strictly between are no samples.
    let x0 = a > s0 ? (a - 1) * k + 1 : lo;
    let x1 = a < s1 ? a * k : hi;
    while (x0 < x1) {
      const mid = (x0 + x1) >>> 1;
      const l = this.lcp(P, from, m, this.sa.get(mid), Math.min(lcpA, lcpB));
      if (l >= stopAt) {
        this.hitRow = mid;
        return -1;
      }
      if (upper ? this.cmp < 0 : this.cmp <= 0) {
        x1 = mid;
        lcpB = l;
      } else {
        x0 = mid + 1;
        lcpA = l;
      }
    }
    this.lcpBefore = lcpA;
    this.lcpAt = lcpB;
    return x0;
  }

  private symbols(tokens: ArrayLike<number>): Int32Array {
    const syms = new Int32Array(tokens.length);
    for (let i = 0; i < tokens.length; i++) syms[i] = this.querySymbol(tokens[i]);
    return syms;
  }

  /**
   * SA range of P[from, from + m) (all symbols valid, m ≥ 1), within its first symbol's bucket. With
   * `row` (a row known to start with the pattern), each end is searched only if the per-block LCP
   * bound says the neighbouring row could also start with it.
   */
  private rangeOf(P: Int32Array, from: number, m: number, row = -1): SaRange {
    const c0 = P[from];
    const blo = this.buckets[c0];
    const bhi = this.buckets[c0 + 1];
    if (m === 1) return { lo: blo, hi: bhi };
    if (row >= 0) {
      // Most n-grams met here occur once: check each neighbour (memory bound, then one read) before
      // searching for the end of the range.
      let lo = row;
      if (row > blo && this.pairLcp(row - 1) >= m && this.lcp(P, from, m, this.sa.get(row - 1), 1) >= m) {
        lo = this.bound(P, from, m, false, blo, row - 1);
      }
      let hi = row + 1;
      if (hi < bhi && this.pairLcp(row) >= m && this.lcp(P, from, m, this.sa.get(hi), 1) >= m) {
        hi = this.bound(P, from, m, true, hi + 1, bhi);
      }
      return { lo, hi };
    }
    const lo = this.bound(P, from, m, false, blo, bhi);
    return { lo, hi: this.bound(P, from, m, true, lo, bhi) };
  }

  /**
   * True when memory alone proves that P[from, from + m) (m ≥ 2) occurs at most once: among the
   * samples it falls strictly between two that do not start with it, and no two adjacent rows of
   * the block between them share m symbols.
   */
  private atMostOnce(P: Int32Array, from: number, m: number): boolean {
    const c0 = P[from];
    const k = this.sampleEvery;
    let a = Math.ceil(this.buckets[c0] / k);
    let b = Math.ceil(this.buckets[c0 + 1] / k);
    let lcpA = 1;
    let lcpB = 1;
    while (a < b) {
      const j = (a + b) >>> 1;
      const l = this.sampleLcp(P, from, m, j, Math.min(lcpA, lcpB));
      if (this.cmp === 0 || this.cmp === 2) return false;
      if (this.cmp < 0) {
        b = j;
        lcpB = l;
      } else {
        a = j + 1;
        lcpA = l;
      }
    }
    return a >= 1 && this.blockLcp[a - 1] < m;
  }

  /** SA range of all occurrences of `tokens` (empty range if absent; the whole text for []). */
  find(tokens: ArrayLike<number>): SaRange {
    if (tokens.length === 0) return { lo: 0, hi: this.textLength };
    const P = this.symbols(tokens);
    if (P.some((c) => c < 0)) return { lo: 0, hi: 0 };
    return this.rangeOf(P, 0, P.length);
  }

  /** Number of occurrences of an n-gram in the corpus. */
  count(tokens: ArrayLike<number>): number {
    const r = this.find(tokens);
    return r.hi - r.lo;
  }

  /**
   * Occurrences of `tokens`, given (optionally) one of them — its text position and/or SA row, as
   * `longestMatches` reports them for its longest matches and their prefixes. The hint must be
   * right: it is not checked. A hinted occurrence that memory proves unique costs no reads.
   */
  locate(tokens: ArrayLike<number>, hint: { position?: number; row?: number } = {}): SpanLocation {
    const none = { count: 0, lo: 0, hi: 0, position: -1 };
    if (tokens.length === 0) return { count: this.textLength, lo: 0, hi: this.textLength, position: -1 };
    const P = this.symbols(tokens);
    if (P.some((c) => c < 0)) return none;
    const row = hint.row ?? -1;
    const position = hint.position ?? -1;
    if (row < 0 && position >= 0 && P.length > 1 && this.atMostOnce(P, 0, P.length)) {
      return { count: 1, lo: -1, hi: -1, position };
    }
    const r = this.rangeOf(P, 0, P.length, row);
    return { count: r.hi - r.lo, lo: r.lo, hi: r.hi, position: -1 };
  }

  /** Text positions of the occurrences in a location, at most `limit` of them. */
  locationPositions(loc: SpanLocation, limit = Number.POSITIVE_INFINITY): number[] {
    if (loc.lo < 0) return loc.count > 0 && limit > 0 ? [loc.position] : [];
    return this.positions(loc, limit);
  }

  /** True when text[p, p + d) equals P[from, from + d). */
  private textEquals(P: Int32Array, from: number, d: number, p: number): boolean {
    if (p < 0) return false;
    for (let t = 0; t < d; t++) if (this.tok.get(p + t) !== P[from + t]) return false;
    return true;
  }

  /**
   * Longest match at each position (infini-gram style): for every start i (or only the starts in
   * `positions`), the longest prefix of query[i..] that occurs in the corpus. With `minLength`, a
   * position whose longest match is shorter than that reports 0 (span selection needs no more, and
   * proving a match short is often free, see below). With `ranges`, also the SA range (hence the
   * count) of each reported match.
   *
   * Positions are taken from the last to the first. If the longest match at i + d has length L and
   * occurs at text position o, the match at i is at most d + L long. If that bound is below
   * `minLength`, no search is needed. If text[o − d, o) equals query[i, i + d), the match at i is
   * exactly d + L long, at o − d, with no search either. Otherwise one sample-guided binary search of
   * the rest of the query in its first token's bucket finds its insertion point; the longest match
   * is the longer common prefix with the two neighbouring suffixes there, and the search stops as
   * soon as a suffix reaches the bound.
   */
  longestMatches(
    query: ArrayLike<number>,
    positions?: ArrayLike<number>,
    ranges = false,
    minLength = 1,
  ): LongestMatches {
    const m = query.length;
    const length = new Int32Array(m);
    const lo = new Float64Array(m);
    const hi = new Float64Array(m);
    const position = new Float64Array(m).fill(-1);
    const row = new Float64Array(m).fill(-1);
    const syms = this.symbols(query);
    // validEnd[i]: end of the run of tokens present in the corpus that starts at i.
    const validEnd = new Int32Array(m + 1);
    validEnd[m] = m;
    for (let i = m - 1; i >= 0; i--) validEnd[i] = syms[i] < 0 ? i : validEnd[i + 1];
    let order: number[];
    if (positions) {
      const seen = new Uint8Array(m);
      for (let k = 0; k < positions.length; k++) {
        const i = positions[k];
        if (!Number.isInteger(i) || i < 0 || i >= m) {
          throw new AttributionError(
            'INVALID_PARAM',
            `positions[${k}] = ${i} is not an index into the query (length ${m})`,
          );
        }
        seen[i] = 1;
      }
      order = [];
      for (let i = m - 1; i >= 0; i--) if (seen[i]) order.push(i);
    } else order = Array.from({ length: m }, (_, k) => m - 1 - k);

    // The previous (larger) position answered: a bound on its match length (exact when `nextExact`)
    // and, when exact, where the match occurs (text position and/or SA row, −1 if unknown).
    let next = -1;
    let nextLen = 0;
    let nextExact = false;
    let nextPos = -1;
    let nextRow = -1;
    for (const i of order) {
      let L = 0;
      let exact = true;
      let pos = -1;
      let r = -1;
      if (syms[i] >= 0) {
        const len = validEnd[i] - i;
        let bound = len;
        if (next > i) {
          const d = next - i;
          bound = Math.min(len, d + nextLen);
          if (bound < minLength) {
            L = bound;
            exact = false;
          } else if (nextExact && nextLen > 0 && bound === d + nextLen) {
            if (nextPos < 0) nextPos = this.sa.get(nextRow);
            if (this.textEquals(syms, i, d, nextPos - d)) {
              L = bound;
              pos = nextPos - d;
            }
          }
        } else if (bound < minLength) {
          L = bound;
          exact = false;
        }
        if (L === 0) {
          const c0 = syms[i];
          const blo = this.buckets[c0];
          const bhi = this.buckets[c0 + 1];
          if (bound <= 1) {
            L = 1;
            r = blo;
          } else {
            const at = this.bound(syms, i, len, false, blo, bhi, bound);
            if (at < 0) {
              L = bound;
              r = this.hitRow;
            } else {
              const before = this.lcpBefore;
              const here = this.lcpAt;
              const useAt = at < bhi && here >= before;
              L = useAt ? here : before;
              r = useAt ? at : at - 1;
            }
          }
        }
      }
      if (L >= minLength) {
        length[i] = L;
        position[i] = pos;
        row[i] = r;
      }
      next = i;
      nextLen = L;
      nextExact = exact;
      nextPos = pos;
      nextRow = r;
    }
    if (ranges) {
      for (const i of order) {
        if (length[i] === 0) continue;
        const rg = this.rangeOf(syms, i, length[i], row[i]);
        lo[i] = rg.lo;
        hi[i] = rg.hi;
      }
    }
    return { length, lo, hi, position, row };
  }

  /** Text positions of the suffixes in SA rows [lo, hi), at most `limit` of them. */
  positions(range: SaRange, limit = Number.POSITIVE_INFINITY): number[] {
    const out: number[] = [];
    const end = Math.min(range.hi, range.lo + limit);
    for (let x = range.lo; x < end; x++) out.push(this.sa.get(x));
    return out;
  }

  /** Document index holding text position p. */
  documentAt(p: number): number {
    if (p < 0 || p >= this.textLength)
      throw new AttributionError('INVALID_POSITION', `position ${p} is outside the text`);
    let a = 0;
    let b = this.documentCount - 1;
    while (a < b) {
      const mid = Math.ceil((a + b) / 2);
      if (this.docStarts[mid] <= p) a = mid;
      else b = mid - 1;
    }
    return a;
  }

  /** Token ids of document d (reads its pages). */
  documentTokens(d: number): number[] {
    const start = this.docStarts[d];
    const end = d + 1 < this.documentCount ? this.docStarts[d + 1] - 1 : this.textLength - 1;
    const out: number[] = [];
    for (let p = start; p < end; p++) out.push(this.tok.get(p) - 1);
    return out;
  }
}

/**
 * Document map, columnar and deduplicated: contributors and contribution ids are listed once and
 * referenced by index from each document.
 */
interface DocMapJson {
  rowIds: string[];
  contributions: (string | null)[];
  contributors: string[];
  contribution: number[];
  contributor: number[];
}

function encodeDocMap(docs: readonly CorpusDocument[]): DocMapJson {
  const contributions = new Map<string | null, number>();
  const contributors = new Map<string, number>();
  const idx = <K>(m: Map<K, number>, k: K) => {
    let v = m.get(k);
    if (v === undefined) {
      v = m.size;
      m.set(k, v);
    }
    return v;
  };
  const contribution = docs.map((d) => idx(contributions, d.contributionId ?? null));
  const contributor = docs.map((d) => idx(contributors, d.contributor));
  return {
    rowIds: docs.map((d) => d.rowId),
    contributions: [...contributions.keys()],
    contributors: [...contributors.keys()],
    contribution,
    contributor,
  };
}

function decodeDocMap(j: DocMapJson, count: number, path: string): DocumentInfo[] {
  if (
    !j ||
    j.rowIds?.length !== count ||
    j.contribution?.length !== count ||
    j.contributor?.length !== count
  ) {
    throw new AttributionError(
      'INDEX_CORRUPT',
      `span index ${path}: document map does not list ${count} documents`,
      422,
    );
  }
  return j.rowIds.map((rowId, d) => ({
    rowId,
    contributionId: j.contributions[j.contribution[d]] ?? null,
    contributor: j.contributors[j.contributor[d]],
  }));
}

/** Symbols stored `width` bytes each, little-endian, as a typed array (16-bit when they fit). */
function readSymbols(b: Buffer, off: number, count: number, width: number): Uint16Array | Uint32Array {
  const out = width <= 2 ? new Uint16Array(count) : new Uint32Array(count);
  if (width === 2 && LITTLE_ENDIAN) {
    new Uint8Array(out.buffer).set(b.subarray(off, off + count * 2));
    return out;
  }
  for (let t = 0; t < count; t++, off += width) out[t] = readUint(b, off, width);
  return out;
}

function readFully(fd: number, buf: Uint8Array, position: number): void {
  let got = 0;
  while (got < buf.length) {
    const r = readSync(fd, buf, got, buf.length - got, position + got);
    if (r === 0)
      throw new AttributionError('INDEX_TRUNCATED', `file ended after ${position + got} bytes`, 422);
    got += r;
  }
}

import { createHash } from 'node:crypto';
import { closeSync, fstatSync, openSync, readSync, renameSync, writeSync } from 'node:fs';
import { AttributionError } from './errors.ts';
import { PagedUintArray, pageChecksum, readUint, writeUint } from './paged.ts';
import { buildSuffixArray } from './sais.ts';

/**
 * Span index: a suffix array over the token ids of a training corpus, on disk, read lazily.
 *
 * Text. Documents are concatenated, each followed by a separator. Token id `t` is stored as symbol
 * `t + 1`; the separator is symbol 0, so no match can cross a document boundary (queries never
 * contain symbol 0). n = Σ (document length + 1).
 *
 * File layout (all integers little-endian):
 *
 *   0    magic "OLSPANIX"              8 bytes
 *   8    version (1)                   u32
 *   12   tokenWidth, saWidth           u8, u8   (bytes per stored symbol / per suffix-array entry)
 *   16   n, docCount, alphabet, pageEntries                          u64 each
 *   48   offsets of meta, metaLength, docStarts, buckets, pageSums,
 *        tokens, sa, and the file length                              u64 each
 *   128  SHA-256 over bytes [0,128) and [160, tokensOffset)           32 bytes
 *   160  meta        JSON document map, columnar: rowIds[d], contribution[d] → contributions[],
 *                    contributor[d] → contributors[]  (doc → row → contribution → contributor)
 *        docStarts   docCount × u64: first text position of each document
 *        buckets     (alphabet + 1) × u64: SA start of each first symbol (gives unigram counts in O(1))
 *        pageSums    u32 checksum of every page of tokens, then of sa
 *        tokens      n × tokenWidth bytes: the text symbols
 *        sa          n × saWidth bytes: the suffix array
 *
 * Widths are the fewest bytes that hold the values: tokenWidth = bytes(alphabet − 1), saWidth =
 * bytes(n − 1). For a vocabulary of at most 65,535 ids and any corpus under 2^32 tokens that is
 * 2 + 4 = 6 bytes per token (2 + 3 = 5 under 2^24 tokens); a vocabulary above 65,535 ids costs one
 * more byte per token. Everything else (header, doc table, bucket table, page checksums of 4 bytes
 * per page of `pageEntries` entries) is small next to n.
 *
 * Loading is lazy: `open` reads and hashes only the header and the small tables; the token and
 * suffix-array sections are read on demand with positional reads into an LRU page cache, each page
 * checked against its checksum the first time it is read. A truncated file fails at open (its
 * length is in the header); an altered byte fails at open (tables) or when its page is read.
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
  /** Entries per page of the lazily read sections (default 1024: small pages suit binary search). */
  pageEntries?: number;
}

export interface SpanIndexBuildStats {
  tokens: number;
  textLength: number;
  documents: number;
  fileBytes: number;
  /** File bytes per corpus token (everything). */
  bytesPerToken: number;
  /** Bytes per token of the token and suffix-array sections alone (tokenWidth + saWidth, per text symbol). */
  coreBytesPerToken: number;
  tokenWidth: number;
  saWidth: number;
  suffixArrayMs: number;
  totalMs: number;
}

const MAGIC = 'OLSPANIX';
const VERSION = 1;
const HEADER = 160;
const HASHED_HEADER = 128;

function bytesFor(maxValue: number): number {
  let w = 1;
  while (maxValue >= 2 ** (8 * w)) w++;
  return w;
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
  const pageEntries = options.pageEntries ?? 1024;
  if (!Number.isInteger(pageEntries) || pageEntries < 16 || pageEntries > 1 << 24) {
    throw new AttributionError(
      'INVALID_OPTION',
      `pageEntries must be an integer in [16, 2^24], got ${pageEntries}`,
    );
  }
  const { text, docStarts, alphabet } = corpusText(docs);
  const n = text.length;
  const t1 = performance.now();
  const sa = buildSuffixArray(text, alphabet);
  const suffixArrayMs = performance.now() - t1;

  const counts = new Float64Array(alphabet + 1);
  for (let i = 0; i < n; i++) counts[text[i] + 1]++;
  for (let c = 1; c <= alphabet; c++) counts[c] += counts[c - 1]; // counts[c] = SA start of symbol c

  const meta = Buffer.from(JSON.stringify(encodeDocMap(docs)));
  const tokenWidth = bytesFor(alphabet - 1);
  const saWidth = bytesFor(Math.max(n - 1, 1));
  const tokenPages = Math.ceil(n / pageEntries);
  const metaOffset = HEADER;
  const docStartsOffset = metaOffset + meta.length;
  const bucketsOffset = docStartsOffset + docs.length * 8;
  const pageSumsOffset = bucketsOffset + (alphabet + 1) * 8;
  const tokensOffset = pageSumsOffset + tokenPages * 2 * 4;
  const saOffset = tokensOffset + n * tokenWidth;
  const fileLength = saOffset + n * saWidth;

  const small = Buffer.alloc(tokensOffset - HEADER);
  meta.copy(small, 0);
  for (let d = 0; d < docs.length; d++) writeUint(small, docStartsOffset - HEADER + d * 8, 8, docStarts[d]);
  for (let c = 0; c <= alphabet; c++) writeUint(small, bucketsOffset - HEADER + c * 8, 8, counts[c]);
  const pageSums = new DataView(small.buffer, small.byteOffset + pageSumsOffset - HEADER, tokenPages * 8);

  const tmp = `${path}.tmp-${process.pid}`;
  const fd = openSync(tmp, 'w');
  try {
    const writeArray = (src: Int32Array, width: number, offset: number, sumBase: number) => {
      const buf = Buffer.alloc(pageEntries * width);
      for (let p = 0; p < tokenPages; p++) {
        const start = p * pageEntries;
        const count = Math.min(pageEntries, n - start);
        const bytes = buf.subarray(0, count * width);
        for (let k = 0; k < count; k++) writeUint(bytes, k * width, width, src[start + k]);
        pageSums.setUint32((sumBase + p) * 4, pageChecksum(bytes), true);
        writeSync(fd, bytes, 0, bytes.length, offset + start * width);
      }
    };
    writeArray(text, tokenWidth, tokensOffset, 0);
    writeArray(sa, saWidth, saOffset, tokenPages);
    const header = Buffer.alloc(HEADER);
    header.write(MAGIC, 0, 'latin1');
    header.writeUInt32LE(VERSION, 8);
    header[12] = tokenWidth;
    header[13] = saWidth;
    const fields = [
      n,
      docs.length,
      alphabet,
      pageEntries,
      metaOffset,
      meta.length,
      docStartsOffset,
      bucketsOffset,
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
  return {
    tokens: n - docs.length,
    textLength: n,
    documents: docs.length,
    fileBytes: fileLength,
    bytesPerToken: fileLength / Math.max(1, n - docs.length),
    coreBytesPerToken: (n * (tokenWidth + saWidth)) / Math.max(1, n - docs.length),
    tokenWidth,
    saWidth,
    suffixArrayMs,
    totalMs: performance.now() - t0,
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
}

/** A lazily loaded span index (see the file comment for the format). Call `close()` when done. */
export class SpanIndex {
  readonly path: string;
  readonly textLength: number;
  readonly documentCount: number;
  readonly alphabet: number;
  readonly tokenWidth: number;
  readonly saWidth: number;
  readonly fileBytes: number;
  readonly docs: readonly DocumentInfo[];
  private readonly fd: number;
  private readonly docStarts: Float64Array;
  private readonly buckets: Float64Array;
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
    if (version !== VERSION) fail('INDEX_VERSION', `unsupported version ${version} (supported: ${VERSION})`);
    this.tokenWidth = header[12];
    this.saWidth = header[13];
    const f = (i: number) => readUint(header, 16 + i * 8, 8);
    const [n, docCount, alphabet, pageEntries, , metaLength, docStartsOffset, bucketsOffset, pageSumsOffset] =
      [f(0), f(1), f(2), f(3), f(4), f(5), f(6), f(7), f(8)];
    const tokensOffset = f(9);
    const saOffset = f(10);
    const fileLength = f(11);
    if (size < fileLength)
      fail('INDEX_TRUNCATED', `file is truncated: ${size} of ${fileLength} bytes present`);
    if (size > fileLength) fail('INDEX_CORRUPT', `file has ${size - fileLength} unexpected trailing bytes`);
    if (
      this.tokenWidth < 1 ||
      this.tokenWidth > 4 ||
      this.saWidth < 1 ||
      this.saWidth > 6 ||
      pageEntries < 1 ||
      tokensOffset > fileLength ||
      saOffset !== tokensOffset + n * this.tokenWidth ||
      fileLength !== saOffset + n * this.saWidth
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
    this.docs = decodeDocMap(JSON.parse(small.toString('utf8', 0, metaLength)), docCount, path);
    this.docStarts = new Float64Array(docCount);
    for (let d = 0; d < docCount; d++)
      this.docStarts[d] = readUint(small, docStartsOffset - HEADER + d * 8, 8);
    this.buckets = new Float64Array(alphabet + 1);
    for (let c = 0; c <= alphabet; c++) this.buckets[c] = readUint(small, bucketsOffset - HEADER + c * 8, 8);
    const pages = Math.ceil(n / pageEntries);
    const sums = new Uint32Array(pages * 2);
    for (let p = 0; p < pages * 2; p++) sums[p] = small.readUInt32LE(pageSumsOffset - HEADER + p * 4);
    const cacheBytes = options.cacheBytes ?? 64 * 1024 * 1024;
    const tokPages = Math.max(4, Math.floor((cacheBytes * 0.4) / (pageEntries * this.tokenWidth)));
    const saPages = Math.max(4, Math.floor((cacheBytes * 0.6) / (pageEntries * this.saWidth)));
    this.tok = new PagedUintArray(
      fd,
      tokensOffset,
      n,
      this.tokenWidth,
      pageEntries,
      sums.subarray(0, pages),
      tokPages,
      `span index ${path} tokens`,
    );
    this.sa = new PagedUintArray(
      fd,
      saOffset,
      n,
      this.saWidth,
      pageEntries,
      sums.subarray(pages),
      saPages,
      `span index ${path} suffix array`,
    );
    const preload = options.preload ?? n * (this.tokenWidth + this.saWidth) <= cacheBytes;
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

  /** Reads every page and checks its checksum (a full integrity check; `open` checks lazily). */
  verifyAll(): void {
    for (let i = 0; i < this.textLength; i += this.tok.pageEntries) this.tok.get(i);
    for (let i = 0; i < this.textLength; i += this.sa.pageEntries) this.sa.get(i);
  }

  /** Symbol at text position p (−1 past the end, standing for the virtual sentinel). */
  private sym(p: number): number {
    return p < this.textLength ? this.tok.get(p) : -1;
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
   * Longest common prefix of pattern P[from, from + m) with the suffix at text position p, and the
   * order: sets `this.cmp` to −1 if the pattern sorts before the suffix, +1 after, 0 if the pattern
   * is a prefix of the suffix. Query symbols are ≥ 1; separators are 0 and the text end is −1.
   */
  private cmp = 0;
  private lcp(P: Int32Array, from: number, m: number, p: number): number {
    let l = 0;
    while (l < m) {
      const s = this.sym(p + l);
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

  /** First SA row in [lo, hi) whose suffix is ≥ P (prefix-equal counts as ≥). */
  private lowerBound(P: Int32Array, from: number, m: number, lo: number, hi: number): number {
    while (lo < hi) {
      const mid = Math.floor((lo + hi) / 2);
      this.lcp(P, from, m, this.sa.get(mid));
      if (this.cmp > 0) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  /** First SA row in [lo, hi) whose suffix does not start with P and sorts after it. */
  private upperBound(P: Int32Array, from: number, m: number, lo: number, hi: number): number {
    while (lo < hi) {
      const mid = Math.floor((lo + hi) / 2);
      this.lcp(P, from, m, this.sa.get(mid));
      if (this.cmp >= 0) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  private symbols(tokens: ArrayLike<number>): Int32Array {
    const syms = new Int32Array(tokens.length);
    for (let i = 0; i < tokens.length; i++) syms[i] = this.querySymbol(tokens[i]);
    return syms;
  }

  /** SA range of P[from, from + m) (all symbols valid, m ≥ 1): two binary searches in its first symbol's bucket. */
  private rangeOf(P: Int32Array, from: number, m: number): SaRange {
    const c0 = P[from];
    const blo = this.buckets[c0];
    const bhi = this.buckets[c0 + 1];
    if (m === 1) return { lo: blo, hi: bhi };
    const lo = this.lowerBound(P, from, m, blo, bhi);
    return { lo, hi: this.upperBound(P, from, m, lo, bhi) };
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
   * Longest match at each position (infini-gram style): for every start i (or only the starts in
   * `positions`), the longest prefix of query[i..] that occurs in the corpus. One binary search of
   * the whole remaining query inside the bucket of its first token finds its insertion point; the
   * longest match is the longer common prefix with the two neighbouring suffixes there.
   * With `ranges`, also the SA range (hence the count) of each longest match.
   */
  longestMatches(query: ArrayLike<number>, positions?: ArrayLike<number>, ranges = false): LongestMatches {
    const m = query.length;
    const length = new Int32Array(m);
    const lo = new Float64Array(m);
    const hi = new Float64Array(m);
    const syms = this.symbols(query);
    // valid[i]: symbols from i up to (excluding) the next token absent from the corpus.
    const validEnd = new Int32Array(m + 1);
    validEnd[m] = m;
    for (let i = m - 1; i >= 0; i--) validEnd[i] = syms[i] < 0 ? i : validEnd[i + 1];
    const run = (i: number) => {
      const c0 = syms[i];
      if (c0 < 0) return;
      const len = validEnd[i] - i;
      const blo = this.buckets[c0];
      const bhi = this.buckets[c0 + 1];
      const at = this.lowerBound(syms, i, len, blo, bhi);
      let best = 1;
      if (at < bhi) best = Math.max(best, this.lcp(syms, i, len, this.sa.get(at)));
      if (at > blo) best = Math.max(best, this.lcp(syms, i, len, this.sa.get(at - 1)));
      length[i] = best;
      if (ranges) {
        const r = this.rangeOf(syms, i, best);
        lo[i] = r.lo;
        hi[i] = r.hi;
      }
    };
    if (positions) for (let k = 0; k < positions.length; k++) run(positions[k]);
    else for (let i = 0; i < m; i++) run(i);
    return { length, lo, hi };
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

function readFully(fd: number, buf: Uint8Array, position: number): void {
  let got = 0;
  while (got < buf.length) {
    const r = readSync(fd, buf, got, buf.length - got, position + got);
    if (r === 0)
      throw new AttributionError('INDEX_TRUNCATED', `file ended after ${position + got} bytes`, 422);
    got += r;
  }
}

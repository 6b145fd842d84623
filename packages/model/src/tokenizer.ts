// Byte-level BPE (GPT-2 style), loaded from and saved to Hugging Face `tokenizer.json`, plus a trainer.
// Written here rather than taken from npm: the maintained JS tokenizers either pull a WASM/native
// runtime (@huggingface/tokenizers bindings) or a whole inference stack (@huggingface/transformers);
// byte-level BPE is ~300 lines and this one also trains, which none of them do.
import { ModelFormatError } from './errors.ts';

/** GPT-2's pre-tokenizer pattern (split before BPE). */
export const GPT2_PATTERN =
  "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+";

/** GPT-2's reversible byte → printable unicode character mapping. */
function bytesToUnicode(): string[] {
  const bs: number[] = [];
  for (let b = 33; b <= 126; b++) bs.push(b);
  for (let b = 161; b <= 172; b++) bs.push(b);
  for (let b = 174; b <= 255; b++) bs.push(b);
  const cs = bs.slice();
  let n = 0;
  for (let b = 0; b < 256; b++) {
    if (!bs.includes(b)) {
      bs.push(b);
      cs.push(256 + n);
      n++;
    }
  }
  const out = new Array<string>(256);
  bs.forEach((b, i) => {
    out[b] = String.fromCharCode(cs[i]);
  });
  return out;
}

export const BYTE_TO_UNICODE = bytesToUnicode();
const UNICODE_TO_BYTE = new Map(BYTE_TO_UNICODE.map((c, b) => [c, b]));

const encoder = new TextEncoder();

/** UTF-8 bytes of s (lone surrogates become U+FFFD) as byte-level unicode characters. */
export function toByteLevel(s: string): string {
  const bytes = encoder.encode(s);
  let out = '';
  for (const b of bytes) out += BYTE_TO_UNICODE[b];
  return out;
}

/** Rewrites `(?i:...)` groups (unsupported by JS before ES2025) into explicit [aA] classes. */
function jsRegexSource(pattern: string): string {
  let out = '';
  let i = 0;
  while (i < pattern.length) {
    if (pattern.startsWith('(?i:', i)) {
      let depth = 1;
      let j = i + 4;
      let inner = '';
      let inClass = false;
      while (j < pattern.length && depth > 0) {
        const ch = pattern[j];
        if (ch === '\\') {
          inner += ch + pattern[j + 1];
          j += 2;
          continue;
        }
        if (!inClass && ch === '(') depth++;
        if (!inClass && ch === ')') {
          depth--;
          if (depth === 0) break;
        }
        if (ch === '[') inClass = true;
        if (ch === ']') inClass = false;
        inner += !inClass && /[a-zA-Z]/.test(ch) ? `[${ch.toLowerCase()}${ch.toUpperCase()}]` : ch;
        j++;
      }
      out += `(?:${inner})`;
      i = j + 1;
    } else {
      out += pattern[i];
      i++;
    }
  }
  return out;
}

export interface AddedToken {
  id: number;
  content: string;
  special: boolean;
}

export interface TokenizerJsonOptions {
  /** Pre-tokenizer regex (HF Split pattern or ByteLevel's GPT-2 pattern). */
  pattern?: string;
  addPrefixSpace?: boolean;
  ignoreMerges?: boolean;
}

export class BpeTokenizer {
  readonly vocab: Map<string, number>;
  readonly idToToken: string[];
  /** "left right" → merge rank. */
  readonly mergeRanks: Map<string, number>;
  readonly merges: [string, string][];
  readonly added: AddedToken[];
  readonly pattern: string;
  readonly addPrefixSpace: boolean;
  readonly ignoreMerges: boolean;
  private readonly splitter: RegExp;
  private readonly addedRe: RegExp | null;
  private readonly addedById = new Map<number, AddedToken>();
  private readonly cache = new Map<string, number[]>();

  constructor(
    vocab: Map<string, number>,
    merges: [string, string][],
    added: AddedToken[] = [],
    opts: TokenizerJsonOptions = {},
  ) {
    this.vocab = vocab;
    this.merges = merges;
    this.added = added;
    this.pattern = opts.pattern ?? GPT2_PATTERN;
    this.addPrefixSpace = opts.addPrefixSpace ?? false;
    this.ignoreMerges = opts.ignoreMerges ?? false;
    let maxId = -1;
    for (const id of vocab.values()) maxId = Math.max(maxId, id);
    for (const a of added) maxId = Math.max(maxId, a.id);
    this.idToToken = new Array<string>(maxId + 1);
    for (const [tok, id] of vocab) this.idToToken[id] = tok;
    for (const a of added) {
      this.idToToken[a.id] = a.content;
      this.addedById.set(a.id, a);
    }
    this.mergeRanks = new Map(merges.map(([l, r], i) => [`${l} ${r}`, i]));
    try {
      this.splitter = new RegExp(jsRegexSource(this.pattern), 'gu');
    } catch (e) {
      throw new ModelFormatError(
        `tokenizer pre_tokenizer pattern is not a usable regex: ${(e as Error).message}`,
      );
    }
    const esc = added
      .map((a) => a.content)
      .filter((s) => s.length > 0)
      .sort((x, y) => y.length - x.length)
      .map((s) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'));
    this.addedRe = esc.length ? new RegExp(esc.join('|'), 'g') : null;
  }

  get vocabSize(): number {
    return this.idToToken.length;
  }

  /** Id of an added/special token such as <|endoftext|>, or undefined. */
  specialId(content: string): number | undefined {
    return this.added.find((a) => a.content === content)?.id;
  }

  /** Encodes text. Added tokens in the text are recognised when `allowSpecial` (default true). */
  encode(text: string, opts: { allowSpecial?: boolean } = {}): number[] {
    const out: number[] = [];
    const allow = opts.allowSpecial ?? true;
    if (!allow || !this.addedRe) {
      this.encodeOrdinary(text, out);
      return out;
    }
    let last = 0;
    for (const m of text.matchAll(this.addedRe)) {
      this.encodeOrdinary(text.slice(last, m.index), out);
      out.push(this.added.find((a) => a.content === m[0])!.id);
      last = m.index! + m[0].length;
    }
    this.encodeOrdinary(text.slice(last), out);
    return out;
  }

  private encodeOrdinary(text: string, out: number[]): void {
    if (!text) return;
    if (this.addPrefixSpace && !text.startsWith(' ')) text = ` ${text}`;
    for (const m of text.matchAll(this.splitter)) {
      const word = toByteLevel(m[0]);
      let ids = this.cache.get(word);
      if (!ids) {
        ids = this.bpe(word);
        if (this.cache.size < 100_000) this.cache.set(word, ids);
      }
      for (const id of ids) out.push(id);
    }
  }

  /** Applies merges to one pre-token (byte-level string), lowest rank first. */
  private bpe(word: string): number[] {
    if (this.ignoreMerges) {
      const whole = this.vocab.get(word);
      if (whole !== undefined) return [whole];
    }
    let syms = Array.from(word);
    while (syms.length > 1) {
      let best = -1;
      let bestRank = Number.POSITIVE_INFINITY;
      for (let i = 0; i < syms.length - 1; i++) {
        const r = this.mergeRanks.get(`${syms[i]} ${syms[i + 1]}`);
        if (r !== undefined && r < bestRank) {
          bestRank = r;
          best = i;
        }
      }
      if (best < 0) break;
      const merged = syms[best] + syms[best + 1];
      const next: string[] = [];
      for (let i = 0; i < syms.length; i++) {
        if (i < syms.length - 1 && syms[i] === syms[best] && syms[i + 1] === syms[best + 1]) {
          next.push(merged);
          i++;
        } else next.push(syms[i]);
      }
      syms = next;
    }
    const ids: number[] = [];
    for (const s of syms) {
      const id = this.vocab.get(s);
      if (id !== undefined) {
        ids.push(id);
        continue;
      }
      // A symbol missing from the vocabulary: fall back to its single bytes.
      for (const ch of s) {
        const bid = this.vocab.get(ch);
        if (bid === undefined)
          throw new ModelFormatError(`tokenizer vocabulary lacks the byte symbol ${JSON.stringify(ch)}`);
        ids.push(bid);
      }
    }
    return ids;
  }

  /** Raw bytes of a token sequence (special tokens contribute their UTF-8 text). */
  decodeBytes(ids: Iterable<number>): Uint8Array {
    const bytes: number[] = [];
    for (const id of ids) {
      const added = this.addedById.get(id);
      if (added) {
        for (const b of encoder.encode(added.content)) bytes.push(b);
        continue;
      }
      const tok = this.idToToken[id];
      if (tok === undefined)
        throw new RangeError(`token id ${id} outside vocabulary 0..${this.idToToken.length - 1}`);
      for (const ch of tok) {
        const b = UNICODE_TO_BYTE.get(ch);
        if (b !== undefined) bytes.push(b);
        else for (const eb of encoder.encode(ch)) bytes.push(eb);
      }
    }
    return Uint8Array.from(bytes);
  }

  decode(ids: Iterable<number>): string {
    let s = new TextDecoder().decode(this.decodeBytes(ids));
    if (this.addPrefixSpace && s.startsWith(' ')) s = s.slice(1);
    return s;
  }

  /** Incremental decoder for streaming: push ids, get the text completed so far (UTF-8 safe). */
  streamDecoder(): { push(id: number): string; flush(): string } {
    const dec = new TextDecoder();
    return {
      push: (id: number) => dec.decode(this.decodeBytes([id]), { stream: true }),
      flush: () => dec.decode(),
    };
  }

  /** Hugging Face tokenizer.json object. */
  toJSON(): object {
    const vocabObj: Record<string, number> = {};
    for (const [t, id] of [...this.vocab].sort((a, b) => a[1] - b[1])) vocabObj[t] = id;
    const isGpt2 = this.pattern === GPT2_PATTERN;
    return {
      version: '1.0',
      truncation: null,
      padding: null,
      added_tokens: this.added.map((a) => ({
        id: a.id,
        content: a.content,
        single_word: false,
        lstrip: false,
        rstrip: false,
        normalized: false,
        special: a.special,
      })),
      normalizer: null,
      pre_tokenizer: isGpt2
        ? { type: 'ByteLevel', add_prefix_space: this.addPrefixSpace, trim_offsets: true, use_regex: true }
        : {
            type: 'Sequence',
            pretokenizers: [
              { type: 'Split', pattern: { Regex: this.pattern }, behavior: 'Isolated', invert: false },
              {
                type: 'ByteLevel',
                add_prefix_space: this.addPrefixSpace,
                trim_offsets: true,
                use_regex: false,
              },
            ],
          },
      post_processor: { type: 'ByteLevel', add_prefix_space: true, trim_offsets: false, use_regex: true },
      decoder: { type: 'ByteLevel', add_prefix_space: true, trim_offsets: true, use_regex: true },
      model: {
        type: 'BPE',
        dropout: null,
        unk_token: null,
        continuing_subword_prefix: null,
        end_of_word_suffix: null,
        fuse_unk: false,
        byte_fallback: false,
        ignore_merges: this.ignoreMerges,
        vocab: vocabObj,
        merges: this.merges.map(([l, r]) => [l, r]),
      },
    };
  }

  toJSONString(): string {
    return JSON.stringify(this.toJSON());
  }

  /** Loads a Hugging Face tokenizer.json (byte-level BPE only). Throws ModelFormatError otherwise. */
  static fromJSON(input: string | object): BpeTokenizer {
    let j: Record<string, unknown>;
    try {
      j = (typeof input === 'string' ? JSON.parse(input) : input) as Record<string, unknown>;
    } catch (e) {
      throw new ModelFormatError(`tokenizer.json is not valid JSON: ${(e as Error).message}`);
    }
    if (!j || typeof j !== 'object') throw new ModelFormatError('tokenizer.json must be an object');
    const model = j.model as Record<string, unknown> | undefined;
    if (model?.type !== 'BPE')
      throw new ModelFormatError(
        `tokenizer.json model.type must be "BPE", got ${JSON.stringify(model?.type)}`,
      );
    const vocabObj = model.vocab as Record<string, number> | undefined;
    if (!vocabObj || typeof vocabObj !== 'object')
      throw new ModelFormatError('tokenizer.json model.vocab is missing');
    const vocab = new Map<string, number>();
    for (const [t, id] of Object.entries(vocabObj)) {
      if (!Number.isInteger(id) || id < 0 || id > 1 << 24)
        throw new ModelFormatError(`tokenizer.json model.vocab[${JSON.stringify(t)}] has bad id ${id}`);
      vocab.set(t, id);
    }
    const rawMerges = (model.merges ?? []) as unknown[];
    if (!Array.isArray(rawMerges)) throw new ModelFormatError('tokenizer.json model.merges must be an array');
    const merges: [string, string][] = rawMerges.map((m, i) => {
      if (typeof m === 'string') {
        const sp = m.indexOf(' ', 1);
        if (sp < 0) throw new ModelFormatError(`tokenizer.json model.merges[${i}] is not "left right"`);
        return [m.slice(0, sp), m.slice(sp + 1)];
      }
      if (Array.isArray(m) && m.length === 2 && typeof m[0] === 'string' && typeof m[1] === 'string')
        return [m[0], m[1]];
      throw new ModelFormatError(`tokenizer.json model.merges[${i}] is not a pair`);
    });
    const added: AddedToken[] = [];
    for (const a of (j.added_tokens ?? []) as { id: number; content: string; special?: boolean }[]) {
      if (!Number.isInteger(a?.id) || typeof a?.content !== 'string')
        throw new ModelFormatError('tokenizer.json added_tokens entry needs id and content');
      added.push({ id: a.id, content: a.content, special: a.special ?? true });
    }
    // pre-tokenizer: ByteLevel (GPT-2 regex) or Sequence[Split(Regex), ByteLevel(use_regex=false)]
    let pattern = GPT2_PATTERN;
    let addPrefixSpace = false;
    const pre = j.pre_tokenizer as Record<string, unknown> | null | undefined;
    const visit = (p: Record<string, unknown>) => {
      if (p.type === 'ByteLevel') {
        addPrefixSpace = Boolean(p.add_prefix_space);
        if (p.use_regex !== false) pattern = GPT2_PATTERN;
      } else if (p.type === 'Split') {
        const pat = p.pattern as { Regex?: string; String?: string };
        if (pat?.Regex) pattern = pat.Regex;
        else
          throw new ModelFormatError(
            'tokenizer.json Split pre-tokenizer without a Regex pattern is not supported',
          );
      } else if (p.type === 'Sequence') {
        for (const q of (p.pretokenizers ?? []) as Record<string, unknown>[]) visit(q);
      } else if (p.type !== 'Digits' && p.type !== 'Punctuation') {
        throw new ModelFormatError(
          `tokenizer.json pre_tokenizer type ${String(p.type)} is not supported (byte-level BPE only)`,
        );
      }
    };
    if (pre) visit(pre);
    return new BpeTokenizer(vocab, merges, added, {
      pattern,
      addPrefixSpace,
      ignoreMerges: Boolean(model.ignore_merges),
    });
  }
}

// ---------------------------------------------------------------------------------------------
// Trainer

/** Max-heap of [count, pairKey] with lazy deletion (stale entries are skipped on pop). */
class PairHeap {
  private counts: number[] = [];
  private keys: number[] = [];
  push(count: number, key: number): void {
    const c = this.counts;
    const k = this.keys;
    c.push(count);
    k.push(key);
    let i = c.length - 1;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (c[p] > c[i] || (c[p] === c[i] && k[p] < k[i])) break;
      [c[p], c[i]] = [c[i], c[p]];
      [k[p], k[i]] = [k[i], k[p]];
      i = p;
    }
  }
  pop(): [number, number] | null {
    const c = this.counts;
    const k = this.keys;
    if (!c.length) return null;
    const top: [number, number] = [c[0], k[0]];
    const lc = c.pop()!;
    const lk = k.pop()!;
    if (c.length) {
      c[0] = lc;
      k[0] = lk;
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        const r = l + 1;
        let m = i;
        if (l < c.length && (c[l] > c[m] || (c[l] === c[m] && k[l] < k[m]))) m = l;
        if (r < c.length && (c[r] > c[m] || (c[r] === c[m] && k[r] < k[m]))) m = r;
        if (m === i) break;
        [c[m], c[i]] = [c[i], c[m]];
        [k[m], k[i]] = [k[i], k[m]];
        i = m;
      }
    }
    return top;
  }
}

export interface TrainBpeOptions {
  vocabSize: number;
  /** Added at ids 0.. (e.g. ["<|endoftext|>"]). */
  specialTokens?: string[];
  /** Pairs seen fewer times are not merged. */
  minFrequency?: number;
  onProgress?: (merges: number) => void;
}

/**
 * Trains byte-level BPE: vocabulary = special tokens, the 256 byte symbols, then merges in order of
 * pair frequency over pre-tokenized words (ties broken by the smaller symbol ids), as HF's trainer.
 */
export function trainBpe(texts: Iterable<string>, opts: TrainBpeOptions): BpeTokenizer {
  const specials = opts.specialTokens ?? [];
  const minFreq = opts.minFrequency ?? 2;
  const base = specials.length + 256;
  if (!Number.isInteger(opts.vocabSize) || opts.vocabSize < base || opts.vocabSize > 65535)
    throw new RangeError(`vocabSize must be an integer in ${base}..65535, got ${opts.vocabSize}`);
  const splitter = new RegExp(GPT2_PATTERN, 'gu');
  const wordCounts = new Map<string, number>();
  for (const text of texts) {
    for (const m of text.matchAll(splitter)) {
      const w = toByteLevel(m[0]);
      wordCounts.set(w, (wordCounts.get(w) ?? 0) + 1);
    }
  }
  const symbols: string[] = [];
  const symId = new Map<string, number>();
  for (let b = 0; b < 256; b++) {
    symId.set(BYTE_TO_UNICODE[b], symbols.length);
    symbols.push(BYTE_TO_UNICODE[b]);
  }
  const words: number[][] = [];
  const freqs: number[] = [];
  for (const [w, c] of wordCounts) {
    words.push(Array.from(w, (ch) => symId.get(ch)!));
    freqs.push(c);
  }
  const KEY = 65536;
  const pairCount = new Map<number, number>();
  const pairWords = new Map<number, Set<number>>();
  const addWord = (wi: number, sign: number) => {
    const w = words[wi];
    const f = freqs[wi] * sign;
    for (let i = 0; i < w.length - 1; i++) {
      const key = w[i] * KEY + w[i + 1];
      pairCount.set(key, (pairCount.get(key) ?? 0) + f);
      if (sign > 0) {
        const s = pairWords.get(key);
        if (s) s.add(wi);
        else pairWords.set(key, new Set([wi]));
      }
    }
  };
  for (let wi = 0; wi < words.length; wi++) addWord(wi, 1);
  const heap = new PairHeap();
  for (const [key, c] of pairCount) heap.push(c, key);
  const merges: [string, string][] = [];
  while (symbols.length + specials.length < opts.vocabSize) {
    const top = heap.pop();
    if (!top) break;
    const [count, key] = top;
    if (pairCount.get(key) !== count) continue; // stale
    if (count < minFreq) break;
    const left = Math.floor(key / KEY);
    const right = key % KEY;
    const newId = symbols.length;
    symbols.push(symbols[left] + symbols[right]);
    merges.push([symbols[left], symbols[right]]);
    const touched = new Set<number>();
    for (const wi of pairWords.get(key) ?? []) {
      const w = words[wi];
      for (let i = 0; i < w.length - 1; i++) touched.add(w[i] * KEY + w[i + 1]);
      addWord(wi, -1);
      const next: number[] = [];
      for (let i = 0; i < w.length; i++) {
        if (i < w.length - 1 && w[i] === left && w[i + 1] === right) {
          next.push(newId);
          i++;
        } else next.push(w[i]);
      }
      words[wi] = next;
      addWord(wi, 1);
      for (let i = 0; i < next.length - 1; i++) touched.add(next[i] * KEY + next[i + 1]);
    }
    pairWords.delete(key);
    pairCount.delete(key);
    for (const t of touched) {
      const c = pairCount.get(t);
      if (c) heap.push(c, t);
    }
    if (opts.onProgress && merges.length % 500 === 0) opts.onProgress(merges.length);
  }
  const vocab = new Map<string, number>();
  const added: AddedToken[] = specials.map((s, i) => ({ id: i, content: s, special: true }));
  for (const a of added) vocab.set(a.content, a.id);
  symbols.forEach((s, i) => {
    vocab.set(s, specials.length + i);
  });
  return new BpeTokenizer(vocab, merges, added);
}
